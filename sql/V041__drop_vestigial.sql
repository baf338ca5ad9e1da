-- Left over from the relay's xmin horizon (gone since V015): outbox.xid and its index (never read,
-- written on every commit), relay_sequence_step (only relay_sequence called it), and
-- relay_sequence's always-NULL horizon column (sql/functions/relay_sequence.sql re-creates it).
DROP INDEX IF EXISTS outbox_xid;
ALTER TABLE outbox DROP COLUMN IF EXISTS xid;
DROP FUNCTION IF EXISTS relay_sequence(integer);
DROP FUNCTION IF EXISTS relay_sequence_step(integer);
