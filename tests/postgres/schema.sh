#!/usr/bin/env bash
# PostgreSQL check of CI (issue 9, step 1): starts the installed cluster, applies every file of
# crates/store/migrations/postgres in order to a throw-away database, each in one transaction
# with ON_ERROR_STOP, and checks that it holds the same tables, columns and named indexes as
# the SQLite migrations (crates/store/migrations/sqlite). The store does not run on
# PostgreSQL yet (docs/postgres-plan.md, steps 2-7); until then this is what CI can prove.
# Without PostgreSQL it says SKIPPED and succeeds; RENKOU_CI_REQUIRE_PG=1 makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
skip() {
  echo "PostgreSQL: SKIPPED ($1); the SQLite suite passed"
  if [ "${RENKOU_CI_REQUIRE_PG:-0}" = 1 ]; then exit 1; fi
  exit 0
}
command -v pg_ctlcluster >/dev/null || skip "PostgreSQL is not installed"
pg_ctlcluster 15 main start 2>/dev/null || true
psql_pg() { if [ "$(id -un)" = postgres ]; then psql -X "$@"; else su postgres -c "psql -X $(printf '%q ' "$@")"; fi; }
for _ in 1 2 3 4 5 6 7 8 9 10; do psql_pg -qtc 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
psql_pg -qtc 'SELECT 1' >/dev/null 2>&1 || skip "PostgreSQL 15 did not start (see /var/log/postgresql/postgresql-15-main.log)"

db="renkou_ci_schema_$$"
# ICU collation where the cluster offers it: a locale collation shows byte-order bugs that the
# cluster's default C.UTF-8 would hide (area-code range scans need COLLATE "C").
if psql_pg -qtAc "SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu'" | grep -q 1; then
  psql_pg -q -c "CREATE DATABASE $db TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'"
else
  psql_pg -q -c "CREATE DATABASE $db TEMPLATE template0"
fi
trap 'psql_pg -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
for f in crates/store/migrations/postgres/*.sql; do
  psql_pg -q -v ON_ERROR_STOP=1 --single-transaction -d "$db" -f /dev/stdin < "$f" >/dev/null || { echo "PostgreSQL: $f failed"; exit 1; }
done

# Tables and named indexes the SQLite migrations leave, from their text, in order: created
# minus dropped.
names() {
  cat crates/store/migrations/"$1"/*.sql | tr -s ' \t\n' ' ' | grep -oiE "(create (unique )?(table|index)|drop (table|index)) (if (not )?exists )?\"?[a-z_]+" |
    awk '{n = tolower($NF); gsub(/"/, "", n); if (tolower($1) == "drop") delete have[n]; else have[n] = 1} END {for (n in have) print n}' | sort -u
}
want=$(names sqlite)
got=$( (psql_pg -qtA -d "$db" -c "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'"
        psql_pg -qtA -d "$db" -c "SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename <> '_sqlx_migrations'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)") | sort -u)
if [ "$want" != "$got" ]; then
  echo "PostgreSQL: tables or indexes differ from the SQLite migrations:"
  diff <(echo "$want") <(echo "$got") || true
  exit 1
fi
# Every text column byte-ordered (COLLATE "C"), every integer BIGINT.
bad=$(psql_pg -qtA -d "$db" -c "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(collation_name, '') FROM information_schema.columns
  WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' AND ((data_type = 'text' AND coalesce(collation_name, '') <> 'C') OR data_type IN ('integer', 'smallint'))")
if [ -n "$bad" ]; then
  echo "PostgreSQL: columns without COLLATE \"C\" or narrower than BIGINT:"; echo "$bad"; exit 1
fi
n=$(echo "$want" | wc -l)
echo "PostgreSQL: the migrations apply and match SQLite's $n tables and indexes"
