-- rs_apply_batch had no caller since the group applier (rs_apply_group).
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
