//! Logic checks (逻辑校验) of the register: every check of the catalogue
//! ([`renkou_core::rules::catalogue`]) over the persons of an area, grouped by village and rule,
//! with counts and a score per village for the monthly assessment; the incremental re-check of
//! the persons a form changed; user rules from a TOML file; and the check of a printed report's
//! figures ([`renkou_core::report_check`]).
//!
//! How a full check runs: the store lists the ids of the persons inside the area (one query),
//! loads their [`PersonFacts`] in chunks of [`renkou_store::FACTS_BATCH`] (one query a chunk,
//! read ahead by a background task while the rules run on the previous chunk); every person rule
//! runs on each snapshot; meanwhile the store answers the set checks (duplicate IDs, unknown
//! areas, household heads) with one query each and the aggregate identities run over the period
//! counts of every village and of the whole area. Rules never change data.
//!
//! **Score** (村级逻辑校验得分, for the monthly assessment):
//! `score = max(0, 100 − (2 × errors + 1 × warnings) × 100 / registered residents)`, i.e. 100
//! minus the weighted violations per 100 registered residents of the village on the reference
//! date, an error weighing 2 and a warning 1; rounded to one decimal (half away from zero) for
//! display. A village with no registered resident has no score.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use renkou_core::area::{Area, AreaCode, AreaLevel};
use renkou_core::period::Period;
use renkou_core::rules::catalogue::{scalar_zh, Catalogue, Check, CheckBody, StoreQuery};
use renkou_core::rules::{parse_rules_toml, AggregateFacts, Importance, Number, Outcome, PersonFacts, RuleError, Scope};
use renkou_store::Store;
use serde::Serialize;

use crate::auth::{authorize, Action, Caller};
use crate::gate::{citizen_id_opt, Purpose};
use crate::AppError;

/// Weight of an error in the score.
pub const ERROR_WEIGHT: i64 = 2;
/// Weight of a warning in the score.
pub const WARNING_WEIGHT: i64 = 1;

/// The person a violation is about (citizen ID masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRef {
    /// Store id (the person page is `/persons/{id}`).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Masked citizen ID (`130131********0010`).
    pub citizen_id_masked: Option<String>,
}

/// The household a violation is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseholdRef {
    /// Store id (the household page is `/households/{id}`).
    pub id: i64,
    /// 户号.
    pub household_no: String,
}

/// One violation of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Check id (`P002`, `S001`, `A001`, or a user rule's id).
    pub check_id: String,
    /// Error or warning.
    pub importance: Importance,
    /// The check's Chinese message.
    pub message_zh: String,
    /// The village (12-digit code) the record belongs to; for an aggregate check the area
    /// whose figures were checked.
    pub village: String,
    /// The person, for person and person-set checks.
    pub person: Option<PersonRef>,
    /// The household, for household checks.
    pub household: Option<HouseholdRef>,
    /// The values that show what is wrong, labelled in Chinese.
    pub values: Vec<(String, String)>,
}

/// Counts and score of one village.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VillageSummary {
    /// Village code (or the area code a record is registered at when not in a village).
    pub code: String,
    /// Name (`(未知地区)` when not in the area table).
    pub name: String,
    /// Registered residents on the reference date.
    pub residents: i64,
    /// Error-level violations.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Exact score (see the module documentation); `None` without residents.
    #[serde(skip)]
    pub score_exact: Option<Number>,
    /// The score rounded to one decimal, e.g. `"99.8"`.
    pub score: Option<String>,
    /// Violations per check id.
    pub by_check: BTreeMap<String, usize>,
}

/// The result of a full check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The area checked.
    pub area: Area,
    /// The reference date (today, or as given): ages, open marriages and "current" are on it.
    pub ref_date: NaiveDate,
    /// The period of the aggregate checks.
    pub period: Period,
    /// Checks run (person, store and aggregate).
    pub checks_run: usize,
    /// Persons checked.
    pub persons_checked: usize,
    /// Every violation, ordered by village, check id, person id.
    pub violations: Vec<Violation>,
    /// Per village, ordered by code (every village of the area with residents or violations).
    pub villages: Vec<VillageSummary>,
}

/// One village's violations grouped by check id (see [`CheckReport::grouped`]).
pub type VillageGroup<'a> = (&'a VillageSummary, Vec<(&'a str, Vec<&'a Violation>)>);

impl CheckReport {
    /// Number of error-level violations.
    pub fn errors(&self) -> usize {
        self.violations.iter().filter(|v| v.importance == Importance::Error).count()
    }
    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.violations.iter().filter(|v| v.importance == Importance::Warning).count()
    }
    /// True when any error-level violation exists (the CLI exits with 1).
    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }
    /// Violations grouped by village, then by check id (in catalogue order of ids).
    pub fn grouped(&self) -> Vec<VillageGroup<'_>> {
        let mut by_village: HashMap<&str, BTreeMap<&str, Vec<&Violation>>> = HashMap::new();
        for x in &self.violations {
            by_village.entry(x.village.as_str()).or_default().entry(x.check_id.as_str()).or_default().push(x);
        }
        self.villages.iter().map(|v| (v, by_village.remove(v.code.as_str()).unwrap_or_default().into_iter().collect())).collect()
    }
}

/// The score of a village: `100 − (2·errors + warnings) × 100 / residents`, at least 0; `None`
/// when `residents` is 0.
pub fn score(residents: i64, errors: usize, warnings: usize) -> Option<Number> {
    if residents <= 0 {
        return None;
    }
    let weighted = ERROR_WEIGHT * errors as i64 + WARNING_WEIGHT * warnings as i64;
    let penalty = Number::new(i128::from(weighted) * 100, i128::from(residents))?;
    let s = Number::int(100).checked_sub(penalty).ok()?;
    Some(if s < Number::ZERO { Number::ZERO } else { s })
}

/// Parses a user rules file (TOML, `[[rule]]` tables, see [`renkou_core::rules::parse_rules_toml`])
/// and appends its rules to the built-in catalogue.
///
/// Errors: [`AppError::Invalid`] listing every refused rule as `文件:行:列: 原因` (the line and
/// column in the file), or a rule id that clashes with a built-in one.
pub fn catalogue_with_user_rules(file_name: &str, text: &str) -> Result<Catalogue, AppError> {
    let fmt = |e: &RuleError| {
        let rule = e.rule_id.as_deref().map(|r| format!(" [规则 {r}]")).unwrap_or_default();
        format!("{file_name}:{}:{}: {}{rule}", e.line, e.column, e.message)
    };
    let set = parse_rules_toml(text)
        .map_err(|errs| AppError::Invalid(format!("规则文件有误, 未采用 (rules refused):\n{}", errs.iter().map(fmt).collect::<Vec<_>>().join("\n"))))?;
    Catalogue::with_user_rules(&set).map_err(|e| AppError::Invalid(fmt(&e)))
}

/// Every reason `text` (a user rules document, TOML) is refused, with line and column in the
/// text; empty when it may be saved. Same parser and errors as `renkou check --rules FILE`
/// ([`renkou_core::rules::parse_rules_toml`]); an id that clashes with a built-in check is placed
/// on the line of the id.
pub fn rules_text_errors(text: &str) -> Vec<RuleError> {
    let set = match parse_rules_toml(text) {
        Ok(set) => set,
        Err(errs) => return errs,
    };
    match Catalogue::with_user_rules(&set) {
        Ok(_) => Vec::new(),
        Err(mut e) => {
            if let Some(id) = e.rule_id.clone() {
                if let Some(at) = [format!("\"{id}\""), format!("'{id}'")].iter().find_map(|q| text.find(q.as_str())) {
                    let (line, column) = renkou_core::rules::line_col(text, at);
                    (e.line, e.column, e.offset) = (line, column, at);
                }
            }
            vec![e]
        }
    }
}

/// The rules a check of an area runs: the built-in catalogue plus the stored user rules of the
/// area or its nearest ancestor ([`Store::user_rules_for`]).
#[derive(Debug, Clone)]
pub struct ActiveRules {
    /// The catalogue to run.
    pub catalogue: std::borrow::Cow<'static, Catalogue>,
    /// The stored document whose rules were added, if any.
    pub document: Option<renkou_store::UserRulesRow>,
    /// Number of user rules added.
    pub user_rules: usize,
    /// Set when the stored document no longer passes the checks (e.g. a later built-in check took
    /// one of its ids): the reason; then only the built-in catalogue is in `catalogue`. Callers
    /// must show it (the web page) or stop (the CLI): rules are never skipped silently.
    pub problem: Option<String>,
}

/// The rules for a check of `area` (see [`ActiveRules`]). Rules are not personal data: no
/// authorization. Errors: store errors.
pub async fn active_rules(store: &Store, area: &AreaCode) -> Result<ActiveRules, AppError> {
    let builtin = || std::borrow::Cow::Borrowed(Catalogue::builtin());
    let Some(doc) = store.user_rules_for(area).await? else {
        return Ok(ActiveRules { catalogue: builtin(), document: None, user_rules: 0, problem: None });
    };
    let name = format!("自定义规则 {} 第{}版", doc.area_code, doc.version);
    match catalogue_with_user_rules(&name, &doc.body) {
        Ok(c) => {
            let n = c.checks.len() - Catalogue::builtin().checks.len();
            Ok(ActiveRules { catalogue: std::borrow::Cow::Owned(c), document: Some(doc), user_rules: n, problem: None })
        }
        Err(e) => Ok(ActiveRules { catalogue: builtin(), document: Some(doc), user_rules: 0, problem: Some(e.to_string()) }),
    }
}

/// Only a township administrator edits the user rules of her area ([`Action::EditRules`]).
async fn may_edit_rules(store: &Store, caller: &Caller) -> Result<(), AppError> {
    crate::gate::admit(store, caller, Action::EditRules, None, chrono::Utc::now()).await
}

/// What the rules page shows: the current document of the administrator's area and its versions.
#[derive(Debug, Clone)]
pub struct RulesDocument {
    /// The administrator's area (the document's).
    pub area: AreaCode,
    /// The latest version, if any.
    pub current: Option<renkou_store::UserRulesRow>,
    /// Versions, newest first (text left out).
    pub history: Vec<renkou_store::UserRulesRow>,
}

/// The user rules document of the caller's area, for editing.
///
/// Errors: [`AppError::Forbidden`] for anyone but a township administrator; store errors.
pub async fn rules_document(store: &Store, caller: &Caller) -> Result<RulesDocument, AppError> {
    may_edit_rules(store, caller).await?;
    let area = caller.user.area.clone();
    Ok(RulesDocument { current: store.user_rules_latest(&area).await?, history: store.user_rules_history(&area, 20).await?, area })
}

/// The outcome of [`save_rules`].
#[derive(Debug, Clone, PartialEq)]
pub enum SaveRules {
    /// Saved as this version (or unchanged: the text equals the latest version's) with this many
    /// rules.
    Saved {
        /// The version now current.
        version: i64,
        /// Rules in the document.
        rules: usize,
        /// False when the text was the same as the current version's (nothing written).
        changed: bool,
    },
    /// Not saved: every error, with line and column in the text.
    Refused(Vec<RuleError>),
}

/// Checks `text` and, when every rule parses and type-checks, saves it as the next version of
/// the caller's area's document (who and when kept; audited as `check.rules.save` with the old
/// and new text, in the same transaction). Nothing is saved when any rule is bad.
///
/// Errors: [`AppError::Forbidden`] for anyone but a township administrator; store errors.
pub async fn save_rules(store: &Store, caller: &Caller, text: &str, now: DateTime<Utc>) -> Result<SaveRules, AppError> {
    may_edit_rules(store, caller).await?;
    // Browsers send textarea lines ending in CRLF; keep the text as typed otherwise.
    let text = text.replace("\r\n", "\n");
    let errors = rules_text_errors(&text);
    if !errors.is_empty() {
        return Ok(SaveRules::Refused(errors));
    }
    let rules = parse_rules_toml(&text).map(|s| s.rules.len()).unwrap_or(0);
    let area = &caller.user.area;
    let old = store.user_rules_latest(area).await?;
    if let Some(o) = old.as_ref().filter(|o| o.body == text) {
        return Ok(SaveRules::Saved { version: o.version, rules, changed: false });
    }
    let at = crate::auth::stamp(now);
    let entry = crate::audit::Entry {
        area_code: Some(area.as_str()),
        old_value: old.as_ref().map(|o| serde_json::json!({"version": o.version, "text": o.body}).to_string()),
        new_value: Some(serde_json::json!({"rules": rules, "text": text}).to_string()),
        ..crate::audit::Entry::new(crate::audit::AuditAction::RulesSave, "user_rules")
    };
    let audit = crate::audit::entry_row(&caller.user.username, &caller.remote_addr, entry, now);
    let version = store.save_user_rules(area, &text, &caller.user.username, &at, &audit).await?;
    Ok(SaveRules::Saved { version, rules, changed: true })
}

/// The village a person is grouped under: the 12-digit village of the latest registered or
/// inflow episode inside `scope`, else of the household's area or the current area.
fn village_of(p: &PersonFacts, scope: &AreaCode) -> String {
    let inside = |a: &str| AreaCode::parse(a).is_ok_and(|c| scope.contains(&c));
    let from_episodes = p
        .residences
        .iter()
        .rev()
        .filter(|e| e.kind != renkou_core::register::ResidenceKind::Outflow && inside(&e.area))
        .max_by_key(|e| (e.end.is_none(), e.end, e.start))
        .map(|e| e.area.clone());
    let area = from_episodes.or_else(|| p.area.clone()).unwrap_or_else(|| scope.as_str().to_string());
    village_code(&area)
}

fn village_code(area: &str) -> String {
    match AreaCode::parse(area) {
        Ok(c) => c.ancestor_at(AreaLevel::Village).map_or(area.to_string(), |v| v.as_str().to_string()),
        Err(_) => area.to_string(),
    }
}

/// The person of a finding, the ID as the gate shows it in a list ([`Purpose::List`]).
fn person_ref(caller: &Caller, id: i64, name: &str, citizen_id: Option<&str>) -> PersonRef {
    PersonRef { id, name: name.to_string(), citizen_id_masked: citizen_id_opt(&caller.user, Purpose::List, citizen_id) }
}

fn outcome_values(check: &Check, o: &Outcome) -> Vec<(String, String)> {
    match (o, &check.body) {
        (Outcome::Violation { left, right: Some(r) }, CheckBody::Rule(rule)) => {
            let (l_src, r_src) = match &rule.body {
                renkou_core::rules::RuleBody::Compare { left, right, .. } => (left.source().to_string(), right.source().to_string()),
                _ => ("左边".into(), "右边".into()),
            };
            vec![(format!("左边 {l_src}"), left.as_ref().map_or("(空)".into(), scalar_zh)), (format!("右边 {r_src}"), scalar_zh(r))]
        }
        _ => Vec::new(),
    }
}

/// Runs every person check of `catalogue` on `p`; the violations, in catalogue order, with the
/// person's ID as the gate shows it to `caller` in a list.
///
/// Errors: [`AppError::Invalid`] when a rule fails to evaluate (arithmetic overflow).
pub fn check_person_facts(caller: &Caller, catalogue: &Catalogue, p: &PersonFacts, scope: &AreaCode, ref_date: NaiveDate) -> Result<Vec<Violation>, AppError> {
    let hits = catalogue.check_person(p, ref_date).map_err(|e| AppError::Invalid(format!("规则 {:?} 无法计算: {e}", e.rule_id)))?;
    let village = village_of(p, scope);
    Ok(hits
        .into_iter()
        .map(|(c, o)| {
            let mut values = c.shown_values(p, ref_date);
            values.extend(outcome_values(c, &o));
            Violation {
                check_id: c.id.clone(),
                importance: c.importance,
                message_zh: c.message_zh.clone(),
                village: village.clone(),
                person: Some(person_ref(caller, p.id, &p.name, p.citizen_id.as_deref())),
                household: None,
                values,
            }
        })
        .collect())
}

fn violation(c: &Check, village: String) -> Violation {
    Violation { check_id: c.id.clone(), importance: c.importance, message_zh: c.message_zh.clone(), village, person: None, household: None, values: Vec::new() }
}

/// Runs the store's set check `q` for `scope`.
/// `heads` keeps the household query's rows for the second household check.
async fn store_check(
    store: &Store,
    caller: &Caller,
    c: &Check,
    q: StoreQuery,
    scope: &AreaCode,
    heads: &mut Option<Vec<renkou_store::HouseholdHeadsRow>>,
) -> Result<Vec<Violation>, AppError> {
    let mut out = Vec::new();
    match q {
        StoreQuery::DuplicateCitizenId => {
            let rows = store.duplicate_citizen_ids(scope).await?;
            for r in &rows {
                let others: Vec<String> =
                    rows.iter().filter(|o| o.key == r.key && o.person_id != r.person_id).map(|o| format!("{} [编号{}]", o.name, o.person_id)).collect();
                let mut v = violation(c, village_code(r.area_code.as_deref().unwrap_or(scope.as_str())));
                v.person = Some(person_ref(caller, r.person_id, &r.name, Some(&r.citizen_id)));
                v.values = vec![("号码相同的人员".into(), if others.is_empty() { "(在本地区以外)".into() } else { others.join("; ") })];
                out.push(v);
            }
        }
        StoreQuery::UnknownArea => {
            for r in store.unknown_area_episodes(scope).await? {
                let mut v = violation(c, village_code(&r.area_code));
                v.person = Some(person_ref(caller, r.person_id, &r.name, r.citizen_id.as_deref()));
                let why = if r.known { "区划表中有此代码, 但不是村或组" } else { "区划表中没有此代码" };
                v.values = vec![("户籍地代码".into(), r.area_code.clone()), ("说明".into(), why.into())];
                out.push(v);
            }
        }
        StoreQuery::HouseholdWithoutHead | StoreQuery::HouseholdTwoHeads => {
            let want_none = q == StoreQuery::HouseholdWithoutHead;
            if heads.is_none() {
                *heads = Some(store.household_heads(scope).await?);
            }
            for r in heads.iter().flatten() {
                if (r.heads == 0) != want_none {
                    continue;
                }
                let mut v = violation(c, village_code(&r.area_code));
                v.household = Some(HouseholdRef { id: r.household_id, household_no: r.household_no.clone() });
                v.values = vec![("户号".into(), r.household_no.clone()), ("现有成员".into(), r.members.to_string()), ("户主人数".into(), r.heads.to_string())];
                if !r.head_ids.is_empty() {
                    v.values.push(("户主编号".into(), r.head_ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")));
                }
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The area (township, village, group, county …).
    pub area: AreaCode,
    /// Reference date of the person checks (ages, open marriages): normally today.
    pub ref_date: NaiveDate,
    /// Period of the aggregate checks (e.g. the statistical year).
    pub period: Period,
}

/// Runs every check of `catalogue` over `req.area`.
///
/// `caller` must see persons in the area (the CLI: [`crate::auth::Caller::operator`]); the run
/// is audited as `check.run` with the number of findings.
/// Errors: [`AppError::Forbidden`] / [`AppError::NotFound`] for a caller outside the area or a
/// role without person access; [`AppError::Invalid`] for an unknown area; store errors.
pub async fn run(store: &Store, caller: &Caller, catalogue: &Catalogue, req: &CheckRequest, now: DateTime<Utc>) -> Result<CheckReport, AppError> {
    crate::gate::admit(store, caller, Action::ViewPersons, Some(&req.area), now).await?;
    let area = store.area(&req.area).await?.ok_or_else(|| AppError::Invalid(format!("未知地区 {} (unknown area)", req.area)))?;
    let scope = &area.code;

    // Person checks, chunk by chunk (the next chunk loads while this one is checked).
    let persons = async {
        let ids = store.person_ids_in_scope(scope).await?;
        let n = ids.len();
        let mut out = Vec::new();
        let mut chunks = store.person_facts_chunks(ids);
        while let Some(chunk) = chunks.next().await {
            for p in chunk? {
                out.extend(check_person_facts(caller, catalogue, &p, scope, req.ref_date)?);
            }
        }
        Ok::<_, AppError>((out, n))
    };
    // Set checks (the household query answers both household checks).
    let sets = async {
        let mut out = Vec::new();
        let mut heads = None;
        for c in catalogue.of_scope(None) {
            if let CheckBody::Store(q) = c.body {
                out.extend(store_check(store, caller, c, q, scope, &mut heads).await?);
            }
        }
        Ok::<_, AppError>(out)
    };
    // Aggregate identities: per child area (village) and for the whole area.
    let aggregates = async {
        let mut out = Vec::new();
        if catalogue.of_scope(Some(Scope::Aggregate)).next().is_none() {
            return Ok(out);
        }
        let (total, children) = store.period_counts(scope, &req.period).await?;
        let mut units: Vec<(String, AggregateFacts)> =
            children.iter().map(|(code, counts)| (village_code(code.as_str()), AggregateFacts::from_counts(counts))).collect();
        units.push((scope.as_str().to_string(), AggregateFacts::from_counts(&total)));
        for c in catalogue.of_scope(Some(Scope::Aggregate)) {
            let Some(rule) = c.rule() else { continue };
            for (code, facts) in &units {
                let o = rule.evaluate_aggregate(facts).map_err(|e| AppError::Invalid(format!("规则 {} 无法计算: {e}", c.id)))?;
                if matches!(o, Outcome::Violation { .. }) {
                    let mut v = violation(c, code.clone());
                    v.values = outcome_values(c, &o);
                    out.push(v);
                }
            }
        }
        Ok::<_, AppError>(out)
    };
    let residents = async { Ok::<_, AppError>(store.registered_by_village(scope, req.ref_date).await?) };
    let ((mut violations, persons_checked), set_hits, aggregate_hits, residents) = tokio::try_join!(persons, sets, aggregates, residents)?;
    violations.extend(set_hits);
    violations.extend(aggregate_hits);
    violations.sort_by(|a, b| {
        (a.village.as_str(), a.check_id.as_str(), a.person.as_ref().map(|p| p.id), a.household.as_ref().map(|h| h.id)).cmp(&(
            b.village.as_str(),
            b.check_id.as_str(),
            b.person.as_ref().map(|p| p.id),
            b.household.as_ref().map(|h| h.id),
        ))
    });

    // Villages: residents, counts, scores.
    let residents: HashMap<String, i64> = residents.into_iter().collect();
    let mut codes: Vec<String> = residents.keys().cloned().collect();
    if scope.level() < AreaLevel::Village {
        for a in store.children(scope).await? {
            if a.code.level() == AreaLevel::Village {
                codes.push(a.code.as_str().to_string());
            }
        }
    }
    // Errors, warnings and counts per check of each village, in one pass.
    let mut tally: HashMap<&str, (usize, usize, BTreeMap<String, usize>)> = HashMap::new();
    for v in &violations {
        let t = tally.entry(v.village.as_str()).or_default();
        match v.importance {
            Importance::Error => t.0 += 1,
            Importance::Warning => t.1 += 1,
        }
        *t.2.entry(v.check_id.clone()).or_insert(0) += 1;
    }
    codes.extend(tally.keys().map(|k| k.to_string()));
    codes.sort();
    codes.dedup();
    let mut villages = Vec::with_capacity(codes.len());
    for code in codes {
        let name = match AreaCode::parse(&code) {
            Ok(c) if c == *scope => area.name.clone(),
            Ok(c) => store.area(&c).await?.map_or_else(|| "(未知地区)".to_string(), |a| a.name),
            Err(_) => "(未知地区)".to_string(),
        };
        let (errors, warnings, by_check) = tally.remove(code.as_str()).unwrap_or_default();
        let res = residents.get(&code).copied().unwrap_or(0);
        let s = score(res, errors, warnings);
        villages.push(VillageSummary { code, name, residents: res, errors, warnings, score: s.map(|s| s.rounded(1)), score_exact: s, by_check });
    }
    let summary = serde_json::json!({"errors": violations.iter().filter(|v| v.importance == Importance::Error).count(), "violations": violations.len()});
    let mut shown: Vec<i64> = violations.iter().filter_map(|v| v.person.as_ref().map(|p| p.id)).collect();
    shown.sort_unstable();
    shown.dedup();
    let (entity_id, area_code) = (Some(scope.as_str().to_string()), Some(scope.as_str()));
    crate::audit::record_list(store, caller, crate::audit::AuditAction::CheckRun, "area", entity_id, area_code, summary.to_string(), shown.len(), now).await?;
    Ok(CheckReport { area, ref_date: req.ref_date, period: req.period, checks_run: catalogue.checks.len(), persons_checked, violations, villages })
}

/// Re-runs the person checks of `catalogue` for the persons `ids` (those a form just changed):
/// their snapshots in one query ([`Store::person_facts`]), every person rule. Persons outside `scope`
/// are skipped.
///
/// `caller` must be allowed to see persons in `scope`.
/// Errors: [`AppError::Forbidden`] / [`AppError::NotFound`]; store errors.
pub async fn check_persons(
    store: &Store,
    caller: &Caller,
    scope: &AreaCode,
    catalogue: &Catalogue,
    ids: &[i64],
    ref_date: NaiveDate,
) -> Result<Vec<Violation>, AppError> {
    authorize(&caller.user, Action::ViewPersons, Some(scope))?;
    let mut facts = store.person_facts(scope, ids).await?;
    // In the order asked for.
    facts.sort_by_key(|f| ids.iter().position(|i| *i == f.id));
    let mut out = Vec::new();
    for f in &facts {
        out.extend(check_person_facts(caller, catalogue, f, scope, ref_date)?);
    }
    Ok(out)
}

/// Checks the figures typed in from a printed report (the format of `seed-report.toml`); see
/// [`renkou_core::report_check`]. Errors: [`AppError::Invalid`] for a file that is not TOML.
pub fn check_report_text(text: &str) -> Result<renkou_core::report_check::ReportCheck, AppError> {
    renkou_core::report_check::check_report_toml(text).map_err(|e| AppError::Invalid(format!("报表文件有误: {e}")))
}

/// The check report as an Excel workbook: sheet 汇总 (one row per village: residents, errors,
/// warnings, score) and sheet 明细 (one row per violation).
pub fn check_xlsx(r: &CheckReport) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let e = |x: rust_xlsxwriter::XlsxError| AppError::Export(x.to_string());
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let s = wb.add_worksheet();
    s.set_name("汇总").map_err(e)?;
    s.write_string_with_format(0, 0, format!("{} ({}) 逻辑校验", r.area.name, r.area.code), &bold).map_err(e)?;
    s.write_string(
        1,
        0,
        format!("校验日期 {}; 汇总核对期间 {} 至 {}; 规则 {} 条; 人员 {} 人", r.ref_date, r.period.first, r.period.last, r.checks_run, r.persons_checked),
    )
    .map_err(e)?;
    s.write_string(2, 0, SCORE_NOTE).map_err(e)?;
    for (col, h) in ["代码", "名称", "户籍人口", "错误", "警告", "得分"].iter().enumerate() {
        s.write_string_with_format(4, col as u16, *h, &bold).map_err(e)?;
    }
    for (i, v) in r.villages.iter().enumerate() {
        let row = 5 + i as u32;
        s.write_string(row, 0, &v.code).map_err(e)?;
        s.write_string(row, 1, &v.name).map_err(e)?;
        s.write_number(row, 2, v.residents as f64).map_err(e)?;
        s.write_number(row, 3, v.errors as f64).map_err(e)?;
        s.write_number(row, 4, v.warnings as f64).map_err(e)?;
        if let Some(sc) = &v.score {
            s.write_number(row, 5, sc.parse::<f64>().unwrap_or(0.0)).map_err(e)?;
        }
    }
    let d = wb.add_worksheet();
    d.set_name("明细").map_err(e)?;
    for (col, h) in ["村代码", "规则", "重要性", "说明", "人员编号", "姓名", "公民身份号码", "户号", "数值"].iter().enumerate() {
        d.write_string_with_format(0, col as u16, *h, &bold).map_err(e)?;
    }
    for (i, v) in r.violations.iter().enumerate() {
        let row = 1 + i as u32;
        d.write_string(row, 0, &v.village).map_err(e)?;
        d.write_string(row, 1, &v.check_id).map_err(e)?;
        d.write_string(row, 2, v.importance.name_zh()).map_err(e)?;
        d.write_string(row, 3, &v.message_zh).map_err(e)?;
        if let Some(p) = &v.person {
            d.write_number(row, 4, p.id as f64).map_err(e)?;
            d.write_string(row, 5, &p.name).map_err(e)?;
            d.write_string(row, 6, p.citizen_id_masked.as_deref().unwrap_or("")).map_err(e)?;
        }
        if let Some(h) = &v.household {
            d.write_string(row, 7, &h.household_no).map_err(e)?;
        }
        d.write_string(row, 8, values_text(&v.values)).map_err(e)?;
    }
    wb.save_to_buffer().map_err(e)
}

/// `标签: 值; 标签: 值`.
pub fn values_text(values: &[(String, String)]) -> String {
    values.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ")
}

/// How the score is computed, as printed under every check report.
pub const SCORE_NOTE: &str = "得分 = 100 − (2×错误数 + 1×警告数) × 100 ÷ 户籍人口 (每百名户籍人口的加权问题数), 最低 0 分, 保留一位小数";
