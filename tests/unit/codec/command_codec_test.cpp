#include "common/codec/command_codec.hpp"

#include <string>

#include <gtest/gtest.h>

namespace orders::codec {
namespace {

using nlohmann::json;

json body(std::string_view text) {
  auto parsed = parse_body(text, false);
  EXPECT_TRUE(std::holds_alternative<json>(parsed)) << text;
  return std::holds_alternative<json>(parsed) ? std::get<json>(parsed) : json::object();
}

bool body_rejected(std::string_view text) {
  return std::holds_alternative<ValidationError>(parse_body(text, false));
}

TEST(ParseBody, RejectsMalformedAndHostileJson) {
  EXPECT_TRUE(body_rejected("{"));
  EXPECT_TRUE(body_rejected("{\"a\":1"));
  EXPECT_TRUE(body_rejected("[]"));
  EXPECT_TRUE(body_rejected("42"));
  EXPECT_TRUE(body_rejected(""));
  EXPECT_TRUE(body_rejected("{\"a\":1,\"a\":2}"));                  // duplicate key
  EXPECT_TRUE(body_rejected("{\"a\":\"\xff\xfe\"}"));               // bad UTF-8
  EXPECT_TRUE(body_rejected(std::string("{\"a\":\"x\0y\"}", 11)));  // raw NUL
  EXPECT_TRUE(body_rejected(std::string(100000, '[') + std::string(100000, ']')));
  std::string deep = "{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}";
  EXPECT_TRUE(body_rejected(deep));
  EXPECT_TRUE(body_rejected("{\"a\":NaN}"));
  EXPECT_TRUE(body_rejected("{\"a\":1e3088}"));  // found by the fuzzer: number overflow threw
  EXPECT_TRUE(body_rejected("{\"a\":1} trailing"));
}

TEST(ParseBody, EmptyAllowedWhereOptional) {
  EXPECT_TRUE(std::holds_alternative<json>(parse_body("", true)));
  EXPECT_TRUE(std::holds_alternative<json>(parse_body("{}", false)));
}

TEST(CreateOrder, ParsesWithAndWithoutOrderId) {
  auto a = parse_create_order(body(R"({"order_id":"order-1","customer_id":"customer-1"})"));
  ASSERT_TRUE(std::holds_alternative<domain::CreateOrder>(a));
  EXPECT_EQ(std::get<domain::CreateOrder>(a).order_id, "order-1");
  auto b = parse_create_order(body(R"({"customer_id":"customer-1"})"));
  ASSERT_TRUE(std::holds_alternative<domain::CreateOrder>(b));
  EXPECT_EQ(std::get<domain::CreateOrder>(b).order_id, "");
}

TEST(CreateOrder, RejectsBadIds) {
  for (const char* text : {R"({})", R"({"customer_id":""})", R"({"customer_id":5})",
                           R"({"customer_id":"a b"})", R"({"customer_id":"c","order_id":7})",
                           R"({"customer_id":"c","order_id":"x/y"})", R"({"customer_id":null})"}) {
    EXPECT_TRUE(std::holds_alternative<ValidationError>(parse_create_order(body(text)))) << text;
  }
  std::string long_id(129, 'a');
  EXPECT_TRUE(
      std::holds_alternative<ValidationError>(parse_create_order(json{{"customer_id", long_id}})));
}

domain::AddItem add(std::string_view text) {
  auto r = parse_add_item(body(text));
  EXPECT_TRUE(std::holds_alternative<domain::AddItem>(r)) << text;
  return std::holds_alternative<domain::AddItem>(r) ? std::get<domain::AddItem>(r)
                                                    : domain::AddItem{};
}

TEST(AddItem, PricesAreExact) {
  EXPECT_EQ(add(R"({"product_id":"p","quantity":2,"price":10.00})").price, 1000);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":2,"price":10.1})").price, 1010);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":2,"price":"10.10"})").price, 1010);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":2,"price":"10.100"})").price, 1010);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":2,"price":10.100})").price, 1010);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":2,"price":0.29})").price, 29);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":2,"price":15})").price, 1500);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":1,"price":1000000})").price, 100000000);
  EXPECT_EQ(add(R"({"product_id":"p","quantity":1000000,"price":0})").quantity, 1000000);
}

TEST(AddItem, RejectsBadValues) {
  for (const char* text : {
           R"({"product_id":"p","quantity":0,"price":1})",
           R"({"product_id":"p","quantity":-1,"price":1})",
           R"({"product_id":"p","quantity":1.5,"price":1})",
           R"({"product_id":"p","quantity":2.0,"price":1})",
           R"({"product_id":"p","quantity":1000001,"price":1})",
           R"({"product_id":"p","quantity":9223372036854775808,"price":1})",
           R"({"product_id":"p","quantity":18446744073709551615,"price":1})",
           R"({"product_id":"p","quantity":1e300,"price":1})",
           R"({"product_id":"p","quantity":"2","price":1})",
           R"({"product_id":"p","quantity":1,"price":-1})",
           R"({"product_id":"p","quantity":1,"price":"-1"})",
           R"({"product_id":"p","quantity":1,"price":10.001})",
           R"({"product_id":"p","quantity":1,"price":"10.001"})",
           R"({"product_id":"p","quantity":1,"price":"abc"})",
           R"({"product_id":"p","quantity":1,"price":"NaN"})",
           R"({"product_id":"p","quantity":1,"price":1000000.01})",
           R"({"product_id":"p","quantity":1,"price":1e300})",
           R"({"product_id":"p","quantity":1,"price":true})",
           R"({"product_id":"p","quantity":1,"price":null})",
           R"({"product_id":"p","quantity":1})",
           R"({"quantity":1,"price":1})",
           R"({"product_id":"","quantity":1,"price":1})",
           R"({"product_id":["p"],"quantity":1,"price":1})",
       }) {
    EXPECT_TRUE(std::holds_alternative<ValidationError>(parse_add_item(body(text)))) << text;
  }
}

TEST(ShipOrder, NeedsTrackingNumber) {
  EXPECT_TRUE(std::holds_alternative<domain::ShipOrder>(
      parse_ship_order(body(R"({"tracking_number":"TRK123456"})"))));
  EXPECT_TRUE(std::holds_alternative<ValidationError>(parse_ship_order(body(R"({})"))));
  EXPECT_TRUE(std::holds_alternative<ValidationError>(
      parse_ship_order(body(R"({"tracking_number":"a b"})"))));
}

}  // namespace
}  // namespace orders::codec
