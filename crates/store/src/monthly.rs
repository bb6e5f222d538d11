//! Group leaders' monthly reports (月报, migration 0006): one row per villager group and month,
//! and the register's events of a group in a month to compare them with. The store keeps rows;
//! the app decides who may read, write and review them.

use crate::db::{self, DbRow};
use chrono::NaiveDate;
use renkou_core::area::{Area, AreaCode, AreaLevel};

use crate::day::{ends_on, ends_within, event_area, in_scope, starts_on, starts_within};
use crate::{area_of, Result, Store};

/// A stored monthly report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MonthlyReportRow {
    /// Canonical code of the villager group (15 digits).
    pub group_code: String,
    /// `YYYY-MM`.
    pub month: String,
    /// 出生.
    pub births: i64,
    /// 怀孕.
    pub pregnancies: i64,
    /// 迁入.
    pub moves_in: i64,
    /// 迁出.
    pub moves_out: i64,
    /// 死亡.
    pub deaths: i64,
    /// 备注 (free text).
    pub notes: String,
    /// `submitted` (editable) or `reviewed` (已审核, locked).
    pub status: String,
    /// Username of the last writer.
    pub submitted_by: String,
    /// Time of the last write, ISO 8601 UTC.
    pub submitted_at: String,
    /// Username of the reviewer.
    pub reviewed_by: Option<String>,
    /// Time of the review, ISO 8601 UTC.
    pub reviewed_at: Option<String>,
}

/// One event of the register in a group and month (for comparison with the reported counts).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupEventRow {
    /// `birth`, `death`, `move_in` or `move_out`.
    pub kind: String,
    /// Day of the event.
    pub date: NaiveDate,
    /// Store id of the person.
    pub person_id: i64,
    /// Name.
    pub name: String,
}

const REPORT_COLS: &str =
    "group_code, month, births, pregnancies, moves_in, moves_out, deaths, notes, status, submitted_by, submitted_at, reviewed_by, reviewed_at";

fn report_of(r: &DbRow) -> MonthlyReportRow {
    MonthlyReportRow {
        group_code: r.get(0),
        month: r.get(1),
        births: r.get(2),
        pregnancies: r.get(3),
        moves_in: r.get(4),
        moves_out: r.get(5),
        deaths: r.get(6),
        notes: r.get(7),
        status: r.get(8),
        submitted_by: r.get(9),
        submitted_at: r.get(10),
        reviewed_by: r.get(11),
        reviewed_at: r.get(12),
    }
}

impl Store {
    /// Villager groups inside `scope`, ordered by code.
    pub async fn groups_in(&self, scope: &AreaCode) -> Result<Vec<Area>> {
        let (lo, hi) = scope.code_range();
        let rows = db::query("SELECT code, name FROM area WHERE level = $1 AND code >= $2 AND code < $3 ORDER BY code")
            .bind(AreaLevel::Group as i64)
            .bind(lo)
            .bind(hi)
            .fetch_all(self)
            .await?;
        rows.into_iter().map(area_of).collect()
    }

    /// The report of `group` for `month` (`YYYY-MM`), if one was submitted.
    pub async fn monthly_report(&self, group: &AreaCode, month: &str) -> Result<Option<MonthlyReportRow>> {
        let row = db::query(&format!("SELECT {REPORT_COLS} FROM monthly_report WHERE group_code = $1 AND month = $2"))
            .bind(group.as_str())
            .bind(month)
            .fetch_optional(self)
            .await?;
        Ok(row.as_ref().map(report_of))
    }

    /// Reports of the groups inside `scope` for months `from..=to` (`YYYY-MM`), ordered by
    /// group then month.
    pub async fn monthly_reports_in(&self, scope: &AreaCode, from: &str, to: &str) -> Result<Vec<MonthlyReportRow>> {
        let (lo, hi) = scope.code_range();
        let rows = db::query(&format!(
            "SELECT {REPORT_COLS} FROM monthly_report WHERE group_code >= $1 AND group_code < $2 AND month >= $3 AND month <= $4
             ORDER BY group_code, month"
        ))
        .bind(lo)
        .bind(hi)
        .bind(from)
        .bind(to)
        .fetch_all(self)
        .await?;
        Ok(rows.iter().map(report_of).collect())
    }

    /// Inserts or replaces the report of `r.group_code` and `r.month` unless it is reviewed
    /// (status and reviewer are not changed). Returns false, writing nothing, when the stored
    /// report is reviewed: the check and the write are one statement, so a review in between
    /// cannot be overwritten.
    pub async fn upsert_monthly_report(&self, r: &MonthlyReportRow) -> Result<bool> {
        let n = db::query(
            "INSERT INTO monthly_report (group_code, month, births, pregnancies, moves_in, moves_out, deaths, notes, status, submitted_by, submitted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'submitted', $9, $10)
             ON CONFLICT (group_code, month) DO UPDATE SET births = excluded.births, pregnancies = excluded.pregnancies,
               moves_in = excluded.moves_in, moves_out = excluded.moves_out, deaths = excluded.deaths, notes = excluded.notes,
               submitted_by = excluded.submitted_by, submitted_at = excluded.submitted_at
             WHERE monthly_report.status = 'submitted'",
        )
        .bind(&r.group_code)
        .bind(&r.month)
        .bind(r.births)
        .bind(r.pregnancies)
        .bind(r.moves_in)
        .bind(r.moves_out)
        .bind(r.deaths)
        .bind(&r.notes)
        .bind(&r.submitted_by)
        .bind(&r.submitted_at)
        .execute(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks a submitted report reviewed (`reviewed = true`) or reopens a reviewed one. Returns
    /// false when there is no report in the other state.
    pub async fn set_monthly_report_reviewed(&self, group: &AreaCode, month: &str, reviewed: bool, by: &str, at: &str) -> Result<bool> {
        let q = if reviewed {
            db::query(
                "UPDATE monthly_report SET status = 'reviewed', reviewed_by = $3, reviewed_at = $4
                 WHERE group_code = $1 AND month = $2 AND status = 'submitted'",
            )
            .bind(group.as_str())
            .bind(month)
            .bind(by)
            .bind(at)
        } else {
            db::query(
                "UPDATE monthly_report SET status = 'submitted', reviewed_by = NULL, reviewed_at = NULL
                 WHERE group_code = $1 AND month = $2 AND status = 'reviewed'",
            )
            .bind(group.as_str())
            .bind(month)
        };
        let n = q.execute(self).await?.rows_affected();
        Ok(n == 1)
    }

    /// The register's births, deaths, moves in and moves out of `group` between `first` and
    /// `last` (inclusive), ordered by date. A birth or death belongs to the group of the
    /// registered episode covering its day; a move in is a registered episode starting in the
    /// group (not at birth), a move out one ending there (not at death).
    pub async fn group_events(&self, group: &AreaCode, first: NaiveDate, last: NaiveDate) -> Result<Vec<GroupEventRow>> {
        let (lo, hi) = group.code_range();
        let sql = format!(
            "SELECT kind, day, id, name FROM (
               SELECT 'birth' AS kind, p.birth_date AS day, p.id AS id, p.name AS name, {birth_area} AS code
                 FROM birth b JOIN person p ON p.id = b.child_id WHERE p.birth_date >= $3 AND p.birth_date <= $4
               UNION ALL
               SELECT 'death', d.death_date, p.id, p.name, {death_area}
                 FROM death d JOIN person p ON p.id = d.person_id WHERE d.death_date >= $3 AND d.death_date <= $4) x
             WHERE {event_scope}
             UNION ALL
             SELECT 'move_in', r.valid_from, p.id, p.name FROM residence r JOIN person p ON p.id = r.person_id
               WHERE r.kind = 'registered' AND {scope} AND {starts} AND NOT {starts_at_birth}
             UNION ALL
             SELECT 'move_out', r.valid_to, p.id, p.name FROM residence r JOIN person p ON p.id = r.person_id
               WHERE r.kind = 'registered' AND {scope} AND {ends}
                 AND NOT EXISTS (SELECT 1 FROM death d WHERE d.person_id = p.id AND {ends_at_death})
             ORDER BY 2, 1, 4, 3",
            birth_area = event_area("p.id", "p.birth_date"),
            death_area = event_area("p.id", "d.death_date"),
            event_scope = in_scope("x.code", "$1", "$2"),
            scope = in_scope("r.area_code", "$1", "$2"),
            starts = starts_within("r", "$3", "$4"),
            starts_at_birth = starts_on("r", "p.birth_date"),
            ends = ends_within("r", "$3", "$4"),
            ends_at_death = ends_on("r", "d.death_date"),
        );
        let rows = db::query(&sql).bind(lo).bind(hi).bind(first).bind(last).fetch_all(self).await?;
        Ok(rows.iter().map(|r| GroupEventRow { kind: r.get(0), date: r.get(1), person_id: r.get(2), name: r.get(3) }).collect())
    }
}
