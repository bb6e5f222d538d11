//! Import of persons (人员) and events (事件) from CSV (UTF-8 or GBK) and XLSX files with
//! Chinese headers, all or nothing. The file format is documented in `docs/import-format.md`.
//!
//! The import runs in three steps:
//! 1. **Read** every row of every file and parse each cell (citizen IDs, dates, codes). A file is
//!    a persons file unless it has a 事件类型 column; an XLSX workbook gives its sheets named
//!    人员/事件, or its first sheet.
//! 2. **Resolve** references against the files and the store (spouses, mothers, the subjects of
//!    events; duplicate IDs; existing household numbers; unknown areas), apply the events in
//!    date order, and run [`RegisterBatch::validate`](renkou_core::register::RegisterBatch::validate).
//! 3. **Write** the one batch in one transaction ([`crate::register::write_import`]).
//!
//! Any problem in step 1 or 2 rejects the whole import with [`AppError::Rejected`], listing every
//! problem as `file:row:column: reason` (row numbers as Excel shows them, header = row 1;
//! columns as `B列(公民身份号码)`, `-` when no column applies); nothing is written.

mod build;
mod fields;
mod source;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use renkou_core::area::AreaCode;
use renkou_store::{Store, StoreError};

use crate::AppError;
use build::{Builder, Src, SrcCol};
pub use fields::FileKind;
use source::{Col, Problem, SheetInfo, Sink};

/// Progress of an import, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress<'a> {
    /// Reading `file`: `done` of `total` units (bytes for CSV, rows for XLSX).
    Reading {
        /// Display name of the file (or `book.xlsx[事件]`).
        file: &'a str,
        /// Units read.
        done: u64,
        /// Units in the file.
        total: u64,
    },
    /// Resolving references and checking the batch against the store.
    Checking,
    /// Writing: `done` of `total` records.
    Writing {
        /// Records written.
        done: u64,
        /// Records to write.
        total: u64,
    },
}

/// One sheet that was imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFile {
    /// Display name (file name, or `book.xlsx[事件]` for one of several sheets).
    pub name: String,
    /// Persons or events.
    pub kind: FileKind,
    /// Data rows read (blank rows not counted).
    pub rows: u64,
}

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// The sheets read, in order.
    pub files: Vec<ImportedFile>,
    /// New persons (persons files, and newcomers of 迁入/流入 rows).
    pub persons: u64,
    /// New households.
    pub households: u64,
    /// New residence episodes (户籍/流入/流出).
    pub episodes: u64,
    /// Residence episodes ended (迁出, 死亡, 流动结束), stored or new.
    pub episodes_ended: u64,
    /// New marriages.
    pub marriages: u64,
    /// Marriages ended (离婚, 丧偶), stored or new.
    pub marriages_ended: u64,
    /// New birth records.
    pub births: u64,
    /// New death records.
    pub deaths: u64,
    /// 15-digit citizen IDs upgraded to 18 digits.
    pub legacy_ids_upgraded: u64,
    /// Warnings (ignored columns, values kept as recorded that differ from the ID, mothers not
    /// in the register), each `file:row:column: text` or a summary line.
    pub warnings: Vec<String>,
}

/// Imports persons and events files into the register, all or nothing.
///
/// `files`: CSV (`.csv`/`.txt`, UTF-8 with or without BOM, or GBK; comma- or tab-separated) or
/// XLSX. `today`: reference date for "not in the future" checks. `progress` is called while
/// reading (per 16,384 rows), checking and writing.
///
/// Errors: [`AppError::Rejected`] with every problem as `file:row:column: reason` (nothing is
/// written); [`AppError::Io`] when a file cannot be read; [`AppError::Store`] when the database
/// fails.
pub async fn import_files(
    store: &Store,
    files: &[PathBuf],
    today: NaiveDate,
    progress: &(dyn Fn(ImportProgress<'_>) + Sync),
) -> Result<ImportSummary, AppError> {
    import_inner(store, files, None, None, today, progress).await
}

/// [`import_files`] done by `caller`, for `scope` when given (see [`import_files_within`]):
/// the `import.upload` audit entry (files and counts) is written in the import's own
/// transaction, so an import is never in the register without its entry, nor the entry without
/// the import. Used by the CLI (its operator) and the web's import page.
pub async fn import_files_by(
    store: &Store,
    caller: &crate::auth::Caller,
    files: &[PathBuf],
    scope: Option<&AreaCode>,
    today: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
    progress: &(dyn Fn(ImportProgress<'_>) + Sync),
) -> Result<ImportSummary, AppError> {
    import_inner(store, files, scope, Some((caller, now)), today, progress).await
}

/// [`import_files`] for a user responsible for `scope` only (the web's import page): every area
/// a row registers someone in must lie inside `scope`, and every stored person a row names must
/// have an open residence episode inside it; otherwise the whole import is rejected, naming the
/// row (or the person), and nothing is written.
pub async fn import_files_within(
    store: &Store,
    files: &[PathBuf],
    scope: &AreaCode,
    today: NaiveDate,
    progress: &(dyn Fn(ImportProgress<'_>) + Sync),
) -> Result<ImportSummary, AppError> {
    import_inner(store, files, Some(scope), None, today, progress).await
}

async fn import_inner(
    store: &Store,
    files: &[PathBuf],
    scope: Option<&AreaCode>,
    by: Option<(&crate::auth::Caller, chrono::DateTime<chrono::Utc>)>,
    today: NaiveDate,
    progress: &(dyn Fn(ImportProgress<'_>) + Sync),
) -> Result<ImportSummary, AppError> {
    let mut builder = Builder::new(today);

    // 1. Read and parse every row.
    let (sheets, mut problems, mut warnings) = {
        let mut on_row = |info: &SheetInfo, sheet: u32, row: u32, cells: &source::Row<'_>, out: &mut Vec<Problem>| builder.row(info, sheet, row, cells, out);
        let mut sink = Sink { sheets: Vec::new(), problems: Vec::new(), warnings: Vec::new(), on_row: &mut on_row };
        for path in files {
            source::read_path(path, &mut sink, progress).map_err(|source| AppError::Io { path: path.display().to_string(), source })?;
        }
        (sink.sheets, sink.problems, sink.warnings)
    };
    if !problems.is_empty() {
        return Err(AppError::Rejected(format_problems(&sheets, problems)));
    }

    // 2. Resolve against the files and the store.
    progress(ImportProgress::Checking);
    // An empty register (the first, largest import) needs no look-ups of IDs or household
    // numbers; a household number stored without persons would still fail the write (UNIQUE).
    let empty = store.person_count().await? == 0;
    let stored: HashMap<u64, i64> = if empty {
        HashMap::new()
    } else {
        let ids = builder.referenced_ids();
        store
            .person_ids_by_citizen_id(&ids)
            .await?
            .into_iter()
            .map(|(id, pk)| (id.as_bytes()[..17].iter().fold(0u64, |k, d| k * 10 + u64::from(d - b'0')), pk))
            .collect()
    };
    // A scoped import (the web's import page) may name only persons of the caller's area.
    // Checked before anything else is resolved against the stored persons: every later message
    // would describe them (their sex, an open marriage with its spouse and date). The refusal
    // never gives a name, a number or a fact of a person outside the area (the gate's rule).
    if let Some(scope) = scope {
        let mut named: Vec<i64> = builder.persons_file_keys().iter().filter_map(|k| stored.get(k).copied()).collect();
        named.sort_unstable();
        named.dedup();
        let inside = if named.is_empty() { Default::default() } else { store.persons_in_scope(scope, &named).await? };
        let outside = named.iter().filter(|pk| !inside.contains(pk)).count();
        if outside > 0 {
            let reason = format!(
                "文件中的 {outside} 个公民身份号码属于已登记、但不在您的管辖范围内的人员; 请核对号码, 外乡镇人员请先办理迁入 (citizen IDs of persons outside your scope)"
            );
            return Err(AppError::Rejected(format_problems(&sheets, vec![Problem { sheet: 0, row: 0, col: Col::None, reason }])));
        }
    }
    builder.resolve(&stored, &mut problems);

    // 户号 already stored: the rows' persons join that household (added by 户号).
    let numbers: Vec<String> = builder.batch.households.iter().map(|h| h.household_no.clone()).collect();
    let existing = if empty { HashMap::new() } else { store.household_ids(&numbers).await? };
    if !existing.is_empty() {
        builder.redirect_stored_households(&existing);
    }

    let known = known_areas(store, builder.areas.iter().map(|(c, _)| c)).await?;
    for (code, first) in &builder.areas {
        if !known.contains(code.as_str()) {
            problems.push(at(*first, format!("区划代码 {code} 不在区划表中, 请先导入区划或添加村民小组 (unknown area)")));
        }
    }

    // The persons file's records on their own, then against the stored persons they name
    // (spouses, parents): loaded here, also to scope them.
    builder.batch.add_implied_marital_statuses();
    let refs = crate::consistency::stored_refs(&builder.batch);
    if !refs.is_empty() {
        builder.stored_state = store.stored_state(&refs).await?;
    }
    if let Some(scope) = scope {
        for (code, first) in &builder.areas {
            if !scope.contains(code) {
                problems.push(at(*first, format!("区划代码 {code} 不在您的管辖范围 {scope} 内 (area outside your scope)")));
            }
        }
    }
    let mut record_errors = builder.batch.validate(today);
    let consistency = crate::consistency::check_with(&builder.stored_state, &builder.batch);
    record_errors.extend(consistency.errors);
    for e in record_errors {
        problems.push(problem_of(&builder, &e));
    }
    let mut consistency_warnings: Vec<Problem> = consistency.warnings.iter().map(|e| problem_of(&builder, e)).collect();

    // The events files' rows are register commands: the engine applies them in date order to
    // the persons file's records and the stored register (the same engine as the web forms).
    let commands = std::mem::take(&mut builder.commands);
    let persons_file_batch = std::mem::take(&mut builder.batch);
    builder.batch_marriages_before_events = persons_file_batch.marriages.len();
    let plan = crate::register::plan(store, scope, persons_file_batch, &commands, today).await?;
    for (i, r) in plan.refusals() {
        problems.push(at(SrcCol { src: builder.command_src[i].src, field: field_of_refusal(r.field) }, r.reason.clone()));
    }
    if !problems.is_empty() {
        return Err(AppError::Rejected(format_problems(&sheets, problems)));
    }
    // Marriages of the events below the legal age: warnings at their rows.
    let from = builder.batch_marriages_before_events;
    builder.marriage_src.extend(plan.marriage_command[from..].iter().map(|c| builder.command_src[c.expect("made by a command")]));
    let spouses: Vec<i64> = plan.batch.marriages[from..]
        .iter()
        .flat_map(|m| m.wife.iter().chain(m.husband.iter()))
        .filter_map(|r| match r {
            renkou_core::register::PersonRef::Stored(id) => Some(*id),
            _ => None,
        })
        .collect();
    let spouse_state = if spouses.is_empty() { HashMap::new() } else { store.stored_state(&spouses).await? };
    builder.batch = plan.batch;
    for w in crate::consistency::marriage_age_warnings(&spouse_state, &builder.batch, from) {
        consistency_warnings.push(problem_of(&builder, &w));
    }

    // The summary (and the audit entry made of it) is known before the write.
    warnings.extend(format_problems(&sheets, consistency_warnings));
    warnings.extend(tally_warnings(&sheets, &builder.tally));
    let summary = summary(&sheets, &builder, warnings);
    let audit: Vec<renkou_store::PendingAudit> = by
        .map(|(caller, now)| {
            let v = serde_json::json!({
                "files": summary.files.iter().map(|f| &f.name).collect::<Vec<_>>(), "persons": summary.persons,
                "households": summary.households, "episodes": summary.episodes, "episodes_ended": summary.episodes_ended,
                "marriages": summary.marriages, "marriages_ended": summary.marriages_ended, "births": summary.births,
                "deaths": summary.deaths, "warnings": summary.warnings.len(),
            });
            let area = scope.map_or(caller.user.area.as_str(), |a| a.as_str());
            let e = crate::audit::Entry {
                area_code: Some(area),
                new_value: Some(v.to_string()),
                ..crate::audit::Entry::new(crate::audit::AuditAction::ImportUpload, "import")
            };
            renkou_store::PendingAudit {
                entry: crate::audit::entry_row(&caller.user.username, &caller.remote_addr, e, now),
                target: renkou_store::AuditTarget::None,
            }
        })
        .into_iter()
        .collect();

    // 3. Write.
    let write_progress = |done: u64, total: u64| progress(ImportProgress::Writing { done, total });
    let batch = &builder.batch;
    match crate::register::write_import(store, batch, &audit, &write_progress).await {
        Ok(_) => {}
        // The checks above should leave the database nothing to refuse; should it still, the
        // refusal is reported once, at the row when it can be found.
        Err(StoreError::Sql(e)) if renkou_store::is_constraint(&e) => {
            let db = e.as_database_error().expect("checked");
            let msg = db.message().to_string();
            let list = msg.rsplit(' ').next().and_then(|t| t.split('.').next()).unwrap_or("");
            let srcs: &[SrcCol] = match list {
                "death" => &builder.death_src,
                "marriage" => &builder.marriage_src,
                "residence" => &builder.residence_src,
                "birth" => &builder.birth_src,
                _ => &[],
            };
            let reason = format!("数据库拒绝写入, 约束冲突 (constraint violated): {msg}");
            let p = match srcs {
                [one] => at(*one, reason),
                _ => Problem { sheet: 0, row: 0, col: Col::None, reason },
            };
            return Err(AppError::Rejected(format_problems(&sheets, vec![p])));
        }
        Err(StoreError::Conflict(msg)) => {
            let (list, idx) = parse_record(&msg);
            let src = match list {
                "episode_ends" => builder.episode_end_src.get(idx),
                "marriage_ends" => builder.marriage_end_src.get(idx),
                _ => None,
            };
            let reason = msg.split_once(": ").map_or(msg.as_str(), |(_, r)| r).to_string();
            let p = match src {
                Some(s) => at(*s, reason),
                None => Problem { sheet: 0, row: 0, col: Col::None, reason: msg.clone() },
            };
            return Err(AppError::Rejected(format_problems(&sheets, vec![p])));
        }
        Err(e) => return Err(e.into()),
    }

    Ok(summary)
}

/// What an import writes, from its planned batch.
fn summary(sheets: &[source::SheetInfo], builder: &Builder, warnings: Vec<String>) -> ImportSummary {
    let (t, batch) = (&builder.tally, &builder.batch);
    ImportSummary {
        files: sheets.iter().map(|s| ImportedFile { name: s.name.clone(), kind: s.kind, rows: s.rows }).collect(),
        persons: batch.persons.len() as u64,
        households: batch.households.len() as u64,
        episodes: batch.residences.len() as u64,
        episodes_ended: batch.episode_ends.len() as u64 + batch.residences.iter().filter(|r| r.to.is_some()).count() as u64,
        marriages: batch.marriages.len() as u64,
        marriages_ended: batch.marriage_ends.len() as u64 + batch.marriages.iter().filter(|m| m.end.is_some()).count() as u64,
        births: batch.births.len() as u64,
        deaths: batch.deaths.len() as u64,
        legacy_ids_upgraded: t.legacy_ids,
        warnings,
    }
}

/// A record error of the batch (`residences[3]: …`) at the source row of its record.
fn problem_of(builder: &Builder, e: &renkou_core::register::RecordError) -> Problem {
    let (list, idx) = parse_record(&e.record);
    let src = match list {
        "persons" => builder.person_src.get(idx).map(|&src| SrcCol { src, field: fields::Field::BirthDate }),
        "residences" => builder.residence_src.get(idx).copied(),
        "marriages" => builder.marriage_src.get(idx).copied(),
        "births" => builder.birth_src.get(idx).copied(),
        "deaths" => builder.death_src.get(idx).copied(),
        "episode_ends" => builder.episode_end_src.get(idx).copied(),
        "marriage_ends" => builder.marriage_end_src.get(idx).copied(),
        _ => None,
    }
    .or_else(|| e.person.and_then(|p| builder.person_src.get(p)).map(|&src| SrcCol { src, field: fields::Field::CitizenId }));
    match src {
        Some(s) => at(s, e.reason.clone()),
        None => Problem { sheet: 0, row: 0, col: Col::None, reason: e.to_string() },
    }
}

fn at(s: SrcCol, reason: impl Into<String>) -> Problem {
    Problem { sheet: s.src.sheet, row: s.src.row, col: Col::Field(s.field), reason: reason.into() }
}

/// `"residences[12]: …"` → `("residences", 12)`.
fn parse_record(s: &str) -> (&str, usize) {
    let Some((list, rest)) = s.split_once('[') else {
        return ("", usize::MAX);
    };
    let idx = rest.split(']').next().and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
    (list, idx)
}

/// The codes among `codes` that the store knows, with one query per distinct parent area.
async fn known_areas<'a>(store: &Store, codes: impl Iterator<Item = &'a AreaCode>) -> Result<HashSet<String>, AppError> {
    let mut parents: BTreeMap<String, AreaCode> = BTreeMap::new();
    let mut roots = Vec::new();
    for c in codes {
        match c.parent() {
            Some(p) => {
                parents.entry(p.as_str().to_string()).or_insert(p);
            }
            None => roots.push(c.clone()),
        }
    }
    let mut known = HashSet::new();
    for p in parents.values() {
        for a in store.children(p).await? {
            known.insert(String::from(a.code));
        }
    }
    for r in roots {
        if store.area(&r).await?.is_some() {
            known.insert(r.as_str().to_string());
        }
    }
    Ok(known)
}

/// Sorts problems by file, row and column and formats them as `file:row:column: reason`.
fn format_problems(sheets: &[SheetInfo], mut problems: Vec<Problem>) -> Vec<String> {
    let col_index = |p: &Problem| -> u32 {
        match (p.col, sheets.get(p.sheet as usize)) {
            (Col::Index(i), _) => i,
            (Col::Field(f), Some(s)) => s.cols[f as usize].unwrap_or(u32::MAX - 1),
            _ => u32::MAX,
        }
    };
    problems.sort_by_key(|p| (p.sheet, p.row, col_index(p)));
    problems
        .iter()
        .map(|p| match sheets.get(p.sheet as usize) {
            Some(s) if p.row > 0 => format!("{}:{}:{}: {}", s.name, p.row, s.col_text(p.col), p.reason),
            _ => p.reason.clone(),
        })
        .collect()
}

/// Summary lines for values kept as recorded, listing at most 10 rows each.
fn tally_warnings(sheets: &[SheetInfo], t: &build::Tally) -> Vec<String> {
    let list = |rows: &[Src]| -> String {
        let mut s: Vec<String> = rows.iter().take(10).map(|r| format!("{}:{}", sheets[r.sheet as usize].name, r.row)).collect();
        if rows.len() > 10 {
            s.push(format!("等 {} 行 (and more)", rows.len()));
        }
        s.join(", ")
    };
    let mut out = Vec::new();
    if !t.sex_differs.is_empty() {
        out.push(format!(
            "{} 人的性别与公民身份号码不符, 已按表中填写导入, 留待逻辑校验 (sex differs from the citizen ID: kept as recorded): {}",
            t.sex_differs.len(),
            list(&t.sex_differs)
        ));
    }
    if !t.birth_differs.is_empty() {
        out.push(format!(
            "{} 人的出生日期与公民身份号码不符, 已按表中填写导入, 留待逻辑校验 (birth date differs from the citizen ID: kept as recorded): {}",
            t.birth_differs.len(),
            list(&t.birth_differs)
        ));
    }
    if !t.mother_outside.is_empty() {
        out.push(format!(
            "{} 条出生记录的母亲不在册, 未关联母亲 (mother not in the register: birth recorded without her): {}",
            t.mother_outside.len(),
            list(&t.mother_outside)
        ));
    }
    if !t.father_outside.is_empty() {
        out.push(format!("{} 条出生记录的父亲不在册, 未关联父亲 (father not in the register): {}", t.father_outside.len(), list(&t.father_outside)));
    }
    out
}

/// The column of an events row that a register refusal is about.
fn field_of_refusal(f: &str) -> fields::Field {
    use fields::Field;
    match f {
        "date" | "birth_date" => Field::Date,
        "person" | "person_id" | "citizen_id" | "head" | "members" => Field::CitizenId,
        "area" | "group" => Field::Area,
        "spouse" | "spouse_id" | "spouse_citizen_id" => Field::SpouseId,
        "spouse_name" => Field::SpouseName,
        "kind" => Field::FlowKind,
        "household" | "household_no" => Field::HouseholdNo,
        "relationship" => Field::Relationship,
        "name" => Field::Name,
        _ => Field::EventType,
    }
}
