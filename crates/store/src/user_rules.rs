//! User rules documents (自定义校验规则): one TOML text per area, versioned. A save inserts a new
//! version and its audit entry in one transaction; nothing is ever updated or deleted. The store
//! does not parse the text: the app checks it with the core before saving.

use crate::db::{self, DbRow};
use renkou_core::area::AreaCode;

use crate::{AuditEntry, Result, Store};

/// One saved version of an area's rules document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRulesRow {
    /// The area the document belongs to (the administrator's area).
    pub area_code: String,
    /// 1, 2, … per area.
    pub version: i64,
    /// The TOML text as saved.
    pub body: String,
    /// Username of who saved it.
    pub saved_by: String,
    /// When (ISO 8601 UTC).
    pub saved_at: String,
}

fn row_of(r: &DbRow) -> UserRulesRow {
    UserRulesRow { area_code: r.get(0), version: r.get(1), body: r.get(2), saved_by: r.get(3), saved_at: r.get(4) }
}

impl Store {
    /// The latest version of the rules document of exactly `area`, if any.
    ///
    /// Errors: [`crate::StoreError::Sql`].
    pub async fn user_rules_latest(&self, area: &AreaCode) -> Result<Option<UserRulesRow>> {
        let r = db::query("SELECT area_code, version, body, saved_by, saved_at FROM user_rules WHERE area_code = $1 ORDER BY version DESC LIMIT 1")
            .bind(area.as_str())
            .fetch_optional(self)
            .await?;
        Ok(r.as_ref().map(row_of))
    }

    /// The rules that apply to a check of `area`: the latest version of the document of `area`
    /// or of its nearest ancestor that has one.
    ///
    /// Errors: [`crate::StoreError::Sql`].
    pub async fn user_rules_for(&self, area: &AreaCode) -> Result<Option<UserRulesRow>> {
        // The area and its ancestors are the prefixes of its code (canonical significant-prefix
        // codes): the document whose code is the longest prefix of `area` wins.
        let r = db::query(
            "SELECT area_code, version, body, saved_by, saved_at FROM user_rules
             WHERE area_code <= $1 AND substr($1, 1, length(area_code)) = area_code
             ORDER BY length(area_code) DESC, version DESC LIMIT 1",
        )
        .bind(area.as_str())
        .fetch_optional(self)
        .await?;
        Ok(r.as_ref().map(row_of))
    }

    /// The versions of `area`'s document, newest first, without their text (`body` is empty).
    ///
    /// Errors: [`crate::StoreError::Sql`].
    pub async fn user_rules_history(&self, area: &AreaCode, limit: i64) -> Result<Vec<UserRulesRow>> {
        let rows = db::query("SELECT area_code, version, '', saved_by, saved_at FROM user_rules WHERE area_code = $1 ORDER BY version DESC LIMIT $2")
            .bind(area.as_str())
            .bind(limit)
            .fetch_all(self)
            .await?;
        Ok(rows.iter().map(row_of).collect())
    }

    /// Saves `body` as the next version of `area`'s document, with `audit` (its `entity_id` is
    /// set to `area@version`), in one transaction. Returns the new version.
    ///
    /// Errors: [`crate::StoreError::Sql`] (e.g. an area not in the area table).
    pub async fn save_user_rules(&self, area: &AreaCode, body: &str, saved_by: &str, saved_at: &str, audit: &AuditEntry) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let version: i64 =
            db::query("SELECT COALESCE(MAX(version), 0) + 1 FROM user_rules WHERE area_code = $1").bind(area.as_str()).fetch_one(&mut tx).await?.get(0);
        db::query("INSERT INTO user_rules (area_code, version, body, saved_by, saved_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(area.as_str())
            .bind(version)
            .bind(body)
            .bind(saved_by)
            .bind(saved_at)
            .execute(&mut tx)
            .await?;
        db::query(
            "INSERT INTO audit_log (at, username, action, entity, entity_id, area_code, remote_addr, old_value, new_value)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&audit.at)
        .bind(&audit.username)
        .bind(&audit.action)
        .bind(&audit.entity)
        .bind(format!("{}@{version}", area.as_str()))
        .bind(&audit.area_code)
        .bind(&audit.remote_addr)
        .bind(&audit.old_value)
        .bind(&audit.new_value)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }
}
