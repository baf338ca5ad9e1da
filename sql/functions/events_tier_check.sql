-- (stream_id, version) is unique across both tiers of the event store: each tier's unique index
-- checks its own rows (the archive's per yearly partition), this statement trigger checks the
-- rows a statement inserted against the other tier: a hot row of an archived order (listed in
-- archived_streams, whose primary key keeps a stream in one partition; its events may be
-- dropped since) or an archived row of a version the hot table has. One index probe per row.
-- ws_append_batch skips archived orders before inserting (the stream then fails like any
-- conflict and is re-run on fresh state), so the service's appends never raise here; a raw
-- INSERT does, as 23505.
CREATE OR REPLACE FUNCTION events_tier_check()
RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_clash text;
BEGIN
  IF TG_TABLE_NAME = 'events' THEN
    SELECT n.stream_id || ' version ' || n.version INTO v_clash
      FROM new_rows n JOIN archived_streams a ON a.stream_id = n.stream_id
     LIMIT 1;
  ELSE
    SELECT n.stream_id || ' version ' || n.version INTO v_clash
      FROM new_rows n JOIN events h ON h.stream_id = n.stream_id AND h.version = n.version
     LIMIT 1;
  END IF;
  IF v_clash IS NOT NULL THEN
    RAISE EXCEPTION 'stream % is already in the other tier of the event store', v_clash
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_stream_version';
  END IF;
  RETURN NULL;
END
$fn$;

-- On the partitioned archive (sql/V052): created again whenever this file changes, which V052
-- relies on (it replaced the table the trigger was on).
CREATE OR REPLACE TRIGGER events_tier_check AFTER INSERT ON events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_tier_check();
CREATE OR REPLACE TRIGGER events_archive_tier_check AFTER INSERT ON events_archive
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_tier_check();
