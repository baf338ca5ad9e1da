-- Idempotency-Key responses as data: the body's fields (jsonb, without "position") and the store
-- position of the command's last event, which the write-side puts back when it replays the body.
ALTER TABLE idempotency_keys ADD COLUMN body jsonb, ADD COLUMN position bigint;
UPDATE idempotency_keys
   SET body = CASE WHEN jsonb_typeof(response_body::jsonb -> 'position') = 'number'
                   THEN response_body::jsonb - 'position' ELSE response_body::jsonb END,
       position = CASE WHEN jsonb_typeof(response_body::jsonb -> 'position') = 'number'
                       THEN (response_body::jsonb ->> 'position')::bigint END;
ALTER TABLE idempotency_keys ALTER COLUMN body SET NOT NULL, DROP COLUMN response_body;
