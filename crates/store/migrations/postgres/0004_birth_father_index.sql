-- PostgreSQL: identical to migrations/sqlite/0004_birth_father_index.sql.
-- Births by father (the logic checks read a father's children: renkou_store::facts). Without it
-- every batch of snapshots scanned the birth table (issue 4: 3 s -> see benches/check.rs).
CREATE INDEX birth_father ON birth(father_id);
