-- rebuild-projection (read-side/rebuild): the shadow of table T is T_shadow; the shadow's copy of
-- T's index I is named rebuild_shadow_index_name(I), and the swap renames it back to I (so
-- primary-key and unique constraint names follow). Identifiers are quoted with format('%I').
CREATE OR REPLACE FUNCTION rebuild_shadow_index_name(p_index text) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT left(p_index, 48) || '_shadow'
$fn$;
