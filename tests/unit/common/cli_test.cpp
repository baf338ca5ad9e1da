// The command-line frame of both binaries: argument parsing, --help / --version, and the one
// exit-code scheme (common/cli).
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/cli/args.hpp"
#include "common/cli/exit_code.hpp"
#include "common/cli/program.hpp"
#include "common/nats/error.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/pool.hpp"
#include "common/version/build_info.hpp"

namespace orders::cli {
namespace {

CommandSpec events_spec() {
  CommandSpec s;
  s.name = "events";
  s.summary = "print events";
  s.positionals = {"ORDER_ID"};
  s.options = {{"--from-version", "N", "start"}, {"--json", "", "json"}};
  return s;
}

TEST(CliArgs, FlagsOptionsAndPositionals) {
  const auto a = parse_args(events_spec(), {"o-1", "--from-version", "3", "--json"});
  EXPECT_EQ(a.positional(0), "o-1");
  EXPECT_TRUE(a.flag("--json"));
  EXPECT_EQ(a.integer("--from-version", 1, 1, 100), 3);
  const auto b = parse_args(events_spec(), {"--from-version=7", "o-2"});
  EXPECT_EQ(b.integer("--from-version", 1, 1, 100), 7);
  EXPECT_FALSE(b.flag("--json"));
  EXPECT_EQ(parse_args(events_spec(), {"o-3"}).integer("--from-version", 1, 1, 100), 1);
  // "--" ends the options: an order id may start with '-'.
  EXPECT_EQ(parse_args(events_spec(), {"--", "-odd"}).positional(0), "-odd");
}

TEST(CliArgs, AnythingUndeclaredOrMalformedIsAUsageError) {
  const std::vector<std::vector<std::string>> bad = {
      {},                           // missing ORDER_ID
      {"o-1", "o-2"},               // extra positional
      {"o-1", "--frobnicate"},      // unknown option
      {"o-1", "--from-version"},    // missing value
      {"o-1", "--json=yes"},        // a flag with a value
      {"o-1", "--json", "--json"},  // twice
  };
  for (const auto& args : bad) EXPECT_THROW(parse_args(events_spec(), args), UsageError);
  for (const char* v : {"x", "0", "-1", "3.5", "", "99999999999999999999"}) {
    const auto a = parse_args(events_spec(), {"o-1", std::string("--from-version=") + v});
    EXPECT_THROW(a.integer("--from-version", 1, 1, 1000), UsageError) << v;
  }
}

TEST(CliArgs, NumbersAndVariadicPositionals) {
  CommandSpec s;
  s.name = "projections";
  s.positionals = {"NAME..."};
  s.variadic = true;
  s.options = {{"--max-lag-seconds", "S", ""}};
  EXPECT_TRUE(parse_args(s, {}).positionals().empty());
  EXPECT_EQ(parse_args(s, {"a", "b"}).positionals().size(), 2u);
  EXPECT_DOUBLE_EQ(
      parse_args(s, {"--max-lag-seconds", "2.5"}).number("--max-lag-seconds", 30, 0, 1e9), 2.5);
  for (const char* v : {"-1", "nan", "inf", "1e99", "two"}) {
    EXPECT_THROW(parse_args(s, {"--max-lag-seconds", v}).number("--max-lag-seconds", 30, 0, 1e9),
                 UsageError)
        << v;
  }
}

struct CliResult {
  int code;
  std::string out, err;
};

class CliProgram : public ::testing::Test {
 protected:
  Program program() {
    Command events{events_spec(), [this](const Invocation& in) {
                     ++runs;
                     in.out << "ran " << in.args.positional(0) << " " << in.settings.str("LIMIT")
                            << "\n";
                     return in.settings.integer("LIMIT", 0, 10) > 5 ? kCheckFailed : kOk;
                   }};
    CommandSpec fail_spec;
    fail_spec.name = "fail";
    Command fail{fail_spec, [this](const Invocation&) -> int {
                   ++runs;
                   throw std::runtime_error(what);
                 }};
    CommandSpec broken_spec;
    broken_spec.name = "unreachable";
    Command broken{broken_spec, [](const Invocation&) -> int {
                     throw pqxx::broken_connection("connection refused");
                   }};
    return {"prog", "a test program", {{"LIMIT", "3", "a limit"}}, {events, fail, broken}};
  }
  CliResult run(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    const int code = run_program(program(), args, out, err);
    return {code, out.str(), err.str()};
  }
  int runs = 0;
  std::string what = "boom";
};

TEST_F(CliProgram, HelpAndVersionPrintAndRunNothing) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"-h"},
                                             {"help"},
                                             {"events", "--help"},
                                             {"events", "o-1", "-h"},
                                             {"events", "--frobnicate", "--help"},
                                             {"fail", "--help"}}) {
    const auto r = run(args);
    EXPECT_EQ(r.code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
  }
  EXPECT_EQ(runs, 0);
  EXPECT_NE(run({"--help"}).out.find("LIMIT"), std::string::npos);           // settings, defaults
  EXPECT_NE(run({"--help"}).out.find("69  PostgreSQL"), std::string::npos);  // exit codes
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--version"}, {"version"}, {"events", "--version"}}) {
    const auto r = run(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out, std::string("prog ") + version::release() + " (revision " +
                         version::revision() + ")\n");
  }
  EXPECT_EQ(runs, 0);
}

TEST_F(CliProgram, ExitCodes) {
  EXPECT_EQ(run({"events", "o-1"}).code, kOk);
  EXPECT_EQ(run({}).code, kUsage);  // the default command without its ORDER_ID
  EXPECT_EQ(run({"nope"}).code, kUsage);
  EXPECT_EQ(run({"events", "o-1", "--frobnicate"}).code, kUsage);
  EXPECT_NE(run({"events", "o-1", "--frobnicate"}).err.find("Usage: prog events ORDER_ID"),
            std::string::npos);
  EXPECT_EQ(run({"fail"}).code, kSoftware);
  EXPECT_NE(run({"fail"}).err.find("prog fail: boom"), std::string::npos);
  EXPECT_EQ(run({"unreachable"}).code, kUnavailable);
  setenv("LIMIT", "7", 1);
  EXPECT_EQ(run({"events", "o-1"}).code, kCheckFailed);
  setenv("LIMIT", "many", 1);
  EXPECT_EQ(run({"events", "o-1"}).code, kConfig);
  unsetenv("LIMIT");
}

template <typename E>
int code_of(E e) {
  return exit_code_of(std::make_exception_ptr(e));
}

TEST(CliExitCode, EachFailureKindHasItsCode) {
  EXPECT_EQ(code_of(UsageError("x")), 64);
  EXPECT_EQ(code_of(config::ConfigError("x")), 78);
  EXPECT_EQ(code_of(pg::MigrationEdited("x")), 78);
  EXPECT_EQ(code_of(pg::PoolExhausted("x")), 75);
  EXPECT_EQ(code_of(pqxx::broken_connection("x")), 69);
  EXPECT_EQ(code_of(nats::NatsError("x", 1)), 69);
  EXPECT_EQ(code_of(pqxx::serialization_failure("x")), 75);
  EXPECT_EQ(code_of(pqxx::deadlock_detected("x")), 75);
  EXPECT_EQ(code_of(pqxx::sql_error("x", "", "57014")), 75);  // statement timeout
  EXPECT_EQ(code_of(pqxx::sql_error("x", "", "42P01")), 70);
  EXPECT_EQ(code_of(std::runtime_error("x")), 70);
}

}  // namespace
}  // namespace orders::cli
