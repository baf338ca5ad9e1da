-- The rebuild's compare takes a scope (sql/functions/rebuild_scope.sql): most of it runs before
-- the cutover lock, only the orders that changed since under it. The old signatures go.
DROP FUNCTION IF EXISTS rebuild_table_digest(text, text);
DROP FUNCTION IF EXISTS rebuild_table_diff(text, text, int);
DROP FUNCTION IF EXISTS rebuild_lines_diff(text, int);
