-- PostgreSQL translation of migrations/sqlite/0009_audit_persons_read.sql. BIGINT: note that
-- SUM(bigint) is NUMERIC in PostgreSQL, so Store::bulk_readers must CAST(SUM(...) AS BIGINT).
ALTER TABLE audit_log ADD COLUMN persons_read BIGINT NOT NULL DEFAULT 0;
