-- Disabled users (停用账号, issue 8): the time an administrator disabled the account, NULL while it
-- is active. A disabled user cannot log in (audited login.disabled) and has no live session:
-- disabling deletes the user's sessions, and a session of a disabled user is never valid.
-- Users are disabled, never deleted: the audit log names them.
ALTER TABLE app_user ADD COLUMN disabled_at TEXT;
