-- Users, sessions, login attempts and the audit log (issue 3), and the pinyin initials of names.
-- Portable SQL as in 0001: times are TEXT 'YYYY-MM-DDTHH:MM:SSZ' (UTC, ISO 8601), so they sort.

-- An office user. `role` is one of the roles of renkou_app::auth::Role; `area_code` is the area
-- the user is responsible for (township, village or group): every person query is scoped to it.
CREATE TABLE app_user (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,                 -- PHC string, Argon2id
    role          TEXT NOT NULL CHECK (role IN ('township_admin', 'township_staff', 'village_specialist', 'group_leader', 'leader')),
    area_code     TEXT NOT NULL REFERENCES area(code),
    display_name  TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);

-- A login session: the cookie holds `id` (random, 256 bits); forms carry `csrf_token`.
CREATE TABLE session (
    id         TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX session_user ON session(user_id);

-- Failed (and successful) logins, for rate limiting per username and remote address.
CREATE TABLE login_attempt (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    at          TEXT NOT NULL,
    success     INTEGER NOT NULL CHECK (success IN (0, 1))
);
CREATE INDEX login_attempt_key ON login_attempt(username, remote_addr, at);

-- Who read or changed what, when, from where, with the old and new value (JSON text).
-- Never updated or deleted by the application.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    username    TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT,
    area_code   TEXT,
    remote_addr TEXT,
    old_value   TEXT,
    new_value   TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_user ON audit_log(username, at);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id);

-- Pinyin initials of the name (张伟 → zhw), filled by the app (renkou_app::persons), so that a
-- search for `zhw` is an index range scan.
ALTER TABLE person ADD COLUMN name_initials TEXT;
CREATE INDEX person_name_initials ON person(name_initials);
-- "Is this person inside the caller's scope?" (every person query): one covering-index probe
-- per candidate person instead of a scan of the scope's residence episodes.
CREATE INDEX residence_person_scope ON residence(person_id, kind, area_code);
