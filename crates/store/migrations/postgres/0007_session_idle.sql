-- PostgreSQL translation of migrations/sqlite/0007_session_idle.sql.
ALTER TABLE session ADD COLUMN last_seen TEXT COLLATE "C";
