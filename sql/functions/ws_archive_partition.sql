-- The partition of events_archive for the year of p_day (events_archive_y<YYYY>), created when
-- missing; returns its name. Called by every moving ws_archive_batch, so it runs once a year in
-- effect: creating a partition locks the parent, which every read of all_events also takes, so
-- it gives up after 2 s rather than queue those reads behind a long-running one (the batch then
-- fails and the next run creates it).
CREATE OR REPLACE FUNCTION ws_archive_partition(p_day date)
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
  v_year int := extract(year FROM p_day)::int;
  v_name text := 'events_archive_y' || v_year;
BEGIN
  IF to_regclass(v_name) IS NULL THEN
    PERFORM set_config('lock_timeout', '2s', true);
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF events_archive '
                   'FOR VALUES FROM (%L) TO (%L)',
                   v_name, make_date(v_year, 1, 1), make_date(v_year + 1, 1, 1));
  END IF;
  RETURN v_name;
END
$fn$;
