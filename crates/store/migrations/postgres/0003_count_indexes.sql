-- PostgreSQL: identical to migrations/sqlite/0003_count_indexes.sql.
-- Indexes for the statistics engine and bulk imports.
-- Both residence indexes cover the columns the count queries read (kind, area, dates, person), so
-- that every count is answered from an index alone and the planner, comparing two covering
-- indexes, picks the one whose leading columns match: (kind, area) for "all episodes of an
-- area", (person, kind) for "this person's episode on a date".
DROP INDEX residence_person;
DROP INDEX residence_person_scope;
DROP INDEX residence_kind_area;
CREATE INDEX residence_kind_area_dates ON residence(kind, area_code, valid_from, valid_to, person_id);
CREATE INDEX residence_person_kind_dates ON residence(person_id, kind, valid_from, valid_to, area_code);
