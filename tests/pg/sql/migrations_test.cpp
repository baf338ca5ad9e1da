// The migrator against a real PostgreSQL (tests/support shared_pg()): sql/schema.sql is what the
// migrations build; a database of the last release upgrades in place to the same schema;
// checksums refuse an edited applied migration; an edited function file is re-applied alone.
#include "common/pg/migrations.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/pg/sql/schema_dump.hpp"
#include "tests/support/services.hpp"

namespace orders::testing {
namespace {

using pg::apply_migrations;
using pg::embedded_migrations;
using pg::embedded_repeatables;
using pg::migrations_current;

const std::string kSource = ORDERS_SOURCE_DIR;
const std::string kSchemaFile = kSource + "/sql/schema.sql";
const std::string kFixture = kSource + "/tests/pg/sql/fixtures/release_95eb9aa.sql";

std::string migrated_database(const std::string& hint) {
  const std::string url = shared_pg().create_database(hint);
  pqxx::connection conn(url);
  apply_migrations(conn);
  return url;
}

std::string q(const std::string& url, const std::string& sql) {
  return shared_pg().psql(url, sql);
}

TEST(SchemaFile, IsWhatTheMigrationsBuild) {
  const std::string actual = dump_schema(migrated_database("schema_file"));
  if (std::getenv("ORDERS_WRITE_SCHEMA") != nullptr) {
    write_text_file(kSchemaFile, actual);
    return;
  }
  const std::string expected = read_text_file(kSchemaFile);
  EXPECT_TRUE(expected == actual)
      << "sql/schema.sql is stale. Regenerate it with: sql/generate_schema.sh <build dir>\n"
      << unified_diff(expected, actual);
}

TEST(Migrations, ADatabaseOfTheLastReleaseUpgradesInPlaceToTheFreshSchema) {
  const std::string url = shared_pg().create_database("upgrade_95eb9aa");
  q(url, read_text_file(kFixture));
  // Idempotency records in the old form (the whole body as text).
  q(url,
    "INSERT INTO idempotency_keys (key, endpoint, request_hash, status, response_body) VALUES "
    "('k-created', 'POST /orders', 'h1', 201, '{\"order_id\":\"o1\",\"position\":42,"
    "\"version\":1}'), "
    "('k-problem', 'POST /orders/o1/confirm', 'h2', 409, '{\"detail\":\"d\",\"status\":409}')");
  // A projected order whose lines were removed and added again: its items jsonb in the old form.
  q(url,
    "INSERT INTO events (position, event_id, stream_id, version, type, schema_version, data) "
    "VALUES (1, gen_random_uuid(), 'o-up', 1, 'OrderCreated', 1, "
    "'{\"order_id\":\"o-up\",\"customer_id\":\"c\"}'), "
    "(2, gen_random_uuid(), 'o-up', 2, 'OrderItemAdded', 1, "
    "'{\"product_id\":\"a\",\"quantity\":1,\"price\":1.0}'), "
    "(3, gen_random_uuid(), 'o-up', 3, 'OrderItemAdded', 2, "
    "'{\"product_id\":\"b\",\"quantity\":1,\"price_cents\":200}'), "
    "(4, gen_random_uuid(), 'o-up', 4, 'OrderItemRemoved', 1, '{\"product_id\":\"a\"}'), "
    "(5, gen_random_uuid(), 'o-up', 5, 'OrderItemAdded', 2, "
    "'{\"product_id\":\"a\",\"quantity\":2,\"price_cents\":100}')");
  const std::string items =
      "'[{\"product_id\":\"b\",\"quantity\":1,\"price_cents\":200},"
      "{\"product_id\":\"a\",\"quantity\":2,\"price_cents\":100}]'";
  q(url,
    "INSERT INTO orders (order_id, customer_id, status, items, total_cents, item_count, "
    "created_at, version) VALUES ('o-up', 'c', 'Draft', " +
        items +
        ", 400, 2, now(), 5); "
        "INSERT INTO customer_orders (order_id, customer_id, status, items, total_cents, version) "
        "VALUES ('o-up', 'c', 'Draft', " +
        items + ", 400, 5)");
  pqxx::connection conn(url);
  EXPECT_FALSE(migrations_current(conn));

  const auto report = apply_migrations(conn);
  EXPECT_EQ(report.applied, (std::vector<int>{41, 42, 43, 44, 45, 50, 51, 52}));
  // The lines moved to their tables, keyed by the version that created them (as the fold does).
  for (const char* lines : {"order_items", "customer_order_items"}) {
    EXPECT_EQ(q(url, std::string("SELECT string_agg(product_id || ':' || line || ':' || quantity "
                                 "|| ':' || price_cents, ',' ORDER BY line) FROM ") +
                         lines),
              "b:3:1:200,a:5:2:100")
        << lines;
  }
  EXPECT_EQ(report.repeatables.size(), embedded_repeatables().size());
  EXPECT_TRUE(migrations_current(conn));

  const std::string fresh = dump_schema(migrated_database("upgrade_fresh"));
  const std::string upgraded = dump_schema(url);
  EXPECT_TRUE(fresh == upgraded) << unified_diff(fresh, upgraded);

  // The checksums of the current files were adopted for the versions applied before them.
  EXPECT_EQ(q(url, "SELECT count(*) FROM schema_migrations WHERE checksum IS NULL"), "0");
  EXPECT_EQ(q(url, "SELECT checksum FROM schema_migrations WHERE version = 5"),
            embedded_migrations().at(4).checksum);
  EXPECT_EQ(q(url, "SELECT count(*) FROM relay_state"), "1");
  EXPECT_EQ(q(url,
              "SELECT key || ' ' || body::text || ' ' || coalesce(position::text, '-') "
              "FROM idempotency_keys ORDER BY key"),
            "k-created {\"version\": 1, \"order_id\": \"o1\"} 42\n"
            "k-problem {\"detail\": \"d\", \"status\": 409} -");

  const auto again = apply_migrations(conn);
  EXPECT_TRUE(again.applied.empty());
  EXPECT_TRUE(again.repeatables.empty());
}

TEST(Migrations, AnEditedAppliedMigrationIsRefusedNamingTheFile) {
  const std::string url = migrated_database("edited_versioned");
  auto versioned = embedded_migrations();
  const std::string edited_sql = std::string(versioned[4].sql) + "\nSELECT 1;\n";
  versioned[4].sql = edited_sql.c_str();
  versioned[4].checksum = "0000000000000000000000000000000000000000000000000000000000000000";
  versioned.push_back(
      {999, "not_applied", "V999__not_applied.sql", "CREATE TABLE not_applied (x int)", "1111"});

  pqxx::connection conn(url);
  try {
    apply_migrations(conn, versioned, embedded_repeatables());
    FAIL() << "an edited applied migration was accepted";
  } catch (const pg::MigrationEdited& e) {
    EXPECT_NE(std::string(e.what()).find(std::string("sql/") + versioned[4].file),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(q(url, "SELECT to_regclass('not_applied') IS NULL"), "t");
  EXPECT_EQ(q(url, "SELECT count(*) FROM schema_migrations WHERE version = 999"), "0");
  EXPECT_EQ(q(url, "SELECT pg_try_advisory_lock(" + std::to_string(0x6f72646572730001LL) + ")"),
            "t");
}

TEST(Migrations, AnEditedFunctionFileIsReappliedAndOnlyIt) {
  const std::string url = migrated_database("edited_repeatable");
  const std::string file = "functions/rebuild_shadow_index_name.sql";
  auto repeatables = embedded_repeatables();
  auto it = std::find_if(repeatables.begin(), repeatables.end(),
                         [&](const pg::Repeatable& r) { return r.file == file; });
  ASSERT_NE(it, repeatables.end());
  std::string edited_sql = it->sql;
  const auto at = edited_sql.find("'_shadow'");
  ASSERT_NE(at, std::string::npos);
  edited_sql.replace(at, 9, "'_shadow2'");
  it->sql = edited_sql.c_str();
  it->checksum = "edited";
  const std::string others_sql =
      "SELECT string_agg(file || ' ' || checksum || ' ' || applied_at, ',' ORDER BY file) FROM "
      "schema_repeatables WHERE file <> '" +
      file + "'";
  const std::string others = q(url, others_sql);

  pqxx::connection conn(url);
  auto report = apply_migrations(conn, embedded_migrations(), repeatables);
  EXPECT_TRUE(report.applied.empty());
  EXPECT_EQ(report.repeatables, std::vector<std::string>{file});
  EXPECT_EQ(q(url, "SELECT rebuild_shadow_index_name('i')"), "i_shadow2");
  EXPECT_EQ(q(url, "SELECT checksum FROM schema_repeatables WHERE file = '" + file + "'"),
            "edited");
  EXPECT_EQ(q(url, others_sql), others);
  EXPECT_FALSE(migrations_current(conn));  // the embedded file differs from what ran

  report = apply_migrations(conn);  // back to the embedded text
  EXPECT_EQ(report.repeatables, std::vector<std::string>{file});
  EXPECT_EQ(q(url, "SELECT rebuild_shadow_index_name('i')"), "i_shadow");
  EXPECT_TRUE(migrations_current(conn));
}

// A large payload (over the TOAST threshold) is compressed with lz4 (V051), and reads back.
TEST(Migrations, LargeEventPayloadsAreCompressedWithLz4) {
  const auto url = migrated_database("lz4");
  q(url,
    "INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata) "
    "VALUES (gen_random_uuid(), 'lz4-1', 1, 'OrderCreated', 1, '{}', "
    "jsonb_build_object('blob', repeat('metadata ', 4000)))");
  EXPECT_EQ(q(url, "SELECT pg_column_compression(metadata) FROM events WHERE stream_id = 'lz4-1'"),
            "lz4");
  EXPECT_EQ(q(url, "SELECT length(metadata->>'blob') FROM events WHERE stream_id = 'lz4-1'"),
            "36000");
}

// V052 splits the archive by year: what a database archived before it moves into the partition
// of the year the migration runs in, every archived order is listed in archived_streams, and reads
// through all_events and the cross-tier trigger work on the new table.
TEST(Migrations, TheArchiveOfAnOlderVersionMovesIntoTheYearsPartition) {
  const std::string url = shared_pg().create_database("archive_by_year");
  auto older = embedded_migrations();
  older.erase(std::remove_if(older.begin(), older.end(),
                             [](const pg::Migration& m) { return m.version >= 52; }),
              older.end());
  {
    pqxx::connection conn(url);
    apply_migrations(conn, older, {});
  }
  q(url,
    "INSERT INTO events_archive (position, event_id, stream_id, version, type, schema_version, "
    "data, metadata, recorded_at, xid) SELECT p, gen_random_uuid(), 'old-' || (p + 1) / 2, "
    "2 - p % 2, 'OrderCreated', 1, '{}', '{}', now(), '1' FROM generate_series(1, 6) p");
  pqxx::connection conn(url);
  const auto report = apply_migrations(conn);
  EXPECT_EQ(report.applied, std::vector<int>{52});
  EXPECT_TRUE(migrations_current(conn));
  const std::string year = q(url, "SELECT extract(year FROM current_date)");
  EXPECT_EQ(q(url, "SELECT count(*) FROM events_archive_y" + year), "6");
  EXPECT_EQ(q(url,
              "SELECT string_agg(stream_id || ':' || last_version, ',' ORDER BY stream_id) "
              "FROM archived_streams"),
            "old-1:2,old-2:2,old-3:2");
  EXPECT_EQ(q(url, "SELECT count(*) FROM all_events WHERE stream_id = 'old-2'"), "2");
  EXPECT_EQ(q(url, "SELECT to_regclass('events_archive_v045') IS NULL"), "t");
  EXPECT_ANY_THROW(q(url,  // the trigger is on the new table: an archived order takes no hot row
                     "INSERT INTO events (event_id, stream_id, version, type, schema_version, "
                     "data) VALUES (gen_random_uuid(), 'old-1', 3, 'OrderConfirmed', 1, '{}')"));
}

TEST(Migrations, RunningTwiceAppliesNothing) {
  const std::string url = shared_pg().create_database("twice");
  pqxx::connection conn(url);
  const auto first = apply_migrations(conn);
  EXPECT_EQ(first.applied.size(), embedded_migrations().size());
  EXPECT_EQ(first.repeatables.size(), embedded_repeatables().size());
  const std::string bookkeeping_sql =
      "SELECT (SELECT string_agg(version || checksum || applied_at, ',' ORDER BY version) FROM "
      "schema_migrations) || (SELECT string_agg(file || checksum || applied_at, ',' ORDER BY "
      "file) FROM schema_repeatables)";
  const std::string before = q(url, bookkeeping_sql);

  const auto second = apply_migrations(conn);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_TRUE(second.repeatables.empty());
  EXPECT_EQ(q(url, bookkeeping_sql), before);
  EXPECT_TRUE(migrations_current(conn));

  // /readyz counts repeatables: one recorded at another checksum is not current.
  q(url, "UPDATE schema_repeatables SET checksum = 'x' WHERE file = 'functions/relay_step.sql'");
  EXPECT_FALSE(migrations_current(conn));
}

}  // namespace
}  // namespace orders::testing
