-- Room on each page for HOT updates: most projector writes change only non-indexed columns
-- (items, totals, version), so they can stay on the page without touching the indexes.
ALTER TABLE orders SET (fillfactor = 80);
ALTER TABLE customer_orders SET (fillfactor = 80);
