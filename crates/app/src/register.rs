//! The one function through which the register changes: [`apply`] (and [`plan`] for imports that
//! apply many commands at once).
//!
//! **Invariant:** every change to the register is a [`Command`] applied here, whoever asks
//! (an import row, a web form, the JSON API, a reconciliation or campaign outcome). What a
//! command does is decided once in [`renkou_core::command::Engine`]; this module scopes it to
//! the caller, loads the state it is checked against, and writes the records and the audit
//! entry in one transaction ([`Store::write_batch`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use renkou_core::area::AreaCode;
use renkou_core::command::{Applied, Arrival, Command, Engine, GroupTarget, Refusal};
use renkou_core::register::{HouseholdRef, PersonRef, RegisterBatch};
use renkou_store::{AuditTarget, BatchIds, PendingAudit, Store};

use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::gate::Action;
use crate::persons::name_initials;
use crate::AppError;

/// The outcome of [`plan`]: the batch of every command that was accepted, and one result per
/// command (a refused command contributed nothing).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Records to write.
    pub batch: RegisterBatch,
    /// Per command, in order: what it created, or why it was refused.
    pub results: Vec<Result<Applied, Refusal>>,
    /// For each marriage of `batch` created by a command, the command's index (marriages of the
    /// initial batch come first and have none).
    pub marriage_command: Vec<Option<usize>>,
}

impl Plan {
    /// The refusals, with the index of their command.
    pub fn refusals(&self) -> Vec<(usize, &Refusal)> {
        self.results.iter().enumerate().filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e))).collect()
    }
}

/// The refusal for a record outside the caller's area: it names nothing of the record (not even
/// its store id), and reads like a record that does not exist.
fn out_of_scope(field: &'static str, what: &str) -> Refusal {
    Refusal { field, reason: format!("{what}{} (not found or outside your area)", crate::gate::OUTSIDE_AREA) }
}

/// Checks `commands` in order against the stored register (and the records already in
/// `batch`, an import's persons file) and returns the records they produce.
///
/// `scope`: the caller's area; `None` is the CLI operator (the whole database). Inside a scope,
/// every stored person a command names must be in it now ([`Store::persons_in_scope`]: a
/// person who moved away is the new area's), every household must lie in it, except the person of a
/// move-in or inflow named by citizen ID (the receiving office learns only whether the move-out
/// is recorded) and the destination of a move (another township of the same database); areas of
/// registration must lie in it and exist.
///
/// Errors: [`AppError::Store`] when the look-ups fail. Refusals are per command in the plan.
pub async fn plan(store: &Store, scope: Option<&AreaCode>, batch: RegisterBatch, commands: &[Command], today: NaiveDate) -> Result<Plan, AppError> {
    let mut persons: Vec<i64> = Vec::new();
    let mut households: Vec<i64> = Vec::new();
    let mut area_codes: Vec<String> = Vec::new();
    for c in commands {
        persons.extend(c.stored_persons());
        if let Command::MoveIn { person: Arrival::Known(PersonRef::Stored(p)), .. }
        | Command::InflowStart { person: Arrival::Known(PersonRef::Stored(p)), .. } = c
        {
            persons.push(*p);
        }
        households.extend(c.stored_households());
        area_codes.extend(c.areas().into_iter().map(|a| a.as_str().to_string()));
    }
    persons.sort_unstable();
    persons.dedup();
    households.sort_unstable();
    households.dedup();
    area_codes.sort_unstable();
    area_codes.dedup();
    let in_scope: Option<(HashSet<i64>, HashSet<i64>)> = match scope {
        Some(s) => Some((store.persons_in_scope(s, &persons).await?, store.households_in_scope(s, &households).await?)),
        None => None,
    };
    let existing = store.existing_areas(&area_codes).await?;
    let (pstates, hstates) = store.engine_state(&persons, &households).await?;
    let new_nos: Vec<String> = commands
        .iter()
        .filter_map(|c| match c {
            Command::HouseholdCreate { household_no, .. } | Command::HouseholdSplit { household_no, .. } => Some(household_no.trim().to_string()),
            _ => None,
        })
        .collect();
    let taken: HashSet<String> = store.household_ids(&new_nos).await?.into_keys().collect();
    let new_ids: Vec<String> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Birth { child, .. } => child.citizen_id.as_ref().map(|c| c.as_str().to_string()),
            Command::MoveIn { person: Arrival::New(p), .. } | Command::InflowStart { person: Arrival::New(p), .. } => {
                p.citizen_id.as_ref().map(|c| c.as_str().to_string())
            }
            _ => None,
        })
        .collect();
    let taken_ids: HashMap<String, i64> = store.person_ids_by_citizen_id(&new_ids).await?;
    let mut marriage_command: Vec<Option<usize>> = vec![None; batch.marriages.len()];
    let tracked: HashSet<usize> = commands.iter().flat_map(|c| c.batch_persons()).collect();
    let mut engine = Engine::tracking(today, batch, pstates, hstates, taken, Some(tracked));
    let mut results = Vec::with_capacity(commands.len());
    for (i, c) in commands.iter().enumerate() {
        let r = check_scope(c, scope, in_scope.as_ref(), &existing, &taken_ids).and_then(|()| engine.apply(c));
        results.push(r);
        marriage_command.resize(engine.batch().marriages.len(), Some(i));
    }
    let mut batch = engine.finish();
    for (i, p) in batch.persons.iter().enumerate() {
        batch.name_initials.push((PersonRef::Batch(i), name_initials(&p.name)));
    }
    let corrected: Vec<(PersonRef, String)> = batch.corrections.iter().map(|c| (c.person, name_initials(&c.name))).collect();
    batch.name_initials.extend(corrected);
    Ok(Plan { batch, results, marriage_command })
}

fn check_scope(
    c: &Command,
    scope: Option<&AreaCode>,
    in_scope: Option<&(HashSet<i64>, HashSet<i64>)>,
    existing: &HashSet<String>,
    taken_ids: &HashMap<String, i64>,
) -> Result<(), Refusal> {
    for a in c.areas() {
        if !existing.contains(a.as_str()) {
            return Err(Refusal { field: area_field(c), reason: format!("地区 {a} 不存在 (no such area)") });
        }
        let destination = matches!(c, Command::Move { .. });
        if let (Some(s), false) = (scope, destination) {
            if !s.contains(a) {
                return Err(Refusal { field: area_field(c), reason: format!("地区 {a} 不在您的管辖范围内 (outside your area)") });
            }
        }
    }
    let new_id = match c {
        Command::Birth { child, .. } => child.citizen_id.as_ref(),
        Command::MoveIn { person: Arrival::New(p), .. } | Command::InflowStart { person: Arrival::New(p), .. } => p.citizen_id.as_ref(),
        _ => None,
    };
    if let Some(id) = new_id {
        if taken_ids.contains_key(id.as_str()) {
            return Err(Refusal {
                field: "citizen_id",
                reason: format!("公民身份号码 {id} 已在册: 迁入请按身份号码登记在册人员 (citizen ID already in the register)"),
            });
        }
    }
    let Some((persons, households)) = in_scope else { return Ok(()) };
    // The person of a move-in or inflow named by citizen ID may live anywhere in the database.
    let arriving = match c {
        Command::MoveIn { person: Arrival::Known(PersonRef::Stored(p)), .. } | Command::InflowStart { person: Arrival::Known(PersonRef::Stored(p)), .. } => {
            Some(*p)
        }
        _ => None,
    };
    for p in c.stored_persons().into_iter().filter(|p| Some(*p) != arriving) {
        if !persons.contains(&p) {
            return Err(out_of_scope(person_field(c), "人员"));
        }
    }
    let destination_household = matches!(c, Command::Move { .. });
    for h in c.stored_households() {
        if !households.contains(&h) && !destination_household {
            return Err(out_of_scope("household", "户"));
        }
    }
    Ok(())
}

fn area_field(c: &Command) -> &'static str {
    match c {
        Command::AssignGroup { .. } => "group",
        _ => "area",
    }
}

fn person_field(c: &Command) -> &'static str {
    match c {
        Command::Birth { .. } => "mother_id",
        Command::HouseholdChangeHead { .. } | Command::HouseholdCreate { .. } => "head",
        _ => "person_id",
    }
}

/// What [`apply`] wrote: the store ids of what the command created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// The person created, or the person the command is about.
    pub person: Option<i64>,
    /// The household created, or the one the command is about.
    pub household: Option<i64>,
}

fn form_field(f: &'static str) -> String {
    match f {
        "person" => "person_id".into(),
        "mother" => "mother_id".into(),
        "father" => "father_id".into(),
        "spouse" => "spouse_id".into(),
        // The household forms name the (new) head `person_id`.
        "head" => "person_id".into(),
        "former_head_relationship" => "relationship".into(),
        "household" => "household_id".into(),
        other => other.into(),
    }
}

/// Applies one command for `caller`: scoped, checked by the engine, written with its audit
/// entry (`Command::action`, the command as the new value, `old_value` as the old one) in one
/// transaction.
///
/// Errors: [`AppError::Forbidden`] for roles that may not record events; [`AppError::Fields`]
/// with the refused field (form field names: `person_id`, `date`, `area`, …) and the reason;
/// [`AppError::Store`].
pub async fn apply(
    store: &Store,
    caller: &Caller,
    command: Command,
    old_value: Option<String>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Written, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let plan = plan(store, Some(&caller.user.area), RegisterBatch::default(), std::slice::from_ref(&command), today).await?;
    let applied = match plan.results.into_iter().next().expect("one command") {
        Ok(a) => a,
        Err(r) => return Err(AppError::Fields(vec![(form_field(r.field), r.reason)])),
    };
    let target = match (applied.person, applied.household) {
        (Some(p), _) => AuditTarget::Person(p),
        (None, Some(h)) => AuditTarget::Household(h),
        (None, None) => subject(&command).map_or(AuditTarget::None, |s| s),
    };
    let area = audit_area(&command, &plan.batch);
    // The old values of what the command changes on stored persons (recorded marital status,
    // household and relationship, open episodes and marriages), unless the caller gave its own.
    let old_value = match old_value {
        Some(v) => Some(v),
        None => old_values(store, &plan.batch).await?,
    };
    let e = crate::audit::Entry {
        area_code: area.as_deref(),
        old_value,
        new_value: serde_json::to_string(&command).ok(),
        ..crate::audit::Entry::new(AuditAction::of(&command), if matches!(target, AuditTarget::Household(_)) { "household" } else { "person" })
    };
    let entry = crate::audit::entry_row(&caller.user.username, &caller.remote_addr, e, now);
    let ids = write(store, &plan.batch, &[PendingAudit { entry, target }]).await?;
    let resolve_p = |r: PersonRef| match r {
        PersonRef::Batch(i) => ids.persons[i],
        PersonRef::Stored(id) => id,
    };
    let resolve_h = |r: HouseholdRef| match r {
        HouseholdRef::Batch(i) => ids.households[i],
        HouseholdRef::Stored(id) => id,
    };
    let person = applied.person.map(resolve_p).or(match subject(&command) {
        Some(AuditTarget::Person(p)) => Some(resolve_p(p)),
        _ => None,
    });
    let household = applied.household.map(resolve_h).or(match subject(&command) {
        Some(AuditTarget::Household(h)) => Some(resolve_h(h)),
        _ => None,
    });
    Ok(Written { person, household })
}

/// The stored persons a batch changes, with their state before it (JSON), or `None`.
async fn old_values(store: &Store, batch: &RegisterBatch) -> Result<Option<String>, AppError> {
    let mut ids: Vec<i64> = Vec::new();
    let mut add = |r: &PersonRef| {
        if let PersonRef::Stored(id) = r {
            ids.push(*id);
        }
    };
    batch.marital_updates.iter().for_each(|(p, _)| add(p));
    batch.memberships.iter().for_each(|m| add(&m.person));
    batch.episode_ends.iter().for_each(|e| add(&e.person));
    batch.marriage_ends.iter().for_each(|m| add(&m.person));
    batch.regroupings.iter().for_each(|g| add(&g.person));
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(None);
    }
    let (states, _) = store.engine_state(&ids, &[]).await?;
    let mut out = serde_json::Map::new();
    for id in ids {
        if let Some(s) = states.get(&PersonRef::Stored(id)) {
            out.insert(
                id.to_string(),
                serde_json::json!({
                    "marital_status": s.marital_status,
                    "household": s.household,
                    "relationship": s.relationship,
                    "open_episodes": s.open.iter().map(|e| serde_json::json!({"kind": e.kind, "area": e.area.as_str(), "from": e.from})).collect::<Vec<_>>(),
                    "open_marriages": s.marriages.iter().map(|m| serde_json::json!({"spouse": m.spouse, "start": m.start})).collect::<Vec<_>>(),
                }),
            );
        }
    }
    Ok(Some(serde_json::Value::Object(out).to_string()))
}

/// Writes the batch of an import's [`plan`] and its `audit` entries in one transaction, calling `progress(done, total)`
/// (the import reports the store's own refusals at their rows).
///
/// Errors: [`renkou_store::StoreError`] as [`Store::write_batch`].
pub async fn write_import(
    store: &Store,
    batch: &RegisterBatch,
    audit: &[PendingAudit],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BatchIds, renkou_store::StoreError> {
    store.write_batch(batch, audit, progress).await
}

/// Writes a planned batch (and its audit entries) in one transaction; a store conflict or a
/// duplicate citizen ID becomes a form error.
pub async fn write(store: &Store, batch: &RegisterBatch, audit: &[PendingAudit]) -> Result<BatchIds, AppError> {
    match store.write_batch(batch, audit, &|_, _| {}).await {
        Ok(ids) => Ok(ids),
        Err(renkou_store::StoreError::Conflict(m)) => Err(AppError::Fields(vec![("date".into(), m)])),
        Err(renkou_store::StoreError::Sql(e)) if e.to_string().contains("UNIQUE") => {
            Err(AppError::Fields(vec![("citizen_id".into(), "公民身份号码或户号已在册 (citizen ID or household number already in the register)".into())]))
        }
        Err(e) => Err(e.into()),
    }
}

/// The record a command is about (for the audit entry and the returned id).
fn subject(c: &Command) -> Option<AuditTarget> {
    Some(match c {
        Command::Death { person, .. }
        | Command::Marriage { person, .. }
        | Command::Divorce { person, .. }
        | Command::Widowhood { person, .. }
        | Command::MoveOut { person, .. }
        | Command::Move { person, .. }
        | Command::OutflowStart { person, .. }
        | Command::FloatingEnd { person, .. }
        | Command::HouseholdJoin { person, .. }
        | Command::HouseholdLeave { person } => AuditTarget::Person(*person),
        Command::MoveIn { person: Arrival::Known(p), .. } | Command::InflowStart { person: Arrival::Known(p), .. } => AuditTarget::Person(*p),
        Command::HouseholdChangeHead { household, .. } => AuditTarget::Household(*household),
        Command::HouseholdSplit { from, .. } => AuditTarget::Household(*from),
        Command::AssignGroup { target: GroupTarget::Person(p), .. } => AuditTarget::Person(*p),
        Command::AssignGroup { target: GroupTarget::Household(h), .. } => AuditTarget::Household(*h),
        Command::Correction { fields, .. } => AuditTarget::Person(fields.person),
        _ => return None,
    })
}

/// The area an audit entry is filed under: the command's area, else the area of the first
/// episode the batch touches.
fn audit_area(c: &Command, batch: &RegisterBatch) -> Option<String> {
    if let Some(a) = c.areas().first() {
        return Some(a.as_str().to_string());
    }
    batch
        .episode_ends
        .first()
        .and_then(|e| e.area.as_ref())
        .or(batch.residences.first().map(|r| &r.area))
        .or(batch.regroupings.first().map(|g| &g.from))
        .map(|a| a.as_str().to_string())
}
