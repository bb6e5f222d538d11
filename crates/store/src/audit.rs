//! The audit log (审计日志): who read or changed what, when, from where, old and new value.
//! Rows are only ever inserted.

use sqlx::{QueryBuilder, Row, Sqlite};

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
        let mut conn = self.pool.acquire().await?;
        insert_audit_in(&mut conn, e).await
    }

    /// Audit entries inside `scope` (entries with an area inside it, and entries with no area
    /// written by users of the scope), newest first.
    pub async fn search_audit(&self, scope: &renkou_core::area::AreaCode, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let (lo, hi) = scope.code_range();
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT a.id, a.at, a.username, a.action, a.entity, a.entity_id, a.area_code, a.remote_addr, a.old_value, a.new_value
             FROM audit_log a WHERE ((a.area_code >= ",
        );
        qb.push_bind(lo.clone()).push(" AND a.area_code < ").push_bind(hi.clone());
        qb.push(") OR (a.area_code IS NULL AND EXISTS (SELECT 1 FROM app_user u WHERE u.username = a.username AND u.area_code >= ");
        qb.push_bind(lo).push(" AND u.area_code < ").push_bind(hi).push(")))");
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
        let rows = qb.build().fetch_all(&self.pool).await?;
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
            })
            .collect())
    }
}

/// Appends an entry on a connection or inside a transaction; returns its id.
pub(crate) async fn insert_audit_in(conn: &mut sqlx::SqliteConnection, e: &AuditEntry) -> Result<i64> {
    let r = sqlx::query(
        "INSERT INTO audit_log (at, username, action, entity, entity_id, area_code, remote_addr, old_value, new_value)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
    .execute(&mut *conn)
    .await?;
    Ok(r.last_insert_rowid())
}
