//! The audit log (审计日志): who read or changed what, when, from where, old and new value.
//! Rows are only ever inserted.

use crate::db::{self, Builder};

use crate::{Result, Store};

/// One audit entry (as written, and as read back with its id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// Store id (0 before insertion).
    pub id: i64,
    /// Time, ISO 8601 UTC.
    pub at: String,
    /// Who.
    pub username: String,
    /// What, e.g. `person.read`, `birth.record`, `user.add`, `login`.
    pub action: String,
    /// Kind of record, e.g. `person`, `household`, `user`.
    pub entity: String,
    /// Id of the record.
    pub entity_id: Option<String>,
    /// Area of the record (for scoping the audit search).
    pub area_code: Option<String>,
    /// Remote address of the request.
    pub remote_addr: Option<String>,
    /// Value before a change (JSON text).
    pub old_value: Option<String>,
    /// Value after a change (JSON text).
    pub new_value: Option<String>,
    /// How many persons' data the entry showed (1 for a person page, the rows of a list).
    pub persons_read: i64,
}

/// A user who read more persons within one clock hour than a threshold ([`Store::bulk_readers`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BulkReader {
    /// Who.
    pub username: String,
    /// The hour, `2024-05-01T08` (UTC).
    pub hour: String,
    /// Persons read in that hour.
    pub persons_read: i64,
}

/// Filter of an audit search; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact username.
    pub username: Option<String>,
    /// Action prefix (`person.` matches `person.read` and `person.update`).
    pub action: Option<String>,
    /// Exact entity id.
    pub entity_id: Option<String>,
    /// From this time (inclusive, ISO 8601 prefix such as `2024-01-01`).
    pub from: Option<String>,
    /// Before this time (exclusive).
    pub to: Option<String>,
    /// Maximum rows (newest first).
    pub limit: i64,
    /// Rows skipped before the first returned (paging).
    pub offset: i64,
}

impl Store {
    /// Appends an entry to the audit log; returns its id.
    pub async fn insert_audit(&self, e: &AuditEntry) -> Result<i64> {
        insert_audit_in(self, e).await
    }

    /// Audit entries inside `scope` (entries with an area inside it, and entries with no area
    /// written by users of the scope), newest first.
    pub async fn search_audit(&self, scope: &renkou_core::area::AreaCode, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut qb: Builder = Builder::new(
            "SELECT a.id, a.at, a.username, a.action, a.entity, a.entity_id, a.area_code, a.remote_addr, a.old_value, a.new_value, a.persons_read
             FROM audit_log a WHERE ",
        );
        push_audit_scope(&mut qb, scope);
        if let Some(u) = &f.username {
            qb.push(" AND a.username = ").push_bind(u.clone());
        }
        if let Some(a) = &f.action {
            let mut hi = a.clone();
            hi.push('\u{10FFFF}');
            qb.push(" AND a.action >= ").push_bind(a.clone()).push(" AND a.action < ").push_bind(hi);
        }
        if let Some(e) = &f.entity_id {
            qb.push(" AND a.entity_id = ").push_bind(e.clone());
        }
        if let Some(t) = &f.from {
            qb.push(" AND a.at >= ").push_bind(t.clone());
        }
        if let Some(t) = &f.to {
            qb.push(" AND a.at < ").push_bind(t.clone());
        }
        qb.push(" ORDER BY a.at DESC, a.id DESC LIMIT ").push_bind(if f.limit > 0 { f.limit } else { 200 });
        qb.push(" OFFSET ").push_bind(f.offset.max(0));
        let rows = qb.build().fetch_all(self).await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: r.get(1),
                username: r.get(2),
                action: r.get(3),
                entity: r.get(4),
                entity_id: r.get(5),
                area_code: r.get(6),
                remote_addr: r.get(7),
                old_value: r.get(8),
                new_value: r.get(9),
                persons_read: r.get(10),
            })
            .collect())
    }
}

/// Entries inside `scope`: with an area inside it, or with no area and written by a user of the scope.
fn push_audit_scope(qb: &mut Builder, scope: &renkou_core::area::AreaCode) {
    let (lo, hi) = scope.code_range();
    qb.push("((a.area_code >= ").push_bind(lo.clone()).push(" AND a.area_code < ").push_bind(hi.clone());
    qb.push(") OR (a.area_code IS NULL AND EXISTS (SELECT 1 FROM app_user u WHERE u.username = a.username AND u.area_code >= ");
    qb.push_bind(lo).push(" AND u.area_code < ").push_bind(hi).push(")))");
}

impl Store {
    /// Users whose entries inside `scope` since `since` (ISO 8601) showed more than `threshold`
    /// persons within one clock hour, newest hour first, at most 100 rows.
    pub async fn bulk_readers(&self, scope: &renkou_core::area::AreaCode, since: &str, threshold: i64) -> Result<Vec<BulkReader>> {
        let mut qb: Builder =
            Builder::new("SELECT a.username, substr(a.at, 1, 13) AS hour, CAST(SUM(a.persons_read) AS BIGINT) FROM audit_log a WHERE a.at >= ");
        qb.push_bind(since.to_string()).push(" AND a.persons_read > 0 AND ");
        push_audit_scope(&mut qb, scope);
        qb.push(" GROUP BY a.username, hour HAVING SUM(a.persons_read) > ").push_bind(threshold);
        qb.push(" ORDER BY hour DESC, a.username LIMIT 100");
        let rows = qb.build().fetch_all(self).await?;
        Ok(rows.iter().map(|r| BulkReader { username: r.get(0), hour: r.get(1), persons_read: r.get(2) }).collect())
    }
}

/// Appends an entry on a connection or inside a transaction; returns its id.
pub(crate) async fn insert_audit_in<'a>(on: impl db::Exec<'a>, e: &AuditEntry) -> Result<i64> {
    let r = db::query(
        "INSERT INTO audit_log (at, username, action, entity, entity_id, area_code, remote_addr, old_value, new_value, persons_read)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(&e.at)
    .bind(&e.username)
    .bind(&e.action)
    .bind(&e.entity)
    .bind(&e.entity_id)
    .bind(&e.area_code)
    .bind(&e.remote_addr)
    .bind(&e.old_value)
    .bind(&e.new_value)
    .bind(e.persons_read)
    .fetch_one(on)
    .await?;
    Ok(r.get(0))
}
