//! The audit log (审计日志): every read of a person's details and every change is written here
//! with who, when, from where, and the old and new value. Only administrators search it.

use chrono::{DateTime, Utc};
use renkou_store::Store;
pub use renkou_store::{AuditEntry, AuditFilter};

use crate::auth::{authorize, stamp, Action, Caller};
use crate::AppError;

/// Appends one entry. `old_value` / `new_value` are JSON text.
#[allow(clippy::too_many_arguments)]
pub async fn write(
    store: &Store,
    username: &str,
    remote_addr: &str,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    area_code: Option<&str>,
    old_value: Option<String>,
    new_value: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    store
        .insert_audit(&AuditEntry {
            id: 0,
            at: stamp(now),
            username: username.into(),
            action: action.into(),
            entity: entity.into(),
            entity_id,
            area_code: area_code.map(String::from),
            remote_addr: Some(remote_addr.into()),
            old_value,
            new_value,
        })
        .await?;
    Ok(())
}

/// Appends an entry for `caller`.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    store: &Store,
    caller: &Caller,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    area_code: Option<&str>,
    old_value: Option<String>,
    new_value: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    write(store, &caller.user.username, &caller.remote_addr, action, entity, entity_id, area_code, old_value, new_value, now).await
}

/// Searches the log inside the administrator's area, newest first (at most `filter.limit`,
/// 200 when 0). Errors: [`AppError::Forbidden`] for other roles.
pub async fn search(store: &Store, caller: &Caller, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    authorize(&caller.user, Action::ViewAudit, None)?;
    Ok(store.search_audit(&caller.user.area, filter).await?)
}
