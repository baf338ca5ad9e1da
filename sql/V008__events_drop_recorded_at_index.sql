-- events (stream_id, recorded_at) served only time travel by time (GET /orders/{id}/state?at=T),
-- which folds every event of the order up to T anyway: the (stream_id, version) index finds the
-- same rows, filtered on recorded_at. Dropping it saves one text-keyed b-tree insert per appended
-- event on the write path.
DROP INDEX IF EXISTS events_recorded_at;
