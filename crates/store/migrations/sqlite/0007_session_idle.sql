-- Idle timeout of web sessions (renkou_app::auth::IDLE_MINUTES): the time of the last request of a
-- session. NULL (sessions from before this migration) counts as active until the absolute expiry.
ALTER TABLE session ADD COLUMN last_seen TEXT;
