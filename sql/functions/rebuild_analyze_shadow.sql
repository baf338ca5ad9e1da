-- After the indexes: statistics, so the planner is right from the first query after the swap.
CREATE OR REPLACE FUNCTION rebuild_analyze_shadow(p_table text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format('ANALYZE %I', p_table || '_shadow');
END
$fn$;
