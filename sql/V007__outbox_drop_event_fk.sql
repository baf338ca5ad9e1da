-- The outbox's foreign key cost one referential-integrity probe per row in every group commit;
-- its only writer (ws_append_batch) inserts exactly the positions it just inserted into events.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_position_fkey;
