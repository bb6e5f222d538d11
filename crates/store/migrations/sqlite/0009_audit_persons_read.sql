-- How many persons' data an audit entry showed (1 for a person page, the number of rows of a
-- search, drill-down list or export; 0 for changes and logins): the audit page flags users who
-- read more persons in an hour than a threshold (renkou_app::audit::bulk_readers, PIPL).
ALTER TABLE audit_log ADD COLUMN persons_read INTEGER NOT NULL DEFAULT 0;
