//! The audit log (审计日志): every read of persons' data and every change is written here with
//! who, when, from where, the old and new value, and how many persons' data the entry showed.
//! Only administrators search it ([`search`]); [`bulk_readers`] flags users who read more
//! persons in an hour than a threshold (PIPL Art. 51, 54: audits of access to personal data).
//!
//! Changes are audited in the same transaction as the change ([`crate::register::apply`]
//! through `Store::write_batch`); reads and refusals right after they are decided.

use chrono::{DateTime, Utc};
use renkou_core::command::Command;
use renkou_store::Store;
pub use renkou_store::{AuditEntry, AuditFilter, BulkReader};

use crate::auth::{stamp, Caller};
use crate::gate::Action;
use crate::AppError;

/// Persons read by one user within one hour above which the audit page flags the user
/// (configurable with `renkou serve --bulk-read-threshold`).
pub const DEFAULT_BULK_READ_THRESHOLD: i64 = 200;

macro_rules! audit_actions {
    ($($(#[doc = $doc:literal])* $v:ident = $s:literal,)*) => {
        /// What an audit entry records. Stored as its code ([`AuditAction::code`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction { $($(#[doc = $doc])* $v,)* }

        impl AuditAction {
            /// Every action.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$v,)*];
            /// The stored code, e.g. `person.read`.
            pub fn code(self) -> &'static str {
                match self { $(AuditAction::$v => $s,)* }
            }
        }
    };
}

audit_actions! {
    /// A person's detail page or record.
    PersonRead = "person.read",
    /// A household with its members.
    HouseholdRead = "household.read",
    /// A person search (the query is kept here only).
    PersonSearch = "person.search",
    /// The records behind a figure (drill-down list).
    ExplainRead = "explain.read",
    /// A report downloaded (CSV, XLSX).
    ReportDownload = "report.download",
    /// The logic checks run over an area (their list of findings).
    CheckRun = "check.run",
    /// A request refused: another area or a role without the right.
    AccessRefused = "access.refused",
    /// A login.
    Login = "login",
    /// A failed login.
    LoginFailed = "login.failed",
    /// A login refused by the rate limit.
    LoginLocked = "login.locked",
    /// A login with the right password refused: the account is disabled.
    LoginDisabled = "login.disabled",
    /// A logout.
    Logout = "logout",
    /// A user added.
    UserAdd = "user.add",
    /// A password set by the CLI operator.
    UserPassword = "user.password",
    /// A user changed their own password (`/account`).
    UserPasswordChanged = "user.password_changed",
    /// A change of one's own password refused: wrong old password.
    UserPasswordChangeRefused = "user.password_change_refused",
    /// An administrator reset a user's password (a generated one, shown once).
    UserPasswordReset = "user.password_reset",
    /// A user disabled (cannot log in, sessions ended).
    UserDisabled = "user.disabled",
    /// A disabled user enabled again.
    UserEnabled = "user.enabled",
    /// A user's role or area changed (old and new values in the entry).
    UserEdited = "user.edited",
    /// A file import written.
    ImportUpload = "import.upload",
    /// A file import rejected.
    ImportRejected = "import.rejected",
    /// The user rules of an area saved.
    RulesSave = "check.rules.save",
    /// A villager group added.
    GroupAdd = "group.add",
    /// A villager group renamed.
    GroupRename = "group.rename",
    /// A monthly report submitted.
    MonthlySubmit = "monthly.submit",
    /// A monthly report changed.
    MonthlyUpdate = "monthly.update",
    /// A monthly report reviewed.
    MonthlyReview = "monthly.review",
    /// A reviewed monthly report reopened.
    MonthlyReopen = "monthly.reopen",
    /// Register engine: a birth.
    BirthRecord = "birth.record",
    /// Register engine: a death.
    DeathRecord = "death.record",
    /// Register engine: a marriage.
    MarriageRecord = "marriage.record",
    /// Register engine: a divorce.
    DivorceRecord = "divorce.record",
    /// Register engine: a widowhood.
    WidowhoodRecord = "widowhood.record",
    /// Register engine: a registered move in.
    MoveInRecord = "move_in.record",
    /// Register engine: a registered move out.
    MoveOutRecord = "move_out.record",
    /// Register engine: a move between villages or groups.
    MoveRecord = "move.record",
    /// Register engine: an inflow (流入) starts.
    InflowRecord = "inflow.record",
    /// Register engine: an outflow (流出) starts.
    OutflowRecord = "outflow.record",
    /// Register engine: a floating episode ends.
    FloatingEndRecord = "floating_end.record",
    /// Register engine: a household created.
    HouseholdCreate = "household.create",
    /// Register engine: a person joins a household.
    HouseholdJoin = "household.join",
    /// Register engine: a person leaves a household.
    HouseholdLeave = "household.leave",
    /// Register engine: a new head of household.
    HouseholdChangeHead = "household.change_head",
    /// Register engine: a household split.
    HouseholdSplit = "household.split",
    /// Register engine: a person or household assigned to a villager group.
    GroupAssign = "group.assign",
    /// Register engine: a correction of a person's fields.
    PersonCorrect = "person.correct",
}

impl AuditAction {
    /// The action of a register engine command.
    pub fn of(command: &Command) -> AuditAction {
        match command {
            Command::Birth { .. } => AuditAction::BirthRecord,
            Command::Death { .. } => AuditAction::DeathRecord,
            Command::Marriage { .. } => AuditAction::MarriageRecord,
            Command::Divorce { .. } => AuditAction::DivorceRecord,
            Command::Widowhood { .. } => AuditAction::WidowhoodRecord,
            Command::MoveIn { .. } => AuditAction::MoveInRecord,
            Command::MoveOut { .. } => AuditAction::MoveOutRecord,
            Command::Move { .. } => AuditAction::MoveRecord,
            Command::InflowStart { .. } => AuditAction::InflowRecord,
            Command::OutflowStart { .. } => AuditAction::OutflowRecord,
            Command::FloatingEnd { .. } => AuditAction::FloatingEndRecord,
            Command::HouseholdCreate { .. } => AuditAction::HouseholdCreate,
            Command::HouseholdJoin { .. } => AuditAction::HouseholdJoin,
            Command::HouseholdLeave { .. } => AuditAction::HouseholdLeave,
            Command::HouseholdChangeHead { .. } => AuditAction::HouseholdChangeHead,
            Command::HouseholdSplit { .. } => AuditAction::HouseholdSplit,
            Command::AssignGroup { .. } => AuditAction::GroupAssign,
            Command::Correction { .. } => AuditAction::PersonCorrect,
        }
    }

    /// True for reads (nothing changed): the CLI operator's reads are not logged, since whoever
    /// runs `renkou` on the machine holds the database file itself (and the CLI opens it
    /// read-only for reports); every change is logged, whoever makes it.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            AuditAction::PersonRead
                | AuditAction::HouseholdRead
                | AuditAction::PersonSearch
                | AuditAction::ExplainRead
                | AuditAction::ReportDownload
                | AuditAction::CheckRun
                | AuditAction::AccessRefused
        )
    }

    /// The action stored as `code`, if any.
    pub fn from_code(code: &str) -> Option<AuditAction> {
        Self::ALL.iter().copied().find(|a| a.code() == code)
    }
}

/// One entry to append (see [`append`]).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// What.
    pub action: AuditAction,
    /// Kind of record: `person`, `household`, `user`, `area`, `figure`, …
    pub entity: &'a str,
    /// Id of the record.
    pub entity_id: Option<String>,
    /// Area of the record (scopes the audit search).
    pub area_code: Option<&'a str>,
    /// Value before a change (JSON text).
    pub old_value: Option<String>,
    /// Value after a change, or what was read (JSON text).
    pub new_value: Option<String>,
    /// How many persons' data the entry showed (bulk-read flag).
    pub persons_read: i64,
}

impl<'a> Entry<'a> {
    /// An entry of `action` on `entity`, nothing else set.
    pub fn new(action: AuditAction, entity: &'a str) -> Self {
        Entry { action, entity, entity_id: None, area_code: None, old_value: None, new_value: None, persons_read: 0 }
    }
}

/// Appends `e` as done by `username` from `remote_addr` (logins: there is no caller yet).
pub async fn append(store: &Store, username: &str, remote_addr: &str, e: Entry<'_>, now: DateTime<Utc>) -> Result<(), AppError> {
    store.insert_audit(&entry_row(username, remote_addr, e, now)).await?;
    Ok(())
}

/// The stored row of `e` (for writing in a change's own transaction).
pub fn entry_row(username: &str, remote_addr: &str, e: Entry<'_>, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: stamp(now),
        username: username.into(),
        action: e.action.code().into(),
        entity: e.entity.into(),
        entity_id: e.entity_id,
        area_code: e.area_code.map(String::from),
        remote_addr: Some(remote_addr.into()),
        old_value: e.old_value,
        new_value: e.new_value,
        persons_read: e.persons_read,
    }
}

/// Appends an entry for `caller`. A [`AuditAction::PersonRead`] counts one person read.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    store: &Store,
    caller: &Caller,
    action: AuditAction,
    entity: &str,
    entity_id: Option<String>,
    area_code: Option<&str>,
    old_value: Option<String>,
    new_value: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let persons_read = i64::from(action == AuditAction::PersonRead);
    record_entry(store, caller, Entry { action, entity, entity_id, area_code, old_value, new_value, persons_read }, now).await
}

/// Appends a read of a list of `persons` persons for `caller` (search results, household
/// members, drill-down lists, exports): `value` is what was asked (JSON text).
#[allow(clippy::too_many_arguments)]
pub async fn record_list(
    store: &Store,
    caller: &Caller,
    action: AuditAction,
    entity: &str,
    entity_id: Option<String>,
    area_code: Option<&str>,
    value: String,
    persons: usize,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let e = Entry { action, entity, entity_id, area_code, old_value: None, new_value: Some(value), persons_read: persons as i64 };
    record_entry(store, caller, e, now).await
}

/// Appends `e` for `caller`; the CLI operator's reads are not logged ([`AuditAction::is_read`]).
async fn record_entry(store: &Store, caller: &Caller, e: Entry<'_>, now: DateTime<Utc>) -> Result<(), AppError> {
    if e.action.is_read() && caller.user.id == crate::auth::OPERATOR_ID {
        return Ok(());
    }
    append(store, &caller.user.username, &caller.remote_addr, e, now).await
}

/// Searches the log inside the administrator's area, newest first (at most `filter.limit`,
/// 200 when 0). Errors: [`AppError::Forbidden`] for other roles.
pub async fn search(store: &Store, caller: &Caller, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    crate::gate::admit(store, caller, Action::ViewAudit, None, chrono::Utc::now()).await?;
    Ok(store.search_audit(&caller.user.area, filter).await?)
}

/// Users of the administrator's area who read more than `threshold` persons within one clock
/// hour (UTC) since `since`, newest hour first (at most 100 rows): bulk reading is what PIPL's
/// audit duty is for. Errors: [`AppError::Forbidden`] for other roles.
pub async fn bulk_readers(store: &Store, caller: &Caller, since: DateTime<Utc>, threshold: i64) -> Result<Vec<BulkReader>, AppError> {
    crate::gate::admit(store, caller, Action::ViewAudit, None, chrono::Utc::now()).await?;
    Ok(store.bulk_readers(&caller.user.area, &stamp(since), threshold).await?)
}
