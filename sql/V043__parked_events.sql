-- Poison events parked per order (read-side/projector/poison.cpp): an event the projector failed
-- to apply PROJECTOR_PARK_AFTER times, and every later event of its order that arrived behind it
-- (held: error says so, attempts 0). The projector's checkpoint moves past them; they stay here
-- until `read-side unpark ORDER_ID` applies them in global order and deletes them. The events
-- themselves stay in the event store: unpark reads them from there (repaired or upcast).
CREATE TABLE parked_events (
  order_id text NOT NULL,
  global_position bigint NOT NULL,
  event_id uuid NOT NULL,
  type text NOT NULL,
  version bigint NOT NULL,
  error text NOT NULL,
  attempts int NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, global_position)
);
