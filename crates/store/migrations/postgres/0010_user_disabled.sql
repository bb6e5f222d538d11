-- PostgreSQL translation of migrations/sqlite/0010_user_disabled.sql.
ALTER TABLE app_user ADD COLUMN disabled_at TEXT COLLATE "C";
