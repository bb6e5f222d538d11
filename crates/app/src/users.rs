//! Managing user accounts (用户管理): an administrator resets passwords, disables and enables
//! accounts and edits roles and areas; every user changes their own password.
//!
//! Who may manage whom is the gate's [`Action::ManageUsers`] with [`crate::gate::Reach::Within`]:
//! the target user's area, and a new area, must lie inside the administrator's area (else "not
//! found", audited `access.refused`); other roles are refused (403). An administrator does not
//! reset, disable or edit their own account here (their own password: [`change_own_password`]).
//!
//! Every change is audited in the change's own transaction (`Store::change_user`): the action,
//! the user's id and area, and for an edit the old and new role and area. A new password and a
//! disabled account end the user's sessions; a disabled user cannot log in
//! ([`crate::auth::login`], audited `login.disabled`).

use chrono::{DateTime, Duration, Utc};
use renkou_core::area::AreaCode;
use renkou_store::{Store, UserChange, UserRow};
use serde::Serialize;

use crate::audit::{self, AuditAction, Entry};
use crate::auth::{self, check_password, stamp, Caller, Role, User};
use crate::gate::{self, Action};
use crate::AppError;

/// A user account as the user pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The user (id, username, role, area, display name).
    pub user: User,
    /// When the account was created, ISO 8601 UTC.
    pub created_at: String,
    /// When the account was disabled, ISO 8601 UTC; `None` while it is active.
    pub disabled_at: Option<String>,
}

impl Account {
    /// True when the account may log in.
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

fn account_of(row: UserRow) -> Result<Account, AppError> {
    let (created_at, disabled_at) = (row.created_at.clone(), row.disabled_at.clone());
    Ok(Account { user: auth::user_of(row)?, created_at, disabled_at })
}

/// The accounts inside the administrator's area, ordered by area then username.
///
/// Errors: [`AppError::Forbidden`] unless `caller` manages users.
pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<Account>, AppError> {
    gate::admit(store, caller, Action::ManageUsers, None, chrono::Utc::now()).await?;
    store.users_in(&caller.user.area).await?.into_iter().map(account_of).collect()
}

/// The stored row of user `id` when `caller` may manage it: the role first (403, audited), then
/// the user's area (404, audited, as for an unknown id).
async fn target(store: &Store, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<UserRow, AppError> {
    gate::admit(store, caller, Action::ManageUsers, None, now).await?;
    let row = store.user_by_id(id).await?.ok_or_else(|| AppError::NotFound(format!("用户 {id}")))?;
    let area = AreaCode::parse(&row.area_code).map_err(|e| AppError::Invalid(e.to_string()))?;
    match gate::authorize(&caller.user, Action::ManageUsers, Some(&area)) {
        Ok(()) => Ok(row),
        Err(e) => {
            gate::refused(store, caller, Action::ManageUsers, Some(&row.area_code), Some(("user", id)), now).await?;
            Err(e)
        }
    }
}

/// [`target`], refusing the caller's own account.
async fn other_target(store: &Store, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<UserRow, AppError> {
    let row = target(store, caller, id, now).await?;
    if row.id == caller.user.id {
        return Err(AppError::Invalid("不能在这里更改自己的账号, 请到“我的账号”修改密码 (use /account for your own account)".into()));
    }
    Ok(row)
}

/// User `id`'s account, for the administrator's page of that user.
///
/// Errors: [`AppError::Forbidden`] unless `caller` manages users; [`AppError::NotFound`] for an
/// unknown id or a user outside the caller's area (audited `access.refused`).
pub async fn get(store: &Store, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<Account, AppError> {
    account_of(target(store, caller, id, now).await?)
}

/// An entry of `action` on the user of `row` (its id and area).
fn user_entry(action: AuditAction, row: &UserRow) -> Entry<'_> {
    Entry { entity_id: Some(row.id.to_string()), area_code: Some(&row.area_code), ..Entry::new(action, "user") }
}

fn username_json(row: &UserRow) -> Option<String> {
    Some(serde_json::json!({"username": row.username}).to_string())
}

/// Resets user `id`'s password to a generated one ([`auth::generate_password`]) and returns it
/// (to be shown once). Ends every session of the user; audited `user.password_reset`.
///
/// Errors: as [`get`]; [`AppError::Invalid`] for the caller's own account.
pub async fn reset_password(store: &Store, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<String, AppError> {
    let row = other_target(store, caller, id, now).await?;
    let password = auth::generate_password();
    let hash = auth::hash_blocking(&password).await?;
    let e = Entry { new_value: username_json(&row), ..user_entry(AuditAction::UserPasswordReset, &row) };
    let entry = audit::entry_row(&caller.user.username, &caller.remote_addr, e, now);
    store.change_user(row.id, &UserChange::Password { hash: &hash, keep_session: None }, &entry).await?;
    Ok(password)
}

/// Disables (`disabled`) or enables again user `id`. Disabling ends every session of the user;
/// audited `user.disabled` / `user.enabled`. Asking for the state the account is in changes
/// nothing and writes nothing.
///
/// Errors: as [`get`]; [`AppError::Invalid`] for the caller's own account.
pub async fn set_disabled(store: &Store, caller: &Caller, id: i64, disabled: bool, now: DateTime<Utc>) -> Result<Account, AppError> {
    let row = other_target(store, caller, id, now).await?;
    write_disabled(store, caller, row, disabled, now).await
}

async fn write_disabled(store: &Store, caller: &Caller, mut row: UserRow, disabled: bool, now: DateTime<Utc>) -> Result<Account, AppError> {
    if row.disabled_at.is_some() == disabled {
        return account_of(row);
    }
    let at = disabled.then(|| stamp(now));
    let action = if disabled { AuditAction::UserDisabled } else { AuditAction::UserEnabled };
    let e = Entry {
        old_value: Some(serde_json::json!({"disabled_at": row.disabled_at}).to_string()),
        new_value: Some(serde_json::json!({"username": row.username, "disabled_at": at}).to_string()),
        ..user_entry(action, &row)
    };
    let entry = audit::entry_row(&caller.user.username, &caller.remote_addr, e, now);
    store.change_user(row.id, &UserChange::Disabled(at.as_deref()), &entry).await?;
    row.disabled_at = at;
    account_of(row)
}

/// The CLI's operator for managing `username` (`renkou user disable|enable`): whoever runs
/// `renkou` on the machine holding the file may manage any user, so the operator is a township
/// administrator ([`Caller::operator`]) of that user's area.
///
/// Errors: [`AppError::NotFound`] for an unknown username.
pub async fn operator_for(store: &Store, username: &str) -> Result<Caller, AppError> {
    let row = store.user_by_username(username).await?.ok_or_else(|| AppError::NotFound(format!("用户 {username} 不存在 (no such user)")))?;
    Ok(Caller::operator(AreaCode::parse(&row.area_code).map_err(|e| AppError::Invalid(e.to_string()))?))
}

/// [`set_disabled`] by username (the CLI, with [`operator_for`]).
///
/// Errors: [`AppError::NotFound`] for an unknown username or one outside the caller's area;
/// [`AppError::Forbidden`] unless `caller` manages users.
pub async fn set_disabled_by_username(store: &Store, caller: &Caller, username: &str, disabled: bool, now: DateTime<Utc>) -> Result<Account, AppError> {
    let row = store.user_by_username(username).await?.ok_or_else(|| AppError::NotFound(format!("用户 {username} 不存在 (no such user)")))?;
    let row = other_target(store, caller, row.id, now).await?;
    write_disabled(store, caller, row, disabled, now).await
}

/// Gives user `id` the role `role` and the area `area` (a code). The new area must exist, lie
/// inside the caller's area and fit the role's level ([`Role::fits_level`]). Audited
/// `user.edited` with the old and the new role and area. The user's sessions stay and see the
/// new role and area from their next request.
///
/// Errors: as [`get`]; [`AppError::NotFound`] for a new area outside the caller's (audited);
/// [`AppError::Fields`] (`area`) for an invalid or unknown area or one that does not fit the
/// role; [`AppError::Invalid`] for the caller's own account.
pub async fn edit(store: &Store, caller: &Caller, id: i64, role: Role, area: &str, now: DateTime<Utc>) -> Result<Account, AppError> {
    let mut row = other_target(store, caller, id, now).await?;
    let area = AreaCode::parse(area.trim()).map_err(|e| AppError::Fields(vec![("area".into(), e.to_string())]))?;
    gate::admit(store, caller, Action::ManageUsers, Some(&area), now).await?;
    if store.area(&area).await?.is_none() {
        return Err(AppError::Fields(vec![("area".into(), format!("地区 {area} 不存在 (unknown area)"))]));
    }
    if !role.fits_level(area.level()) {
        let m = format!("{}的地区应为{} (area level does not fit the role)", role.name_zh(), auth::level_for(role));
        return Err(AppError::Fields(vec![("area".into(), m)]));
    }
    let old = serde_json::json!({"role": row.role, "area": row.area_code});
    let new = serde_json::json!({"username": row.username, "role": role.code(), "area": area.as_str()});
    let e = Entry { old_value: Some(old.to_string()), new_value: Some(new.to_string()), ..user_entry(AuditAction::UserEdited, &row) };
    let entry = audit::entry_row(&caller.user.username, &caller.remote_addr, e, now);
    store.change_user(row.id, &UserChange::RoleArea { role: role.code(), area_code: area.as_str() }, &entry).await?;
    row.role = role.code().into();
    row.area_code = area.as_str().into();
    account_of(row)
}

/// The fields of the own-password form (`/account`).
#[derive(Debug, Clone, Default)]
pub struct PasswordChange {
    /// The current password.
    pub old_password: String,
    /// The new password ([`check_password`]'s rules).
    pub new_password: String,
    /// The new password again.
    pub new_password2: String,
}

/// Changes `caller`'s own password (every role). The old password must be right: a wrong one is
/// refused, audited `user.password_change_refused`, and counts as a failed login of the user
/// from the caller's address (so that guesses from a session left open hit the login rate
/// limit, [`auth::MAX_FAILED_LOGINS`]). The new one must pass [`check_password`], be typed
/// twice alike and differ from the old. On success (audited `user.password_changed`) every
/// other session of the user ends; `keep_session` (the session asking) stays.
///
/// Errors: [`AppError::RateLimited`] after too many failed logins or refused changes;
/// [`AppError::Fields`] naming `old_password`, `new_password` or `new_password2`;
/// [`AppError::NotFound`] when the caller is no stored user (the CLI operator).
pub async fn change_own_password(store: &Store, caller: &Caller, keep_session: Option<&str>, f: &PasswordChange, now: DateTime<Utc>) -> Result<(), AppError> {
    let row = store.user_by_id(caller.user.id).await?.ok_or_else(|| AppError::NotFound("用户".into()))?;
    let ip = caller.remote_addr.rsplit_once(':').map_or(caller.remote_addr.as_str(), |(ip, _)| ip);
    let since = stamp(now - Duration::minutes(auth::RATE_WINDOW_MINUTES));
    if store.failed_logins_since(&row.username, ip, &since).await? >= auth::MAX_FAILED_LOGINS {
        return Err(AppError::RateLimited(format!("{} 分钟内失败次数过多", auth::RATE_WINDOW_MINUTES)));
    }
    let (pw, hash) = (f.old_password.clone(), row.password_hash.clone());
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&pw, &hash))
        .await
        .map_err(|e| AppError::Invalid(format!("密码校验失败 (password check failed): {e}")))?;
    if !verified {
        store.record_login_attempt(&row.username, ip, &stamp(now), false).await?;
        audit::append(store, &caller.user.username, &caller.remote_addr, user_entry(AuditAction::UserPasswordChangeRefused, &row), now).await?;
        return Err(AppError::Fields(vec![("old_password".into(), "原密码不正确 (wrong current password)".into())]));
    }
    let mut errors = Vec::new();
    if let Err(m) = check_password(&row.username, &f.new_password) {
        errors.push(("new_password".into(), m));
    } else if f.new_password == f.old_password {
        errors.push(("new_password".into(), "新密码不能与原密码相同 (the new password must differ from the old)".into()));
    }
    if f.new_password2 != f.new_password {
        errors.push(("new_password2".into(), "两次输入的新密码不一致 (the new passwords differ)".into()));
    }
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    let hash = auth::hash_blocking(&f.new_password).await?;
    let entry = audit::entry_row(&caller.user.username, &caller.remote_addr, user_entry(AuditAction::UserPasswordChanged, &row), now);
    store.change_user(row.id, &UserChange::Password { hash: &hash, keep_session }, &entry).await?;
    Ok(())
}
