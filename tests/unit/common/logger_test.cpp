#include "common/log/logger.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

namespace orders::log {
namespace {

// Redirects stderr (fd 2) into a temp file for the lifetime of the object.
class CaptureStderr {
 public:
  CaptureStderr() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  ~CaptureStderr() {
    restore();
    std::fclose(file_);
  }
  std::string text() {
    restore();
    std::fseek(file_, 0, SEEK_SET);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    return out;
  }

 private:
  void restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
  }
  std::FILE* file_;
  int saved_ = -1;
};

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(Logger, OneJsonObjectPerLineWithFixedKeysAndFields) {
  CaptureStderr capture;
  Logger logger("write-side", Level::Info);
  logger.info("request", {{"request_id", "r1"}, {"status", 201}, {"msg", "ignored: reserved"}});
  logger.flush();
  const auto got = lines(capture.text());
  ASSERT_EQ(got.size(), 1u);
  const auto& j = got[0];
  EXPECT_EQ(j.at("level"), "info");
  EXPECT_EQ(j.at("service"), "write-side");
  EXPECT_EQ(j.at("msg"), "request");
  EXPECT_EQ(j.at("request_id"), "r1");
  EXPECT_EQ(j.at("status"), 201);
  const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  EXPECT_TRUE(std::regex_match(j.at("ts").get<std::string>(), rfc3339)) << j.dump();
}

TEST(Logger, LevelFilterDropsLowerLevels) {
  CaptureStderr capture;
  Logger logger("svc", Level::Warn);
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  logger.flush();
  const auto got = lines(capture.text());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].at("level"), "warn");
  EXPECT_EQ(got[1].at("level"), "error");
  EXPECT_FALSE(logger.enabled(Level::Info));
}

TEST(Logger, HostileTextStaysOneValidLine) {
  CaptureStderr capture;
  Logger logger("svc", Level::Debug);
  logger.error("bad \xff utf8\nand a newline", {{"detail", "quote \" backslash \\ \xfe"}});
  const auto got = lines(capture.text());
  ASSERT_EQ(got.size(), 1u);
}

TEST(Logger, WarnAndErrorAreWrittenBeforeTheCallReturnsAndAfterEarlierLines) {
  CaptureStderr capture;
  Logger logger("svc", Level::Info);
  logger.info("buffered");
  logger.warn("urgent");  // no flush: a warn line must survive an exit right after it
  const auto got = lines(capture.text());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].at("msg"), "buffered");
  EXPECT_EQ(got[1].at("msg"), "urgent");
}

TEST(Logger, InfoLinesAreWrittenWhenTheLoggerEnds) {
  CaptureStderr capture;
  {
    Logger logger("svc", Level::Info);
    logger.info("last words", {{"n", 1}});
  }
  const auto got = lines(capture.text());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].at("n"), 1);
}

TEST(Logger, RenderedFieldsAndEscapedStrings) {
  CaptureStderr capture;
  Logger logger("svc", Level::Info);
  std::string fields = "\"id\":";
  append_json_string(fields, "plain-id-1");
  fields += ",\"hostile\":";
  append_json_string(fields, "q\" b\\ \n \xff");
  logger.write_rendered(Level::Info, "request", fields);
  logger.flush();
  const auto got = lines(capture.text());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].at("id"), "plain-id-1");
  EXPECT_EQ(got[0].at("hostile").get<std::string>().substr(0, 7), "q\" b\\ \n");
}

TEST(Logger, ParseLevel) {
  EXPECT_EQ(parse_level("debug"), Level::Debug);
  EXPECT_EQ(parse_level("warn"), Level::Warn);
  EXPECT_EQ(parse_level("error"), Level::Error);
  EXPECT_EQ(parse_level("info"), Level::Info);
  EXPECT_EQ(parse_level("nonsense"), Level::Info);
}

}  // namespace
}  // namespace orders::log
