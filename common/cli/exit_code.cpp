#include "common/cli/exit_code.hpp"

#include <pqxx/pqxx>

#include "common/cli/args.hpp"
#include "common/config/settings.hpp"
#include "common/nats/error.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/pool.hpp"
#include "common/pg/sqlstate.hpp"

namespace orders::cli {

int exit_code_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const UsageError&) {
    return kUsage;
  } catch (const config::ConfigError&) {
    return kConfig;
  } catch (const pg::MigrationEdited&) {
    return kConfig;
  } catch (const pg::PoolExhausted&) {
    return kTempFail;
  } catch (const pqxx::broken_connection&) {
    return kUnavailable;
  } catch (const nats::NatsError&) {
    return kUnavailable;
  } catch (const pqxx::transaction_rollback&) {  // serialization failure, deadlock: not sql_error
    return kTempFail;
  } catch (const pqxx::sql_error&) {
    return pg::is_transient(error) ? kTempFail : kSoftware;
  } catch (...) {
    return kSoftware;
  }
}

std::string exit_codes_help() {
  return "  0   ok\n"
         "  1   the command ran and the answer is no: a check failed, a projection lags, an\n"
         "      unpark still fails\n"
         "  64  usage: unknown command or option, missing or malformed argument\n"
         "  65  stored data the command cannot read (a corrupt event)\n"
         "  66  the named thing does not exist (no such order, no parked events)\n"
         "  69  PostgreSQL or NATS unreachable\n"
         "  70  internal error\n"
         "  75  temporary: try again later (no free connection, a rebuild already running)\n"
         "  78  configuration: a bad setting, or an applied migration was edited\n";
}

}  // namespace orders::cli
