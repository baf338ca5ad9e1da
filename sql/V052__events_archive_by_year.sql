-- The archive tier split by the year an order was archived in (docs/storage.md), so that old
-- history is removed by dropping a partition (`write-side archive-drop --year YYYY`) instead of
-- by DELETE. No append ever writes the archive, so its keys include the partition key and each
-- partition's indexes are exact for its rows; across partitions, `archived_streams` (one row per
-- archived order, primary key stream_id) keeps a stream in exactly one partition, and it is what
-- the append path and the cross-tier trigger probe (one index, however many years are kept).
CREATE TABLE archived_streams (
  stream_id    text        PRIMARY KEY,
  archived_on  date        NOT NULL,   -- selects the partition of events_archive holding it
  last_version bigint      NOT NULL,
  dropped_at   timestamptz             -- its partition was dropped: events gone, final snapshot kept
);
CREATE INDEX archived_streams_archived_on ON archived_streams (archived_on);

DROP VIEW all_events;
ALTER TABLE events_archive RENAME TO events_archive_v045;
ALTER TABLE events_archive_v045 RENAME CONSTRAINT events_archive_pkey TO events_archive_v045_pkey;
ALTER TABLE events_archive_v045 RENAME CONSTRAINT events_archive_event_id_key
  TO events_archive_v045_event_id_key;
ALTER TABLE events_archive_v045 RENAME CONSTRAINT events_archive_stream_version
  TO events_archive_v045_stream_version;

CREATE TABLE events_archive (
  position bigint NOT NULL,
  event_id uuid NOT NULL,
  stream_id text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  type text NOT NULL,
  schema_version integer NOT NULL,
  data jsonb COMPRESSION lz4 NOT NULL,
  metadata jsonb COMPRESSION lz4 NOT NULL,
  recorded_at timestamptz NOT NULL,
  xid xid8 NOT NULL,
  archived_on date NOT NULL,
  CONSTRAINT events_archive_pkey PRIMARY KEY (position, archived_on),
  CONSTRAINT events_archive_event_id_key UNIQUE (event_id, archived_on),
  CONSTRAINT events_archive_stream_version UNIQUE (stream_id, version, archived_on)
) PARTITION BY RANGE (archived_on);

-- What was archived before this migration goes into the partition of the year it runs in (a
-- fresh database gets no partition here: the first archive run creates its year's).
DO $$
DECLARE
  v_year int := extract(year FROM current_date)::int;
BEGIN
  IF EXISTS (SELECT 1 FROM events_archive_v045) THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF events_archive FOR VALUES FROM (%L) TO (%L)',
                   'events_archive_y' || v_year, make_date(v_year, 1, 1),
                   make_date(v_year + 1, 1, 1));
    INSERT INTO events_archive (position, event_id, stream_id, version, type, schema_version,
                                data, metadata, recorded_at, xid, archived_on)
    SELECT position, event_id, stream_id, version, type, schema_version, data, metadata,
           recorded_at, xid, current_date
      FROM events_archive_v045 ORDER BY position;
    INSERT INTO archived_streams (stream_id, archived_on, last_version)
    SELECT stream_id, current_date, max(version) FROM events_archive_v045 GROUP BY stream_id;
  END IF;
END
$$;
DROP TABLE events_archive_v045;

CREATE VIEW all_events AS
  SELECT position, event_id, stream_id, version, type, schema_version, data, metadata,
         recorded_at, xid FROM events
  UNION ALL
  SELECT position, event_id, stream_id, version, type, schema_version, data, metadata,
         recorded_at, xid FROM events_archive;
