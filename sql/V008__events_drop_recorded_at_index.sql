-- Time travel by time folds the order's events anyway: (stream_id, version) finds the same rows.
DROP INDEX IF EXISTS events_recorded_at;
