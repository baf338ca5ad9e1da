// The operator subcommands over parked events: `read-side parked [--json]` lists them,
// `read-side unpark ORDER_ID` retries one order's (after a fix). Exit codes: 0 done, 1 failure
// (unknown order, still failing, database error), 2 bad arguments.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace orders::read_side::parking {

int parked_main(const std::string& database_url, const std::vector<std::string>& args,
                std::ostream& out, std::ostream& err);
int unpark_main(const std::string& database_url, const std::vector<std::string>& args,
                std::ostream& out, std::ostream& err);
std::string parked_usage();
std::string unpark_usage();

}  // namespace orders::read_side::parking
