-- The end of `write-side archive-drop --year YYYY` (write-side/cli/archive_drop_cli.cpp), one
-- statement and so one transaction: marks the year's archived orders dropped and drops the
-- year's partition of events_archive (their events). The caller has written each order's final
-- snapshot before, so commands and /state still see the orders' last state. Gives up after 5 s
-- waiting for the partition's lock rather than queue every read of all_events behind it.
-- Returns the orders marked (0 when the year was dropped already).
CREATE OR REPLACE FUNCTION ws_archive_drop_year(p_year int)
RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  v_marked bigint;
BEGIN
  PERFORM set_config('lock_timeout', '5s', true);
  UPDATE archived_streams SET dropped_at = now()
   WHERE dropped_at IS NULL
     AND archived_on >= make_date(p_year, 1, 1) AND archived_on < make_date(p_year + 1, 1, 1);
  GET DIAGNOSTICS v_marked = ROW_COUNT;
  EXECUTE format('DROP TABLE IF EXISTS %I', 'events_archive_y' || p_year);
  RETURN v_marked;
END
$fn$;
