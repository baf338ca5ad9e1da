-- global_log is written only by the relay from outbox rows; the per-row foreign-key check was half
-- the cost of sequencing. UNIQUE (position) stays: an event is never numbered twice.
ALTER TABLE global_log DROP CONSTRAINT IF EXISTS global_log_position_fkey;
