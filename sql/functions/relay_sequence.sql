-- The numbering step of relay_step alone (no hint, nothing to publish): numbers up to p_limit
-- outbox rows and returns how many and the new last_sequenced. For tests and operators; the
-- relay itself calls relay_step.
CREATE OR REPLACE FUNCTION relay_sequence(p_limit integer)
RETURNS TABLE (sequenced bigint, last_sequenced bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY SELECT s.sequenced, s.last_sequenced FROM relay_step(0, 0, p_limit, 0) s;
END
$fn$;
