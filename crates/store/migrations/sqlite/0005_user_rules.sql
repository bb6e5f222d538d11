-- User rules (自定义校验规则, issue 4 part 5): the TOML rules document of an area (the format of
-- `renkou check --rules FILE`), edited by the township administrator at /check/rules. Every save
-- is a new version (older versions are kept, never updated); the latest version of the nearest
-- enclosing area runs with the built-in catalogue. Saved only when every rule parses and
-- type-checks; each save is also in audit_log (action check.rules.save).
CREATE TABLE user_rules (
    id         INTEGER PRIMARY KEY,
    area_code  TEXT NOT NULL REFERENCES area(code),
    version    INTEGER NOT NULL CHECK (version >= 1),
    body       TEXT NOT NULL,
    saved_by   TEXT NOT NULL,
    saved_at   TEXT NOT NULL,                 -- ISO 8601 UTC, as audit_log.at
    UNIQUE (area_code, version)
);
