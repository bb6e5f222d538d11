//! Users, roles, sessions and authorization (用户、角色与权限).
//!
//! Who may do what is decided in [`crate::gate`]. Passwords are hashed with Argon2id (PHC
//! strings); sessions are random 256-bit tokens stored server-side with their CSRF token.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use renkou_core::area::{AreaCode, AreaLevel};
use renkou_store::{NewUserRow, Store, UserRow};
use serde::Serialize;

use crate::audit::{self, AuditAction, Entry};
pub use crate::gate::{authorize, Action};
use crate::AppError;

/// How long a session lasts without a new login.
pub const SESSION_HOURS: i64 = 8;
/// A session unused this long ends (an office PC left logged in), besides [`SESSION_HOURS`].
pub const IDLE_MINUTES: i64 = 30;
/// Failed logins (per username and remote address) allowed within [`RATE_WINDOW_MINUTES`].
pub const MAX_FAILED_LOGINS: i64 = 5;
/// The rate-limit window, minutes.
pub const RATE_WINDOW_MINUTES: i64 = 15;
/// Failed logins from one address, whatever the usernames, allowed within
/// [`RATE_WINDOW_MINUTES`] (guessing across many usernames from one machine).
pub const MAX_FAILED_LOGINS_PER_ADDRESS: i64 = 20;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Common passwords refused whatever their length (`data/common-passwords.txt`).
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Checks a new password of the user `username`: at least [`MIN_PASSWORD_CHARS`] characters,
/// not one character repeated, not on the list of common passwords (compared without regard to
/// case), and not containing the username (`gleader1234` for `gleader`). The one place
/// passwords are judged (user creation, password changes and resets).
///
/// Errors: the reason, in Chinese with the English in brackets.
pub fn check_password(username: &str, p: &str) -> Result<(), String> {
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("密码至少{MIN_PASSWORD_CHARS}位 (password: at least {MIN_PASSWORD_CHARS} characters)"));
    }
    let lower = p.to_lowercase();
    let mut chars = p.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) || COMMON_PASSWORDS.lines().map(str::trim).any(|c| !c.starts_with('#') && c == lower) {
        return Err("密码过于常见, 容易被猜到, 请换一个 (password too common)".into());
    }
    let name = username.trim().to_lowercase();
    if name.chars().count() >= 3 && lower.contains(&name) {
        return Err("密码不能包含用户名 (password contains the username)".into());
    }
    Ok(())
}

/// A role (角色). What each may do is in [`crate::gate::RULES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 乡镇管理员: everything in the township, users and the audit log.
    TownshipAdmin,
    /// 乡镇工作人员: register and reports of the township.
    TownshipStaff,
    /// 村计生专干: register and reports of her own village.
    VillageSpecialist,
    /// 育龄妇女小组长: register of her own villager group (monthly report entry).
    GroupLeader,
    /// 领导: figures only, no personal details.
    Leader,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [Role::TownshipAdmin, Role::TownshipStaff, Role::VillageSpecialist, Role::GroupLeader, Role::Leader];

    /// Database code.
    pub fn code(self) -> &'static str {
        match self {
            Role::TownshipAdmin => "township_admin",
            Role::TownshipStaff => "township_staff",
            Role::VillageSpecialist => "village_specialist",
            Role::GroupLeader => "group_leader",
            Role::Leader => "leader",
        }
    }
    /// From the database code.
    pub fn from_code(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == s)
    }
    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Role::TownshipAdmin => "乡镇管理员",
            Role::TownshipStaff => "乡镇工作人员",
            Role::VillageSpecialist => "村计生专干",
            Role::GroupLeader => "育龄妇女小组长",
            Role::Leader => "领导(只看统计数字)",
        }
    }
    /// Whether the role may have an area at `level`: village specialists a village, group
    /// leaders a group, the township roles a township or anything above.
    pub fn fits_level(self, level: AreaLevel) -> bool {
        match self {
            Role::VillageSpecialist => level == AreaLevel::Village,
            Role::GroupLeader => level == AreaLevel::Group,
            _ => level <= AreaLevel::Township,
        }
    }
}

/// Every role, in the order forms list them.
pub fn roles() -> [Role; 5] {
    Role::ALL
}

/// The role stored or submitted as `code` (`township_admin`, …), if any.
pub fn parse_role(code: &str) -> Option<Role> {
    Role::from_code(code)
}

/// A logged-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Store id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The area the user is responsible for: the scope of everything they see.
    pub area: AreaCode,
    /// Name shown in the page header.
    pub display_name: String,
}

impl User {
    /// The user's scope (the area every query is limited to).
    pub fn scope(&self) -> &AreaCode {
        &self.area
    }
}

/// Who is asking, and from where (for the audit log).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// Remote address of the request (`127.0.0.1:51234`, or `cli`).
    pub remote_addr: String,
}

/// The user id of the CLI operator ([`Caller::operator`]); stored users start at 1.
pub const OPERATOR_ID: i64 = 0;

impl Caller {
    /// The operator of the command line: whoever can run `renkou` on the machine holding the
    /// database file can read the file anyway, so the CLI acts as a township administrator of
    /// `area` ([`operator_area`]: the whole register unless `--area` narrows it), audited as
    /// user `cli` from `cli`.
    pub fn operator(area: AreaCode) -> Caller {
        Caller {
            user: User { id: OPERATOR_ID, username: "cli".into(), role: Role::TownshipAdmin, area, display_name: "命令行操作员 (CLI operator)".into() },
            remote_addr: "cli".into(),
        }
    }
}

/// The area of the CLI operator: `narrow` when given (it must exist), else the area that holds
/// the whole register ([`default_admin_area`]: the deepest area containing every residence).
///
/// Errors: [`AppError::Invalid`] for an unknown area or a register with no area at all.
pub async fn operator_area(store: &Store, narrow: Option<&str>) -> Result<AreaCode, AppError> {
    match narrow {
        Some(code) => Ok(crate::report::resolve_area(store, code).await?.code),
        None => default_admin_area(store).await?.ok_or_else(|| AppError::Invalid("数据库中还没有地区 (no areas yet: import areas first)".into())),
    }
}

/// ISO 8601 UTC text of a time, as stored (`2024-05-01T08:30:00Z`), sortable as text.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Hashes a password with Argon2id (default parameters: 19 MiB, 2 passes), as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| AppError::Invalid(format!("密码无法加密 (cannot hash password): {e}")))
}

/// [`hash_password`] on a blocking thread (Argon2 is CPU work; async workers serve requests).
pub(crate) async fn hash_blocking(password: &str) -> Result<String, AppError> {
    let p = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&p)).await.map_err(|e| AppError::Invalid(format!("密码无法加密 (cannot hash password): {e}")))?
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// `n` random bytes as lower-case hex (tokens: session ids, CSRF tokens).
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("operating system random source");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random 12-character password from letters and digits that are not easily confused.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 12];
    getrandom::fill(&mut buf).expect("operating system random source");
    buf.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

pub(crate) fn user_of(row: UserRow) -> Result<User, AppError> {
    Ok(User {
        id: row.id,
        role: Role::from_code(&row.role).ok_or_else(|| AppError::Invalid(format!("未知角色 {}", row.role)))?,
        area: AreaCode::parse(&row.area_code).map_err(|e| AppError::Invalid(e.to_string()))?,
        username: row.username,
        display_name: row.display_name,
    })
}

/// A new user as entered on the CLI or the user page.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name: 2–32 letters, digits, `_`, `-` or `.`.
    pub username: String,
    /// Password (see [`check_password`]).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Area code (must exist and fit the role's level).
    pub area: String,
    /// Display name (the username when empty).
    pub display_name: String,
}

/// Adds a user. `actor` is the administrator doing it (the CLI: [`Caller::operator`]); the new
/// user's area must lie inside the actor's.
///
/// Errors: [`AppError::Fields`] for an invalid username, password, area or role/level mismatch
/// or a taken username; [`AppError::Forbidden`] when the actor is not an administrator.
pub async fn add_user(store: &Store, actor: &Caller, u: &NewUser, now: DateTime<Utc>) -> Result<User, AppError> {
    let mut errors = Vec::new();
    let name_ok = (2..=32).contains(&u.username.chars().count()) && u.username.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !name_ok {
        errors.push(("username".into(), "用户名应为2-32位字母、数字或 _ - . (username: 2–32 of a-z 0-9 _ - .)".into()));
    }
    if let Err(m) = check_password(&u.username, &u.password) {
        errors.push(("password".into(), m));
    }
    let area = match AreaCode::parse(&u.area) {
        Ok(a) => match store.area(&a).await? {
            Some(_) if !u.role.fits_level(a.level()) => {
                errors.push(("area".into(), format!("{}的地区应为{} (area level does not fit the role)", u.role.name_zh(), level_for(u.role))));
                None
            }
            Some(_) => Some(a),
            None => {
                errors.push(("area".into(), format!("地区 {a} 不存在 (unknown area)")));
                None
            }
        },
        Err(e) => {
            errors.push(("area".into(), e.to_string()));
            None
        }
    };
    authorize(&actor.user, Action::ManageUsers, area.as_ref())?;
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    let area = area.expect("checked");
    let row = NewUserRow {
        username: u.username.clone(),
        password_hash: hash_blocking(&u.password).await?,
        role: u.role.code().into(),
        area_code: area.as_str().into(),
        display_name: if u.display_name.trim().is_empty() { u.username.clone() } else { u.display_name.trim().to_string() },
        created_at: stamp(now),
    };
    let id = match store.insert_user(&row).await {
        Ok(id) => id,
        Err(renkou_store::StoreError::Conflict(m)) => return Err(AppError::Fields(vec![("username".into(), m)])),
        Err(e) => return Err(e.into()),
    };
    let user = User { id, username: row.username.clone(), role: u.role, area: area.clone(), display_name: row.display_name.clone() };
    let v = serde_json::json!({"username": row.username, "role": row.role, "area": row.area_code});
    audit::record(store, actor, AuditAction::UserAdd, "user", Some(id.to_string()), Some(area.as_str()), None, Some(v.to_string()), now).await?;
    Ok(user)
}

pub(crate) fn level_for(r: Role) -> &'static str {
    match r {
        Role::VillageSpecialist => "行政村(12位代码)",
        Role::GroupLeader => "村民小组(15位代码)",
        _ => "乡镇或以上",
    }
}

/// A new session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie value.
    pub id: String,
    /// The token every form of the session carries.
    pub csrf_token: String,
    /// The user.
    pub user: User,
}

fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("renkou-dummy-password").expect("hash"))
}

/// Logs a user in: checks the rate limit, the password, records the attempt and opens a
/// session that lasts [`SESSION_HOURS`].
///
/// Errors: [`AppError::RateLimited`] after [`MAX_FAILED_LOGINS`] failures for this username and
/// address within [`RATE_WINDOW_MINUTES`]; [`AppError::Unauthenticated`] for a wrong username
/// or password (the two are not told apart); [`AppError::Forbidden`] for the right password of
/// a disabled account (audited `login.disabled`).
pub async fn login(store: &Store, username: &str, password: &str, remote_addr: &str, now: DateTime<Utc>) -> Result<Session, AppError> {
    let username = username.trim();
    let ip = remote_addr.rsplit_once(':').map_or(remote_addr, |(ip, _)| ip);
    let since = stamp(now - Duration::minutes(RATE_WINDOW_MINUTES));
    if store.failed_logins_since(username, ip, &since).await? >= MAX_FAILED_LOGINS
        || store.failed_logins_from_since(ip, &since).await? >= MAX_FAILED_LOGINS_PER_ADDRESS
    {
        // A refused attempt is audited (PIPL: who tried to get in, from where).
        audit::append(store, username, remote_addr, Entry::new(AuditAction::LoginLocked, "user"), now).await?;
        return Err(AppError::RateLimited(format!("{RATE_WINDOW_MINUTES} 分钟内失败次数过多")));
    }
    let row = store.user_by_username(username).await?;
    // Argon2 takes tens of milliseconds of CPU: on a blocking thread, not an async worker
    // (concurrent logins would otherwise stall every other request). Same work for an unknown
    // username, so the response time does not reveal which usernames exist.
    let (pw, hash, known) = match &row {
        Some(r) => (password.to_string(), r.password_hash.clone(), true),
        None => (password.to_string(), dummy_hash().to_string(), false),
    };
    let verified = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|e| AppError::Invalid(format!("密码校验失败 (password check failed): {e}")))?;
    let ok = known && verified;
    let disabled = row.as_ref().is_some_and(|r| r.disabled_at.is_some());
    // A disabled account's right password is no successful login (it resets no failure count).
    store.record_login_attempt(username, ip, &stamp(now), ok && !disabled).await?;
    let Some(row) = row.filter(|_| ok) else {
        audit::append(store, username, remote_addr, Entry::new(AuditAction::LoginFailed, "user"), now).await?;
        return Err(AppError::Unauthenticated("用户名或密码错误".into()));
    };
    // Told only after the right password, so that the state of an account is not probed.
    if disabled {
        let e = Entry { entity_id: Some(row.id.to_string()), area_code: Some(&row.area_code), ..Entry::new(AuditAction::LoginDisabled, "user") };
        audit::append(store, &row.username, remote_addr, e, now).await?;
        return Err(AppError::Forbidden("账号已停用, 请联系管理员 (account disabled)".into()));
    }
    let user = user_of(row)?;
    let id = random_token(32);
    let csrf_token = random_token(32);
    store.insert_session(&id, user.id, &csrf_token, &stamp(now + Duration::hours(SESSION_HOURS)), &stamp(now)).await?;
    audit::append(store, &user.username, remote_addr, Entry { entity_id: Some(user.id.to_string()), ..Entry::new(AuditAction::Login, "user") }, now).await?;
    Ok(Session { id, csrf_token, user })
}

/// The user and CSRF token of a live session, or `None` (expired, idle for [`IDLE_MINUTES`],
/// logged out, unknown). A use renews the idle time.
pub async fn session(store: &Store, id: &str, now: DateTime<Utc>) -> Result<Option<(User, String)>, AppError> {
    let idle_since = stamp(now - Duration::minutes(IDLE_MINUTES));
    let renew_before = stamp(now - Duration::minutes(1));
    match store.session_user(id, &stamp(now), &idle_since, &renew_before).await? {
        Some((row, csrf)) => Ok(Some((user_of(row)?, csrf))),
        None => Ok(None),
    }
}

/// Ends `caller`'s session `id`; audited as `logout`.
pub async fn logout(store: &Store, caller: &Caller, id: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    store.delete_session(id, &stamp(now)).await?;
    audit::record(store, caller, AuditAction::Logout, "user", Some(caller.user.id.to_string()), None, None, None, now).await
}

/// Sets a user's password (the CLI's operator, [`Caller::operator`]). Ends the user's sessions.
///
/// Errors: [`AppError::Forbidden`] unless `caller` manages users; [`AppError::Fields`] for a weak
/// password; [`AppError::NotFound`] for an unknown user.
pub async fn set_password(store: &Store, caller: &Caller, username: &str, password: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    authorize(&caller.user, Action::ManageUsers, None)?;
    if let Err(m) = check_password(username, password) {
        return Err(AppError::Fields(vec![("password".into(), m)]));
    }
    store.set_password_hash(username, &hash_blocking(password).await?).await.map_err(|e| match e {
        renkou_store::StoreError::Conflict(m) => AppError::NotFound(m),
        e => e.into(),
    })?;
    // The entry names the user by store id and area, as every other user entry does (the area
    // also puts it on the audit page of the user's administrators).
    let row = store.user_by_username(username).await?;
    let (id, area) = row.map_or((None, None), |r| (Some(r.id.to_string()), Some(r.area_code)));
    audit::record(store, caller, AuditAction::UserPassword, "user", id, area.as_deref(), None, None, now).await
}

/// The area a first administrator is responsible for: the deepest known area that contains
/// every residence episode (the demo township on the demo register), or a top-level area.
pub async fn default_admin_area(store: &Store) -> Result<Option<AreaCode>, AppError> {
    if let Some((lo, hi)) = store.residence_code_bounds().await? {
        let common: String = lo.chars().zip(hi.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect();
        for len in [15usize, 12, 9, 6, 4, 2] {
            if common.len() >= len {
                if let Ok(code) = AreaCode::parse(&common[..len]) {
                    if store.area(&code).await?.is_some() {
                        return Ok(Some(code));
                    }
                }
            }
        }
    }
    Ok(store.first_root_area().await?.and_then(|c| AreaCode::parse(&c).ok()))
}

/// On a register with no users, creates the administrator `admin` with a random password for
/// the [`default_admin_area`]; returns `(user, password)`, or `None` when users exist or there
/// is no area yet.
pub async fn ensure_first_admin(store: &Store, now: DateTime<Utc>) -> Result<Option<(User, String)>, AppError> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let Some(area) = default_admin_area(store).await? else { return Ok(None) };
    let password = generate_password();
    let u =
        NewUser {
            username: "admin".into(), password: password.clone(), role: Role::TownshipAdmin, area: area.as_str().into(), display_name: "管理员".into()
        };
    Ok(Some((add_user(store, &Caller::operator(area), &u, now).await?, password)))
}
