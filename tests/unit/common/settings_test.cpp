#include "common/config/settings.hpp"

#include <stdlib.h>

#include <gtest/gtest.h>

namespace orders::config {
namespace {

std::vector<SettingSpec> specs() {
  return {{"T_PORT", "8080", "Port to listen on"},
          {"T_FLAG", "on", "A switch"},
          {"T_TIMEOUT_MS", "250", "A time-out in milliseconds"},
          {"T_TOKEN", "", "A token (empty = off)"}};
}

TEST(Settings, DefaultsApplyWithoutEnvironment) {
  const Settings s(specs());
  EXPECT_EQ(s.integer("T_PORT", 1, 65535), 8080);
  EXPECT_TRUE(s.boolean("T_FLAG"));
  EXPECT_EQ(s.millis("T_TIMEOUT_MS"), std::chrono::milliseconds(250));
  EXPECT_EQ(s.str("T_TOKEN"), "");
}

TEST(Settings, OneOfAcceptsListedValuesAndNamesTheSettingOtherwise) {
  Settings s(specs());
  s.set("T_TOKEN", "info");
  EXPECT_EQ(s.one_of("T_TOKEN", {"debug", "info"}), "info");
  s.set("T_TOKEN", "loud");
  try {
    s.one_of("T_TOKEN", {"debug", "info"});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("T_TOKEN must be one of debug, info"), std::string::npos)
        << e.what();
  }
}

TEST(Settings, EnvironmentOverridesDefaults) {
  ::setenv("T_PORT", " 9090 ", 1);
  ::setenv("T_FLAG", "OFF", 1);
  const Settings s = Settings::from_env(specs());
  ::unsetenv("T_PORT");
  ::unsetenv("T_FLAG");
  EXPECT_EQ(s.integer("T_PORT", 1, 65535), 9090);
  EXPECT_FALSE(s.boolean("T_FLAG"));
}

TEST(Settings, SetOverridesAndUnknownNamesFail) {
  Settings s(specs());
  s.set("T_PORT", "1");
  EXPECT_EQ(s.integer("T_PORT", 1, 65535), 1);
  EXPECT_THROW(s.set("NOPE", "1"), ConfigError);
  EXPECT_THROW((void)s.str("NOPE"), ConfigError);
}

TEST(Settings, BooleanSpellings) {
  Settings s(specs());
  for (const char* v : {"1", "true", "TRUE", "yes", "on", "On"}) {
    s.set("T_FLAG", v);
    EXPECT_TRUE(s.boolean("T_FLAG")) << v;
  }
  for (const char* v : {"0", "false", "no", "off", "OFF"}) {
    s.set("T_FLAG", v);
    EXPECT_FALSE(s.boolean("T_FLAG")) << v;
  }
  s.set("T_FLAG", "maybe");
  EXPECT_THROW((void)s.boolean("T_FLAG"), ConfigError);
}

TEST(Settings, MalformedIntegersNameTheVariable) {
  Settings s(specs());
  for (const char* v : {"", "abc", "80x", "1.5", "99999999999999999999", "--1"}) {
    s.set("T_PORT", v);
    try {
      (void)s.integer("T_PORT", 1, 65535);
      ADD_FAILURE() << "accepted '" << v << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("T_PORT"), std::string::npos) << e.what();
    }
  }
}

TEST(Settings, RangeIsChecked) {
  Settings s(specs());
  s.set("T_PORT", "0");
  EXPECT_THROW((void)s.integer("T_PORT", 1, 65535), ConfigError);
  s.set("T_PORT", "65536");
  EXPECT_THROW((void)s.integer("T_PORT", 1, 65535), ConfigError);
  s.set("T_PORT", "+65535");
  EXPECT_EQ(s.integer("T_PORT", 1, 65535), 65535);
  s.set("T_TIMEOUT_MS", "-1");
  EXPECT_THROW((void)s.millis("T_TIMEOUT_MS"), ConfigError);
}

TEST(Settings, DuplicateDeclarationFails) {
  EXPECT_THROW(Settings({{"A", "1", "x"}, {"A", "2", "y"}}), ConfigError);
}

TEST(Settings, HelpTextListsEverySettingWithDefaultAndHelp) {
  const Settings s(specs());
  const std::string help = s.help_text();
  EXPECT_NE(help.find("T_PORT"), std::string::npos);
  EXPECT_NE(help.find("(default 8080)"), std::string::npos);
  EXPECT_NE(help.find("Port to listen on"), std::string::npos);
  EXPECT_NE(help.find("(default empty)"), std::string::npos);
  EXPECT_NE(help.find("A time-out in milliseconds"), std::string::npos);
  // One line per setting, in declaration order.
  EXPECT_EQ(std::count(help.begin(), help.end(), '\n'), 4);
  EXPECT_LT(help.find("T_PORT"), help.find("T_FLAG"));
}

}  // namespace
}  // namespace orders::config
