-- The live projector writes every index entry of "orders" again on each non-HOT update, and every
-- status change is one (status is indexed). orders_by_customer_status was the fifth index and
-- the second holding status: GET /orders?customer_id=&status= now reads the customer's orders
-- through orders_by_customer (newest first, as the keyset needs) and filters the status; one
-- customer's orders are few. Measured with read_side_bench --projector-only: the projector's
-- Postgres CPU per event 34 -> 29 us.
DROP INDEX IF EXISTS orders_by_customer_status;
