//! Form input kept across an expired session (表单暂存). A form posted after its session has
//! expired is kept server-side under a random one-time token for [`KEEP_MINUTES`]; only the
//! token travels in the login page's `next` address, so citizen IDs and names never reach a
//! URL, the browser history or a server log. After the new login the form's page takes the
//! input back, once, in the same browser (a cookie's key) and for the same user when the
//! expired session still names one.

use chrono::{DateTime, Duration, Utc};
use renkou_store::{NewFormStash, Store};
pub use renkou_store::{MAX_ANONYMOUS_STASHES, MAX_STASHES_PER_USER};

use crate::auth::{random_token, stamp, Caller};
use crate::AppError;

/// How long a kept form waits for the new login.
pub const KEEP_MINUTES: i64 = 30;
/// Fields never kept: the old session's CSRF token and passwords (also any field whose name
/// contains `password`, such as `old_password` of the own-password form).
pub const DROPPED_FIELDS: &[&str] = &["csrf", "password"];

/// True for a field [`keep`] drops ([`DROPPED_FIELDS`], or a name containing `password`).
pub fn dropped(name: &str) -> bool {
    DROPPED_FIELDS.contains(&name) || name.to_ascii_lowercase().contains("password")
}
/// Largest form kept (bytes of field names and values); larger forms are not kept.
pub const MAX_BYTES: usize = 64 * 1024;

/// Keeps the fields of a form posted to `path` without a live session. `browser_key` is the
/// value of the browser's stash cookie; `old_session` the (expired) session cookie, if sent.
/// Returns the one-time token, or `None` when there is nothing to keep (only dropped fields),
/// the form is larger than [`MAX_BYTES`], or the bound is reached: that user already has
/// [`renkou_store::MAX_STASHES_PER_USER`] forms kept, or (no session this server knows: the
/// browser dropped the expired cookie) [`renkou_store::MAX_ANONYMOUS_STASHES`] such forms are kept.
pub async fn keep(
    store: &Store,
    browser_key: &str,
    old_session: Option<&str>,
    path: &str,
    fields: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Option<String>, AppError> {
    let kept: Vec<&(String, String)> = fields.iter().filter(|(k, _)| !dropped(k)).collect();
    if kept.is_empty() || kept.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > MAX_BYTES {
        return Ok(None);
    }
    let token = random_token(16);
    let json = serde_json::to_string(&kept).map_err(|e| AppError::Invalid(e.to_string()))?;
    let kept = store
        .insert_form_stash(
            &NewFormStash {
                token: token.clone(),
                browser_key: browser_key.to_string(),
                old_session: old_session.map(String::from),
                path: path.to_string(),
                fields: json,
                expires_at: stamp(now + Duration::minutes(KEEP_MINUTES)),
            },
            &stamp(now),
        )
        .await?;
    Ok(kept.then_some(token))
}

/// Takes back the fields kept under `token` for the page `path`: once, before they expire, in
/// the browser that posted them and for the caller (when the expired session named a user).
/// `None` when there is no such form.
pub async fn take(
    store: &Store,
    caller: &Caller,
    browser_key: &str,
    token: &str,
    path: &str,
    now: DateTime<Utc>,
) -> Result<Option<Vec<(String, String)>>, AppError> {
    let Some(json) = store.take_form_stash(token, browser_key, caller.user.id, path, &stamp(now)).await? else { return Ok(None) };
    Ok(serde_json::from_str(&json).ok())
}
