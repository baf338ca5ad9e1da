-- A NOTIFY trigger on outbox serialized every commit (pg_notify's queue lock is held through
-- commit); the write-side wakes the relay itself (write-side/relay/outbox_notifier).
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
