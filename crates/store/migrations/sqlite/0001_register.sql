-- The temporal population register (DESIGN.md §The register is temporal).
-- Portable SQL: dates are DATE (TEXT 'YYYY-MM-DD' in SQLite), codes are TEXT, enums are TEXT
-- checked against their value lists, so the PostgreSQL migration differs only in identity columns.

-- Areas: canonical significant-prefix codes (renkou_core::area), so "inside area A" is the range
-- code >= A AND code < A' on any table that stores an area code.
CREATE TABLE area (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 6),
    parent_code TEXT REFERENCES area(code)
);
CREATE INDEX area_parent ON area(parent_code);

CREATE TABLE household (
    id           INTEGER PRIMARY KEY,
    household_no TEXT NOT NULL UNIQUE,
    area_code    TEXT NOT NULL REFERENCES area(code)
);
CREATE INDEX household_area ON household(area_code);

CREATE TABLE person (
    id                   INTEGER PRIMARY KEY,
    citizen_id           TEXT UNIQUE,
    name                 TEXT NOT NULL,
    sex                  INTEGER NOT NULL CHECK (sex IN (1, 2)),   -- GB/T 2261.1
    birth_date           DATE NOT NULL,
    ethnicity            TEXT NOT NULL,
    marital_status       TEXT NOT NULL,                             -- GB/T 2261.2 code
    household_id         INTEGER REFERENCES household(id),
    relationship_to_head TEXT
);
CREATE INDEX person_household ON person(household_id);
CREATE INDEX person_name ON person(name);
CREATE INDEX person_birth_date ON person(birth_date);

-- A person is resident at 00:00 of day X iff (valid_from IS NULL OR valid_from < X)
-- AND (valid_to IS NULL OR valid_to >= X): valid_from is the day of arrival, valid_to the day of
-- departure (renkou_core::register::ResidenceEpisode).
CREATE TABLE residence (
    id         INTEGER PRIMARY KEY,
    person_id  INTEGER NOT NULL REFERENCES person(id),
    area_code  TEXT NOT NULL REFERENCES area(code),
    kind       TEXT NOT NULL CHECK (kind IN ('registered', 'inflow', 'outflow')),
    valid_from DATE,
    valid_to   DATE,
    CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX residence_kind_area ON residence(kind, area_code);
CREATE INDEX residence_person ON residence(person_id);

CREATE TABLE marriage (
    id                        INTEGER PRIMARY KEY,
    wife_id                   INTEGER REFERENCES person(id),
    husband_id                INTEGER REFERENCES person(id),
    outside_spouse_name       TEXT,
    outside_spouse_citizen_id TEXT,
    start_date                DATE,
    end_date                  DATE,
    end_reason                TEXT CHECK (end_reason IN ('divorce', 'death')),
    CHECK (wife_id IS NOT NULL OR husband_id IS NOT NULL),
    CHECK (start_date IS NULL OR end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX marriage_wife ON marriage(wife_id);
CREATE INDEX marriage_husband ON marriage(husband_id);

-- The child's birth date and sex live on the child's person row (one place).
CREATE TABLE birth (
    id          INTEGER PRIMARY KEY,
    child_id    INTEGER NOT NULL UNIQUE REFERENCES person(id),
    mother_id   INTEGER REFERENCES person(id),
    father_id   INTEGER REFERENCES person(id),
    birth_order INTEGER CHECK (birth_order IS NULL OR birth_order >= 1),
    policy      TEXT CHECK (policy IN ('compliant', 'noncompliant'))
);
CREATE INDEX birth_mother ON birth(mother_id);

CREATE TABLE death (
    id         INTEGER PRIMARY KEY,
    person_id  INTEGER NOT NULL UNIQUE REFERENCES person(id),
    death_date DATE NOT NULL
);
CREATE INDEX death_date ON death(death_date);
