-- GET /orders without filters no longer reads orders_by_created: it takes the newest of each
-- status' range of orders_by_status (the read-side's rq_list_all). Every non-HOT update of an
-- order (a status change) wrote an entry into each of the table's indexes; one index fewer is
-- one insertion fewer per status change (the projector's most expensive write).
DROP INDEX IF EXISTS orders_by_created;
