-- The relay numbers every committed outbox row without an xmin horizon (sql/functions/relay_step.sql).
DROP FUNCTION IF EXISTS relay_horizon();
