-- Room on each page for HOT updates of the read models.
ALTER TABLE orders SET (fillfactor = 80);
ALTER TABLE customer_orders SET (fillfactor = 80);
