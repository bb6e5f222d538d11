//! Users, sessions and login attempts (migration 0002). The store keeps rows; the app decides
//! what a role may do, hashes passwords and makes tokens.

use crate::db::{self, DbRow};

use crate::audit::insert_audit_in;
use crate::{AuditEntry, Result, Store, StoreError};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Store id.
    pub id: i64,
    /// Login name, unique.
    pub username: String,
    /// PHC string of the password hash (Argon2id).
    pub password_hash: String,
    /// Role code (`township_admin`, `township_staff`, `village_specialist`, `group_leader`, `leader`).
    pub role: String,
    /// Canonical code of the area the user is responsible for.
    pub area_code: String,
    /// Name shown in the page header.
    pub display_name: String,
    /// Creation time, ISO 8601 UTC.
    pub created_at: String,
    /// When the account was disabled (ISO 8601 UTC); `None` while it is active.
    pub disabled_at: Option<String>,
}

/// A user to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUserRow {
    /// Login name.
    pub username: String,
    /// PHC string.
    pub password_hash: String,
    /// Role code.
    pub role: String,
    /// Area code (must exist in the area table).
    pub area_code: String,
    /// Display name.
    pub display_name: String,
    /// Creation time, ISO 8601 UTC.
    pub created_at: String,
}

/// A change to a stored user ([`Store::change_user`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange<'a> {
    /// A new password hash (PHC string). Ends every session of the user except `keep_session`
    /// (the session of a user changing their own password).
    Password {
        /// The new hash.
        hash: &'a str,
        /// A session id that stays.
        keep_session: Option<&'a str>,
    },
    /// Disabled at this time (ISO 8601 UTC; ends every session of the user), or enabled again (`None`).
    Disabled(Option<&'a str>),
    /// A new role code and area code.
    RoleArea {
        /// Role code.
        role: &'a str,
        /// Area code (must exist).
        area_code: &'a str,
    },
}

const USER_COLS: &str = "u.id, u.username, u.password_hash, u.role, u.area_code, u.display_name, u.created_at, u.disabled_at";

fn user_of(row: &DbRow) -> UserRow {
    UserRow {
        id: row.get(0),
        username: row.get(1),
        password_hash: row.get(2),
        role: row.get(3),
        area_code: row.get(4),
        display_name: row.get(5),
        created_at: row.get(6),
        disabled_at: row.get(7),
    }
}

impl Store {
    /// Inserts a user; returns its id.
    ///
    /// Errors: [`StoreError::Conflict`] when the username is taken or the area is unknown.
    pub async fn insert_user(&self, u: &NewUserRow) -> Result<i64> {
        let r =
            db::query("INSERT INTO app_user (username, password_hash, role, area_code, display_name, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(&u.username)
                .bind(&u.password_hash)
                .bind(&u.role)
                .bind(&u.area_code)
                .bind(&u.display_name)
                .bind(&u.created_at)
                .fetch_one(self)
                .await;
        match r {
            Ok(r) => Ok(r.get(0)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(format!("用户名 {} 已存在 (username taken)", u.username))),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(StoreError::Conflict(format!("地区 {} 不存在 (unknown area)", u.area_code))),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this login name.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        let row = db::query(&format!("SELECT {USER_COLS} FROM app_user u WHERE u.username = $1")).bind(username).fetch_optional(self).await?;
        Ok(row.as_ref().map(user_of))
    }

    /// Users whose area lies inside `scope` (an administrator's view), ordered by area then name.
    pub async fn users_in(&self, scope: &renkou_core::area::AreaCode) -> Result<Vec<UserRow>> {
        let (lo, hi) = scope.code_range();
        let rows = db::query(&format!("SELECT {USER_COLS} FROM app_user u WHERE u.area_code >= $1 AND u.area_code < $2 ORDER BY u.area_code, u.username"))
            .bind(lo)
            .bind(hi)
            .fetch_all(self)
            .await?;
        Ok(rows.iter().map(user_of).collect())
    }

    /// Number of users (0 on a fresh register: `renkou serve` then creates a demo admin).
    pub async fn user_count(&self) -> Result<i64> {
        Ok(db::query("SELECT COUNT(*) FROM app_user").fetch_one(self).await?.get(0))
    }

    /// Replaces a user's password hash. Errors: [`StoreError::Conflict`] when there is no such user.
    pub async fn set_password_hash(&self, username: &str, hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = db::query("UPDATE app_user SET password_hash = $1 WHERE username = $2").bind(hash).bind(username).execute(&mut tx).await?.rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(format!("用户 {username} 不存在 (no such user)")));
        }
        // A new password ends every session of the user (in the same transaction).
        db::query("DELETE FROM session WHERE user_id = (SELECT id FROM app_user WHERE username = $1)").bind(username).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user with this store id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        let row = db::query(&format!("SELECT {USER_COLS} FROM app_user u WHERE u.id = $1")).bind(id).fetch_optional(self).await?;
        Ok(row.as_ref().map(user_of))
    }

    /// Applies `change` to user `id` and appends `audit` in the same transaction; ends the
    /// user's sessions as the change asks (a new password or a disabled account).
    ///
    /// Errors: [`StoreError::Conflict`] when there is no such user or the area is unknown.
    pub async fn change_user(&self, id: i64, change: &UserChange<'_>, audit: &AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let (q, ends_sessions, keep) = match change {
            UserChange::Password { hash, keep_session } => {
                (db::query("UPDATE app_user SET password_hash = $1 WHERE id = $2").bind(*hash).bind(id), true, *keep_session)
            }
            UserChange::Disabled(at) => (db::query("UPDATE app_user SET disabled_at = $1 WHERE id = $2").bind(*at).bind(id), at.is_some(), None),
            UserChange::RoleArea { role, area_code } => {
                (db::query("UPDATE app_user SET role = $1, area_code = $2 WHERE id = $3").bind(*role).bind(*area_code).bind(id), false, None)
            }
        };
        let n = match q.execute(&mut tx).await {
            Ok(r) => r.rows_affected(),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => return Err(StoreError::Conflict("地区不存在 (unknown area)".into())),
            Err(e) => return Err(e.into()),
        };
        if n != 1 {
            return Err(StoreError::Conflict(format!("用户 {id} 不存在 (no such user)")));
        }
        if ends_sessions {
            db::query("DELETE FROM session WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)").bind(id).bind(keep).execute(&mut tx).await?;
        }
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a session, last seen `now`.
    pub async fn insert_session(&self, id: &str, user_id: i64, csrf_token: &str, expires_at: &str, now: &str) -> Result<()> {
        db::query("INSERT INTO session (id, user_id, csrf_token, expires_at, last_seen) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(user_id)
            .bind(csrf_token)
            .bind(expires_at)
            .bind(now)
            .execute(self)
            .await?;
        Ok(())
    }

    /// The user and CSRF token of a session that has not expired at `now` and was used after
    /// `idle_since` (ISO 8601 UTC); the use is recorded (at most once a minute, so that reading
    /// pages rarely writes).
    pub async fn session_user(&self, id: &str, now: &str, idle_since: &str, renew_before: &str) -> Result<Option<(UserRow, String)>> {
        let row = db::query(&format!(
            "SELECT {USER_COLS}, s.csrf_token, s.last_seen FROM session s JOIN app_user u ON u.id = s.user_id
             WHERE s.id = $1 AND s.expires_at > $2 AND (s.last_seen IS NULL OR s.last_seen > $3) AND u.disabled_at IS NULL"
        ))
        .bind(id)
        .bind(now)
        .bind(idle_since)
        .fetch_optional(self)
        .await?;
        // Renewed at most once a minute, and only then written: a write waits for any long
        // write transaction (an import), a read does not.
        let stale = row.as_ref().is_some_and(|r| r.get::<Option<String>, _>(9).is_none_or(|seen| seen.as_str() < renew_before));
        if stale {
            let renewed = db::query("UPDATE session SET last_seen = $1 WHERE id = $2 AND (last_seen IS NULL OR last_seen < $3)")
                .bind(now)
                .bind(id)
                .bind(renew_before)
                .execute(self)
                .await;
            // While a long write holds the lock (a large import), the renewal waits the busy
            // timeout and gives up; the request goes on: the session is live, and a later request
            // renews it (renewals are a minute apart anyway).
            match renewed.map_err(StoreError::from) {
                Ok(_) | Err(StoreError::Busy(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(row.map(|r| (user_of(&r), r.get(8))))
    }

    /// Deletes a session (logout) and every session expired at `now`.
    pub async fn delete_session(&self, id: &str, now: &str) -> Result<()> {
        db::query("DELETE FROM session WHERE id = $1 OR expires_at <= $2").bind(id).bind(now).execute(self).await?;
        Ok(())
    }

    /// Records a login attempt.
    pub async fn record_login_attempt(&self, username: &str, remote_addr: &str, at: &str, success: bool) -> Result<()> {
        db::query("INSERT INTO login_attempt (username, remote_addr, at, success) VALUES ($1, $2, $3, $4)")
            .bind(username)
            .bind(remote_addr)
            .bind(at)
            .bind(i64::from(success))
            .execute(self)
            .await?;
        Ok(())
    }

    /// Failed logins from `remote_addr` (any username) at or after `since`.
    pub async fn failed_logins_from_since(&self, remote_addr: &str, since: &str) -> Result<i64> {
        Ok(db::query("SELECT COUNT(*) FROM login_attempt WHERE remote_addr = $1 AND at >= $2 AND success = 0")
            .bind(remote_addr)
            .bind(since)
            .fetch_one(self)
            .await?
            .get(0))
    }

    /// Failed logins for `username` from `remote_addr` at or after `since`, not followed by a
    /// successful one.
    pub async fn failed_logins_since(&self, username: &str, remote_addr: &str, since: &str) -> Result<i64> {
        Ok(db::query(
            "SELECT COUNT(*) FROM login_attempt a WHERE a.username = $1 AND a.remote_addr = $2 AND a.at >= $3 AND a.success = 0
               AND NOT EXISTS (SELECT 1 FROM login_attempt s WHERE s.username = a.username AND s.remote_addr = a.remote_addr
                               AND s.success = 1 AND s.at > a.at)",
        )
        .bind(username)
        .bind(remote_addr)
        .bind(since)
        .fetch_one(self)
        .await?
        .get(0))
    }
}
