-- (stream_id, version) is unique across both tiers of the event store: each tier's unique index
-- checks its own rows, this statement trigger checks the rows a statement inserted against the
-- other tier (one index probe per row). ws_append_batch skips a version the archive has before
-- inserting (the stream then fails like any conflict and is re-run on fresh state), so the
-- service's appends never raise here; a raw INSERT of an archived version does, as 23505.
CREATE OR REPLACE FUNCTION events_tier_check()
RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_clash text;
BEGIN
  IF TG_TABLE_NAME = 'events' THEN
    SELECT n.stream_id || ' version ' || n.version INTO v_clash
      FROM new_rows n JOIN events_archive a ON a.stream_id = n.stream_id AND a.version = n.version
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

CREATE OR REPLACE TRIGGER events_tier_check AFTER INSERT ON events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_tier_check();
CREATE OR REPLACE TRIGGER events_archive_tier_check AFTER INSERT ON events_archive
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_tier_check();
