CREATE OR REPLACE FUNCTION rebuild_drop_shadow(p_table text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format('DROP TABLE IF EXISTS %I', p_table || '_shadow');
END
$fn$;
