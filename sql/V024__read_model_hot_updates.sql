-- Every customer_orders update can be HOT: its second index holds customer_id alone, which no
-- projected change touches; fillfactor 50 leaves room for a new version of each row on its page.
DROP INDEX IF EXISTS customer_orders_by_customer;
CREATE INDEX IF NOT EXISTS customer_orders_by_customer ON customer_orders (customer_id);
ALTER TABLE orders SET (fillfactor = 50);
ALTER TABLE customer_orders SET (fillfactor = 50);
