-- The outbox's foreign key to events ran one referential-integrity query (an index probe and a
-- row lock on the event) per outbox row, inside every group-commit transaction. Its only writer is
-- ws_append_batch (V005/V006), which inserts exactly the positions its own events INSERT returned
-- and dropped, in the same statement; events are never deleted otherwise. The primary key on
-- outbox (position) stays. relay_sequence (V010) joins outbox to events, so a row without an event
-- could never be published.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_position_fkey;
