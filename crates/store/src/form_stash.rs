//! Form input kept across an expired session (migration 0006, table `form_stash`): the fields
//! of a form posted without a live session wait here under a random one-time token, so that
//! they never travel in a URL, until the user has logged in again.

use crate::db;
use crate::{Result, Store};

/// A form to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFormStash {
    /// The one-time token (random; the only thing the login URL carries).
    pub token: String,
    /// The value of the posting browser's stash cookie; the form comes back only with it.
    pub browser_key: String,
    /// The session cookie sent with the form: its user (even expired) becomes the only user
    /// the form comes back to; unknown or absent = any user with the browser key.
    pub old_session: Option<String>,
    /// The form's page (path without query).
    pub path: String,
    /// Field names and values, JSON text.
    pub fields: String,
    /// When the form is dropped, ISO 8601 UTC.
    pub expires_at: String,
}

/// Forms kept for one user at a time at most.
pub const MAX_STASHES_PER_USER: i64 = 20;
/// Forms kept at a time at most for browsers that sent no session this server knows (64 KiB
/// each at most: a bound of 6.4 MiB however many requests come without a login).
pub const MAX_ANONYMOUS_STASHES: i64 = 100;

impl Store {
    /// Keeps a form, and deletes every kept form expired at `now` (ISO 8601 UTC).
    pub async fn insert_form_stash(&self, f: &NewFormStash, now: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        db::query("DELETE FROM form_stash WHERE expires_at <= $1").bind(now).execute(&mut tx).await?;
        // Bounded, since no login is needed to get here: at most MAX_STASHES_PER_USER for the
        // user of a session this server gave out (expired or idle), and at most
        // MAX_ANONYMOUS_STASHES in all without one (the browser dropped the expired cookie):
        // a flood of posts can fill neither the table nor the disk.
        let done = db::query(
            "INSERT INTO form_stash (token, browser_key, user_id, path, fields, expires_at)
             SELECT $1, $2, (SELECT s.user_id FROM session s WHERE s.id = $3), $4, $5, $6
             WHERE CASE WHEN EXISTS (SELECT 1 FROM session s WHERE s.id = $3)
                        THEN (SELECT COUNT(*) FROM form_stash k WHERE k.user_id = (SELECT s.user_id FROM session s WHERE s.id = $3)) < $7
                        ELSE (SELECT COUNT(*) FROM form_stash k WHERE k.user_id IS NULL) < $8 END",
        )
        .bind(&f.token)
        .bind(&f.browser_key)
        .bind(&f.old_session)
        .bind(&f.path)
        .bind(&f.fields)
        .bind(&f.expires_at)
        .bind(MAX_STASHES_PER_USER)
        .bind(MAX_ANONYMOUS_STASHES)
        .execute(&mut tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Takes (returns and deletes) the fields kept under `token` for `path`, if they have not
    /// expired at `now` and belong to this browser and user. One statement, so a token is
    /// used at most once.
    pub async fn take_form_stash(&self, token: &str, browser_key: &str, user_id: i64, path: &str, now: &str) -> Result<Option<String>> {
        let row = db::query(
            "DELETE FROM form_stash WHERE token = $1 AND browser_key = $2 AND (user_id IS NULL OR user_id = $3)
               AND path = $4 AND expires_at > $5
             RETURNING fields",
        )
        .bind(token)
        .bind(browser_key)
        .bind(user_id)
        .bind(path)
        .bind(now)
        .fetch_optional(self)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }
}
