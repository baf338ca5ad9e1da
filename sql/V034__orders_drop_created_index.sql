-- GET /orders without filters reads orders_by_status; one index fewer per status change.
DROP INDEX IF EXISTS orders_by_created;
