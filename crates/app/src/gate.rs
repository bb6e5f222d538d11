//! The one gate (权限与脱敏): who may do what, where, and how much of a citizen ID they see.
//!
//! Every use-case of this crate asks here, with the [`Caller`] it was given: the web server
//! builds the caller from the session, the CLI from its operator ([`Caller::operator`]). No
//! other crate decides: `crates/web` calls no `authorize` and matches no role (enforced by
//! `tests/tidy.rs`); pages learn what to offer from [`permissions`].
//!
//! The decision is one table, [`RULES`]: for each [`Action`] the roles allowed and the
//! [`Reach`] of the target area. The person scope rule (a person is in a caller's area *today*
//! when registered there, 流出 included, or living there as 流入) is the store's
//! (`renkou_store::persons::push_scope`); every person query passes the caller's area to it, so a
//! person outside is "not found". A refusal answers [`AppError::Forbidden`] (the role may not) or
//! [`AppError::NotFound`] (another area: the caller learns nothing about it); [`admit`] also
//! writes the refusal to the audit log.
//!
//! Masking ([`citizen_id_for`]): PIPL Art. 28 makes the citizen ID sensitive personal information,
//! Art. 6 asks for the minimum necessary. The whole number is shown only on a person's own
//! detail page (an audited read of one person) to the roles that keep the register; every list,
//! export, household member row and import message shows `130131********0010`.

use chrono::{DateTime, Utc};
use renkou_core::area::AreaCode;
use renkou_store::Store;

use crate::audit::{self, AuditAction};
use crate::auth::{Caller, Role, User};
use crate::AppError;

/// Something a caller may want to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read aggregate figures and charts, download reports.
    ViewFigures,
    /// Read lists of persons and person details (names, IDs), drill-down lists, check results.
    ViewPersons,
    /// Record events, household changes and corrections through the register engine.
    RecordEvents,
    /// Import files of records (many changes at once).
    ImportFiles,
    /// Create and rename villager groups, assign households to them.
    ManageGroups,
    /// Read the monthly reports (月报) of groups.
    ViewMonthly,
    /// Fill in a group's monthly report: only the group's own leader.
    FillMonthly,
    /// Review (审核) a monthly report.
    ReviewMonthly,
    /// Edit the area's user-defined validation rules.
    EditRules,
    /// Add, edit, disable users and reset their passwords.
    ManageUsers,
    /// Search the audit log.
    ViewAudit,
}

/// How far an action reaches from the caller's own area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The caller's area and everything inside it.
    Within,
    /// Exactly the caller's own area (a group leader's own group).
    Own,
}

const ALL: &[Role] = &Role::ALL;
const REGISTER: &[Role] = &[Role::TownshipAdmin, Role::TownshipStaff, Role::VillageSpecialist, Role::GroupLeader];
const TOWNSHIP: &[Role] = &[Role::TownshipAdmin, Role::TownshipStaff];
const ADMIN: &[Role] = &[Role::TownshipAdmin];

/// The table of action × role × reach: the one place that decides. Leaders (领导) see figures
/// only; group leaders keep the register of their group and fill in its monthly report; village
/// specialists keep their village's register and its groups; township staff also import and
/// review; the township administrator also manages users, rules and reads the audit log.
pub const RULES: &[(Action, &[Role], Reach)] = &[
    (Action::ViewFigures, ALL, Reach::Within),
    (Action::ViewPersons, REGISTER, Reach::Within),
    (Action::RecordEvents, REGISTER, Reach::Within),
    (Action::ImportFiles, TOWNSHIP, Reach::Within),
    (Action::ManageGroups, &[Role::TownshipAdmin, Role::TownshipStaff, Role::VillageSpecialist], Reach::Within),
    (Action::ViewMonthly, REGISTER, Reach::Within),
    (Action::FillMonthly, &[Role::GroupLeader], Reach::Own),
    (Action::ReviewMonthly, TOWNSHIP, Reach::Within),
    (Action::EditRules, ADMIN, Reach::Within),
    (Action::ManageUsers, ADMIN, Reach::Within),
    (Action::ViewAudit, ADMIN, Reach::Within),
];

fn rule(action: Action) -> (&'static [Role], Reach) {
    RULES.iter().find(|(a, _, _)| *a == action).map(|(_, r, reach)| (*r, *reach)).expect("every action has a rule")
}

/// True when `user`'s role may do `action` at all (wherever).
pub fn allows(user: &User, action: Action) -> bool {
    rule(action).0.contains(&user.role)
}

/// Checks that `user` may do `action` on `target` (an area; `None` = the user's own area).
///
/// Errors: [`AppError::Forbidden`] when the role may not do the action at all;
/// [`AppError::NotFound`] when the target area lies outside the user's reach (a village
/// specialist asking for another village learns nothing about it).
pub fn authorize(user: &User, action: Action, target: Option<&AreaCode>) -> Result<(), AppError> {
    let (roles, reach) = rule(action);
    if !roles.contains(&user.role) {
        return Err(AppError::Forbidden(format!("{}不能进行此操作 (role {} may not do {action:?})", user.role.name_zh(), user.role.code())));
    }
    if let Some(t) = target {
        let inside = match reach {
            Reach::Within => user.area.contains(t),
            Reach::Own => &user.area == t,
        };
        if !inside {
            return Err(AppError::NotFound(format!("地区 {t} 不在您的管辖范围内或不存在")));
        }
    }
    Ok(())
}

/// [`authorize`], and a refusal is written to the audit log (`access.refused`, with the action
/// and the refused area; PIPL: attempts to reach data outside one's duty are what an audit is
/// for). Errors: as [`authorize`], or the store's.
pub async fn admit(store: &Store, caller: &Caller, action: Action, target: Option<&AreaCode>, now: DateTime<Utc>) -> Result<(), AppError> {
    match authorize(&caller.user, action, target) {
        Ok(()) => Ok(()),
        Err(e) => {
            refused(store, caller, action, target.map(AreaCode::as_str), None, now).await?;
            Err(e)
        }
    }
}

/// Writes `access.refused` for `caller`: the action, the area or record asked for (a record's
/// store id only, never what it holds). Called by [`admit`] and by use-cases that find a record
/// outside the caller's area.
pub async fn refused(
    store: &Store,
    caller: &Caller,
    action: Action,
    area: Option<&str>,
    record: Option<(&str, i64)>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let v = serde_json::json!({"action": format!("{action:?}"), "area": area});
    let (entity, id) = record.map_or(("area", area.map(String::from)), |(e, id)| (e, Some(id.to_string())));
    audit::record(store, caller, AuditAction::AccessRefused, entity, id, None, None, Some(v.to_string()), now).await
}

/// What a caller may do, for pages deciding which links and buttons to offer (the decision
/// itself is made again by each use-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    /// Person search, details, drill-down lists.
    pub view_persons: bool,
    /// Event and correction forms.
    pub record_events: bool,
    /// The import page.
    pub import_files: bool,
    /// The groups page.
    pub manage_groups: bool,
    /// The monthly reports.
    pub view_monthly: bool,
    /// Fill in the own group's monthly report.
    pub fill_monthly: bool,
    /// Review monthly reports.
    pub review_monthly: bool,
    /// Edit the user rules.
    pub edit_rules: bool,
    /// The user page.
    pub manage_users: bool,
    /// The audit page.
    pub view_audit: bool,
}

/// What `caller`'s role allows (see [`RULES`]).
pub fn permissions(caller: &Caller) -> Permissions {
    permissions_of(&caller.user)
}

/// What `user`'s role allows (see [`RULES`]).
pub fn permissions_of(user: &User) -> Permissions {
    let a = |action| allows(user, action);
    Permissions {
        view_persons: a(Action::ViewPersons),
        record_events: a(Action::RecordEvents),
        import_files: a(Action::ImportFiles),
        manage_groups: a(Action::ManageGroups),
        view_monthly: a(Action::ViewMonthly),
        fill_monthly: a(Action::FillMonthly),
        review_monthly: a(Action::ReviewMonthly),
        edit_rules: a(Action::EditRules),
        manage_users: a(Action::ManageUsers),
        view_audit: a(Action::ViewAudit),
    }
}

/// The words of every refusal of a record outside the caller's area (it reads like a record
/// that does not exist and names nothing of it); [`crate::forms::record_event`] audits a
/// refused form by them.
pub const OUTSIDE_AREA: &str = "不存在或不在您的管辖范围内";

/// Why a citizen ID is being shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The person's own detail page or record (one audited read).
    Detail,
    /// Anything that lists several persons: search results, household members, drill-down
    /// lists, check results, exports, import messages.
    List,
    /// A list the CLI operator asked to export with whole numbers (`--unmask`): whole for the
    /// operator ([`Caller::operator`]), masked for anyone else.
    OperatorExport,
}

/// The citizen ID as `user` may see it for `purpose`: the whole number on a detail read by a
/// role that keeps the register, masked (`130131********0010`, first 6 and last 4 digits) in
/// every other case. The one place IDs are masked for people.
pub fn citizen_id_for(user: &User, purpose: Purpose, id: &str) -> String {
    match purpose {
        Purpose::Detail if allows(user, Action::ViewPersons) => id.to_string(),
        Purpose::OperatorExport if user.id == crate::auth::OPERATOR_ID => id.to_string(),
        _ => renkou_core::citizen_id::mask(id),
    }
}

/// [`citizen_id_for`] over an optional ID.
pub fn citizen_id_opt(user: &User, purpose: Purpose, id: Option<&str>) -> Option<String> {
    id.map(|i| citizen_id_for(user, purpose, i))
}
