-- The highest position of `events` recorded before p_cutoff_us (microseconds since the epoch),
-- found by binary search over the primary key (positions are handed out in recorded_at order up
-- to the commit window, which is nothing next to an archiving age of hours or days): bounds the
-- scans of ws_archive_batch so that they never read the recent part of the table. 0 when none.
CREATE OR REPLACE FUNCTION ws_archive_horizon(p_cutoff_us bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_cutoff timestamptz := 'epoch'::timestamptz + p_cutoff_us * interval '1 microsecond';
  v_lo  bigint;
  v_hi  bigint;
  v_mid bigint;
  v_pos bigint;
  v_at  timestamptz;
BEGIN
  SELECT e.position INTO v_lo FROM events e ORDER BY e.position LIMIT 1;
  SELECT e.position INTO v_hi FROM events e ORDER BY e.position DESC LIMIT 1;
  IF v_lo IS NULL THEN
    RETURN 0;
  END IF;
  v_lo := v_lo - 1;  -- invariant: every position <= v_lo is old; the answer is in [v_lo, v_hi]
  WHILE v_lo < v_hi LOOP
    v_mid := v_lo + (v_hi - v_lo + 1) / 2;
    SELECT e.position, e.recorded_at INTO v_pos, v_at FROM events e
     WHERE e.position >= v_mid ORDER BY e.position LIMIT 1;
    IF v_at < v_cutoff THEN
      v_lo := v_pos;
    ELSE
      v_hi := v_mid - 1;
    END IF;
  END LOOP;
  RETURN v_lo;
END
$fn$;
