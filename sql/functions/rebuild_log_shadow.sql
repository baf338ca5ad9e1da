-- After the COPY and before the indexes (SET LOGGED rewrites the table and every index on it):
-- a shadow loaded UNLOGGED is made LOGGED, so the swap is crash-safe.
CREATE OR REPLACE FUNCTION rebuild_log_shadow(p_table text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_shadow text := p_table || '_shadow';
BEGIN
  IF (SELECT relpersistence FROM pg_class WHERE oid = v_shadow::regclass) = 'u' THEN
    EXECUTE format('ALTER TABLE %I SET LOGGED', v_shadow);
  END IF;
END
$fn$;
