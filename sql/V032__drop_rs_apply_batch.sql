-- rs_apply_batch (V025) has had no caller since the group applier: a batch of one partition is a
-- group of one (rs_apply_group, V026). Dropped so the schema holds one apply function.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.proname = 'rs_apply_batch' AND p.pronamespace = 'public'::regnamespace LOOP
    EXECUTE format('DROP FUNCTION %s', f);
  END LOOP;
END
$$;
