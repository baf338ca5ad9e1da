-- The statement-level NOTIFY trigger on outbox (V010) serialized every commit: pg_notify takes a
-- cluster-wide lock on the notification queue for the whole commit, so concurrent write
-- transactions committed one at a time (measured: 16 pgbench clients 530 tx/s with the trigger,
-- 1,414 without). The write-side wakes its own relay in process; when the leader runs in another
-- replica, that replica's committer sends NOTIFY outbox in a separate, throttled statement after
-- its commit (write-side/outbox_notifier.cpp), outside the data transactions.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
