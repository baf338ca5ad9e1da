#!/bin/sh
# Regenerates sql/schema.sql (the schema a fresh database has after every migration, as
# normalized pg_dump text) with the sql.schema test binary of BUILD_DIR.
set -eu
build=${1:?usage: sql/generate_schema.sh BUILD_DIR}
cmake --build "$build" --target sql_migrations_test
ORDERS_WRITE_SCHEMA=1 "$build/tests/pg/sql/sql_migrations_test" --gtest_filter='SchemaFile.*'
echo "wrote $(dirname "$0")/schema.sql"
