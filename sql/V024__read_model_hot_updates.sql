-- Let the projector's updates be HOT (heap-only: no index entry written) as often as possible.
-- * customer_orders_by_customer indexed (customer_id, status) INCLUDE (total_cents), so every
--   event (a status or a total change) wrote a new entry in both customer_orders indexes. Keyed
--   by customer_id alone, only the primary key and this index exist and no projected column
--   change touches them: every customer_orders update can be HOT. GET /customers/{id} reads the
--   customer's rows through it (a heap fetch per order instead of an index-only scan).
-- * fillfactor 50 (was 80): a wave of events touching every order on a page (e.g. many items
--   added) needs room on that page for one new version of each row to stay HOT; the dead
--   versions are pruned on the next visit of the page. Applies to pages written from now on.
DROP INDEX IF EXISTS customer_orders_by_customer;
CREATE INDEX IF NOT EXISTS customer_orders_by_customer ON customer_orders (customer_id);
ALTER TABLE orders SET (fillfactor = 50);
ALTER TABLE customer_orders SET (fillfactor = 50);
