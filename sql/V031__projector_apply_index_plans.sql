-- The projector's apply functions (rs_apply_batch V025, rs_apply_group V026) join the batch's rows
-- (unnest: estimated at a handful) to "orders" / "customer_orders". PL/pgSQL caches a generic plan
-- made while the tables were small; it kept a hash join over a SEQUENTIAL SCAN of the whole table
-- as they grew (auto_explain during read_side_bench's lag run: 4,500-6,000 rows scanned, ~3 ms,
-- for a group of ~10 events; with a million orders every apply would read all of them). Each row
-- of a batch is one primary-key lookup whatever the statistics: no sequential scans, no hash or
-- merge joins inside these functions (as the relay's functions, V013).
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.proname IN ('rs_apply_batch', 'rs_apply_group')
              AND p.pronamespace = 'public'::regnamespace LOOP
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off SET enable_bitmapscan = off '
                   'SET enable_hashjoin = off SET enable_mergejoin = off', f);
  END LOOP;
END
$$;
