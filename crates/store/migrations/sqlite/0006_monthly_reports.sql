-- Group leaders' monthly reports (月报) and form input kept across an expired session.
-- Portable SQL as in 0001/0002: months are TEXT 'YYYY-MM', times TEXT 'YYYY-MM-DDTHH:MM:SSZ'.

-- One report per villager group and month: the counts the office's monthly form asks for and a
-- free-text note. Editable while 'submitted'; 'reviewed' (已审核, set by township staff) locks it.
CREATE TABLE monthly_report (
    id           INTEGER PRIMARY KEY,
    group_code   TEXT NOT NULL REFERENCES area(code),
    month        TEXT NOT NULL CHECK (length(month) = 7),
    births       INTEGER NOT NULL CHECK (births >= 0),
    pregnancies  INTEGER NOT NULL CHECK (pregnancies >= 0),
    moves_in     INTEGER NOT NULL CHECK (moves_in >= 0),
    moves_out    INTEGER NOT NULL CHECK (moves_out >= 0),
    deaths       INTEGER NOT NULL CHECK (deaths >= 0),
    notes        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('submitted', 'reviewed')),
    submitted_by TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    reviewed_by  TEXT,
    reviewed_at  TEXT,
    UNIQUE (group_code, month)
);
CREATE INDEX monthly_report_month ON monthly_report(month, group_code);

-- A form posted after its session expired, kept server-side (never in a URL) under a random
-- one-time token until the user logs in again: field names and values as JSON text. `path` is
-- the form's page, `browser_key` the value of a cookie of the browser that posted it, `user_id`
-- the expired session's user when still known. Deleted on use; rows older than `expires_at`
-- are deleted whenever a form is kept.
CREATE TABLE form_stash (
    token       TEXT PRIMARY KEY,
    browser_key TEXT NOT NULL,
    user_id     INTEGER REFERENCES app_user(id) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX form_stash_expires ON form_stash(expires_at);
