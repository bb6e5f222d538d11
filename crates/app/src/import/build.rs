//! From rows to a [`RegisterBatch`]: phase 1 parses every row into values (persons go straight
//! into the batch), phase 2 resolves references (spouses, mothers, event subjects) against the
//! batch and the store and turns events into episodes, ends, marriages and deaths. Every record
//! keeps the source row that produced it, so a problem found later points back to the file.

use std::collections::HashMap;

use chrono::NaiveDate;
use renkou_core::area::AreaCode;
use renkou_core::citizen_id::CitizenId;
use renkou_core::command::{Arrival, Command, Spouse};
use renkou_core::register::{
    Birth, HouseholdRef, MaritalStatus, Marriage, NewHousehold, NewPerson, PersonRef, PolicyClass, RegisterBatch, ResidenceEpisode, ResidenceKind, Sex,
};

use renkou_store::StoredState;

use super::fields::*;
use super::source::{Col, Problem, Row, SheetInfo};

/// A source row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Src {
    pub sheet: u32,
    pub row: u32,
}

/// A source cell: row and the column that holds the value a record came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SrcCol {
    pub src: Src,
    pub field: Field,
}

/// Relations of a persons-file row (rare columns, boxed to keep the common row small).
#[derive(Debug, Default)]
struct Rel {
    spouse_id: Option<CitizenId>,
    spouse_name: Option<String>,
    marriage_date: Option<NaiveDate>,
    mother: Option<CitizenId>,
    father: Option<CitizenId>,
    birth_order: Option<u8>,
    policy: Option<PolicyClass>,
}

/// What a persons-file row adds beyond its [`NewPerson`].
#[derive(Debug)]
struct PersonExtra {
    area: u32,
    reg_from: Option<NaiveDate>,
    rel: Option<Box<Rel>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Death,
    MoveIn,
    MoveOut,
    Marry,
    Divorce,
    Widowed,
    InflowStart,
    OutflowStart,
    FlowEnd,
}

impl EventKind {
    fn parse(s: &str) -> Result<EventKind, String> {
        Ok(match s {
            "死亡" => EventKind::Death,
            "迁入" => EventKind::MoveIn,
            "迁出" => EventKind::MoveOut,
            "结婚" => EventKind::Marry,
            "离婚" => EventKind::Divorce,
            "丧偶" => EventKind::Widowed,
            "流入" => EventKind::InflowStart,
            "流出" => EventKind::OutflowStart,
            "流动结束" | "流入结束" | "流出结束" => EventKind::FlowEnd,
            "出生" => return Err("出生请在人员表中登记 (填写母亲公民身份号码或孩次) (births are imported from the persons file)".into()),
            _ => {
                return Err(format!("事件类型 {} 应为 死亡/迁入/迁出/结婚/离婚/丧偶/流入/流出/流动结束 之一 (unknown event type)", renkou_core::text::quote(s)))
            }
        })
    }
}

/// Values of a person who may be new (迁入/流入 rows).
#[derive(Debug)]
struct NewcomerData {
    name: Option<String>,
    sex: Option<Sex>,
    birth: Option<NaiveDate>,
    ethnicity: String,
    marital: MaritalStatus,
    household: Option<String>,
    relationship: Option<String>,
}

#[derive(Debug)]
struct EventRow {
    src: Src,
    kind: EventKind,
    id: CitizenId,
    date: NaiveDate,
    area: Option<u32>,
    spouse_id: Option<CitizenId>,
    spouse_name: Option<String>,
    flow: Option<ResidenceKind>,
    newcomer: Option<Box<NewcomerData>>,
}

/// Counts of warnings that are summarized instead of listed row by row.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub legacy_ids: u64,
    pub sex_differs: Vec<Src>,
    pub birth_differs: Vec<Src>,
    pub mother_outside: Vec<Src>,
    pub father_outside: Vec<Src>,
}

/// The batch under construction and where each record came from.
#[derive(Default)]
pub(crate) struct Builder {
    pub today: NaiveDate,
    pub batch: RegisterBatch,
    extras: Vec<PersonExtra>,
    /// Source of each batch person.
    pub person_src: Vec<Src>,
    /// Citizen ID (first 17 digits) → batch person.
    id_index: HashMap<u64, u32>,
    /// Display name of each sheet that gave rows (a duplicate names the other file).
    sheet_names: Vec<String>,
    /// Household number → batch household.
    household_index: HashMap<String, u32>,
    /// First row of each batch household.
    pub household_src: Vec<Src>,
    /// Interned area codes and the first cell that names each.
    area_index: HashMap<String, u32>,
    pub areas: Vec<(AreaCode, SrcCol)>,
    events: Vec<EventRow>,
    pub residence_src: Vec<SrcCol>,
    pub marriage_src: Vec<SrcCol>,
    pub birth_src: Vec<SrcCol>,
    pub death_src: Vec<SrcCol>,
    pub episode_end_src: Vec<SrcCol>,
    pub marriage_end_src: Vec<SrcCol>,
    pub tally: Tally,
    /// Register commands of the events files, in date order, and the row of each.
    pub commands: Vec<Command>,
    pub command_src: Vec<SrcCol>,
    /// Marriages of the persons file (those after it are the events').
    pub batch_marriages_before_events: usize,
    /// The stored state of the stored persons the rows refer to (set before [`Builder::resolve`]):
    /// which episodes are open, where the person is registered, the death.
    pub stored_state: HashMap<i64, StoredState>,
}

type Problems = Vec<Problem>;

fn problem(out: &mut Problems, src: Src, field: Field, reason: impl Into<String>) {
    out.push(Problem { sheet: src.sheet, row: src.row, col: Col::Field(field), reason: reason.into() });
}

/// A code cell (户号): full-width digits and letters read as ASCII, so `００１` is household `001`.
fn text_of(c: &Cell) -> Option<String> {
    c.as_code().map(|t| t.into_owned())
}

/// A name cell (姓名, 配偶姓名): [`renkou_core::text::check_person_name`] (trimmed; control or
/// invisible characters, more than 50 characters are a problem). Empty is `None` without a problem.
fn name_of(c: &Cell, src: Src, field: Field, out: &mut Problems) -> Option<String> {
    match renkou_core::text::check_person_name(&c.as_text()?) {
        Ok(name) => Some(name),
        Err(renkou_core::text::NameError::Empty) => None,
        Err(e) => {
            problem(out, src, field, e.to_string());
            None
        }
    }
}

/// Encodes a person reference as one number for pair keys: batch ≥ 0, stored < 0.
fn enc(r: PersonRef) -> i64 {
    match r {
        PersonRef::Batch(i) => i as i64,
        PersonRef::Stored(id) => -id - 1,
    }
}

impl Builder {
    pub(crate) fn new(today: NaiveDate) -> Builder {
        Builder { today, ..Default::default() }
    }

    fn intern_area(&mut self, code: AreaCode, at: SrcCol) -> u32 {
        if let Some(&i) = self.area_index.get(code.as_str()) {
            return i;
        }
        let i = self.areas.len() as u32;
        self.area_index.insert(code.as_str().to_string(), i);
        self.areas.push((code, at));
        i
    }

    /// Parses an area cell, interning the code (no parse on a repeated value).
    fn area_cell(&mut self, c: &Cell, src: Src, field: Field, out: &mut Problems) -> Option<u32> {
        if let Cell::Text(t) = c {
            if let Some(&i) = self.area_index.get(*t) {
                return Some(i);
            }
        }
        match parse_area(c) {
            Ok(Some(code)) => Some(self.intern_area(code, SrcCol { src, field })),
            Ok(None) => None,
            Err(e) => {
                problem(out, src, field, e);
                None
            }
        }
    }

    fn household(&mut self, no: String, area: u32, src: Src, out: &mut Problems) -> Option<usize> {
        if let Some(&h) = self.household_index.get(&no) {
            let existing = &self.batch.households[h as usize].area;
            let here = &self.areas[area as usize].0;
            if existing != here {
                let first = self.household_src[h as usize];
                problem(
                    out,
                    src,
                    Field::Area,
                    format!("户号 {no} 在第{}行登记在 {existing}, 本行为 {here}; 同一户只能在一个村/组 (household area differs)", first.row),
                );
                return None;
            }
            return Some(h as usize);
        }
        let h = self.batch.households.len();
        self.batch.households.push(NewHousehold { household_no: no.clone(), area: self.areas[area as usize].0.clone() });
        self.household_src.push(src);
        self.household_index.insert(no, h as u32);
        Some(h)
    }

    /// Phase 1: one data row of any sheet.
    pub(crate) fn row(&mut self, info: &SheetInfo, sheet: u32, row_no: u32, row: &Row<'_>, out: &mut Problems) {
        let src = Src { sheet, row: row_no };
        if self.sheet_names.len() <= sheet as usize {
            self.sheet_names.resize(sheet as usize + 1, String::new());
            self.sheet_names[sheet as usize] = info.name.clone();
        }
        match info.kind {
            FileKind::Persons => self.person_row(info, src, row, out),
            FileKind::Events => self.event_row(info, src, row, out),
        }
    }

    fn id_field(&mut self, info: &SheetInfo, row: &Row<'_>, src: Src, field: Field, out: &mut Problems) -> Option<CitizenId> {
        match parse_citizen_id(&row.field(info, field), self.today) {
            Ok(Some((id, legacy))) => {
                if legacy {
                    self.tally.legacy_ids += 1;
                }
                Some(id)
            }
            Ok(None) => None,
            Err(e) => {
                problem(out, src, field, e);
                None
            }
        }
    }

    /// A date cell: parsed, after 1880 and not after today.
    fn date_field(&self, info: &SheetInfo, row: &Row<'_>, src: Src, field: Field, out: &mut Problems) -> Option<NaiveDate> {
        match parse_date(&row.field(info, field)).and_then(|d| d.map(plausible_year).transpose()) {
            Ok(Some(d)) if d > self.today => {
                problem(out, src, field, format!("日期 {d} 晚于今天 {} (date in the future)", self.today));
                None
            }
            Ok(d) => d,
            Err(e) => {
                problem(out, src, field, e);
                None
            }
        }
    }

    fn person_row(&mut self, info: &SheetInfo, src: Src, row: &Row<'_>, out: &mut Problems) {
        let before = out.len();
        let before_name = out.len();
        let name = name_of(&row.field(info, Field::Name), src, Field::Name, out);
        if name.is_none() && out.len() == before_name {
            problem(out, src, Field::Name, "姓名为空 (name is empty)");
        }
        let id = self.id_field(info, row, src, Field::CitizenId, out);
        if id.is_none() && row.field(info, Field::CitizenId).is_empty() {
            problem(out, src, Field::CitizenId, "公民身份号码为空 (citizen ID is empty)");
        }
        let sex = parse_sex(&row.field(info, Field::Sex)).unwrap_or_else(|e| {
            problem(out, src, Field::Sex, e);
            None
        });
        let birth = self.date_field(info, row, src, Field::BirthDate, out);
        let ethnicity = parse_ethnicity(&row.field(info, Field::Ethnicity));
        let marital = parse_marital(&row.field(info, Field::Marital)).unwrap_or_else(|e| {
            problem(out, src, Field::Marital, e);
            MaritalStatus::Unstated
        });
        let area_cell = row.field(info, Field::Area);
        let area = self.area_cell(&area_cell, src, Field::Area, out);
        if area_cell.is_empty() {
            problem(out, src, Field::Area, "户籍村/组为空 (area is empty)");
        }
        let relationship = parse_relationship(&row.field(info, Field::Relationship)).unwrap_or_else(|e| {
            problem(out, src, Field::Relationship, e);
            None
        });
        let household_no = text_of(&row.field(info, Field::HouseholdNo));
        let reg_from = self.date_field(info, row, src, Field::RegisteredFrom, out);
        // Rare columns.
        let mut rel = Rel {
            spouse_id: self.id_field(info, row, src, Field::SpouseId, out),
            spouse_name: name_of(&row.field(info, Field::SpouseName), src, Field::SpouseName, out),
            marriage_date: self.date_field(info, row, src, Field::MarriageDate, out),
            mother: self.id_field(info, row, src, Field::MotherId, out),
            father: self.id_field(info, row, src, Field::FatherId, out),
            birth_order: parse_birth_order(&row.field(info, Field::BirthOrder)).unwrap_or_else(|e| {
                problem(out, src, Field::BirthOrder, e);
                None
            }),
            policy: parse_policy(&row.field(info, Field::Policy)).unwrap_or_else(|e| {
                problem(out, src, Field::Policy, e);
                None
            }),
        };
        if let Some(id) = &id {
            for (other, field) in [(&rel.spouse_id, Field::SpouseId), (&rel.mother, Field::MotherId), (&rel.father, Field::FatherId)] {
                if other.as_ref() == Some(id) {
                    problem(out, src, field, format!("{} 与本人的公民身份号码相同 (refers to the person themself)", field.header(info.kind)));
                }
            }
        }
        if out.len() > before {
            return;
        }
        let (Some(id), Some(name), Some(area)) = (id, name, area) else {
            return;
        };
        let key = id_key(&id);
        if let Some(&first) = self.id_index.get(&key) {
            let f = self.person_src[first as usize];
            let file = if f.sheet == src.sheet { String::new() } else { format!("{} ", self.sheet_names[f.sheet as usize]) };
            problem(out, src, Field::CitizenId, format!("公民身份号码 {id} 与{file}第{}行重复 (duplicate citizen ID in the files)", f.row));
            return;
        }
        let sex = match sex {
            Some(s) => {
                if s != id.sex() {
                    self.tally.sex_differs.push(src);
                }
                s
            }
            None => id.sex(),
        };
        let birth = match birth {
            Some(b) => {
                if b != id.birth_date() {
                    self.tally.birth_differs.push(src);
                }
                b
            }
            None => id.birth_date(),
        };
        let household = match household_no {
            Some(no) => match self.household(no, area, src, out) {
                Some(h) => Some(h),
                None => return,
            },
            None => None,
        };
        let has_rel = rel.spouse_id.is_some()
            || rel.spouse_name.is_some()
            || rel.marriage_date.is_some()
            || rel.mother.is_some()
            || rel.father.is_some()
            || rel.birth_order.is_some()
            || rel.policy.is_some();
        let i = self.batch.persons.len() as u32;
        self.id_index.insert(key, i);
        self.batch.persons.push(NewPerson {
            citizen_id: Some(id),
            name,
            sex,
            birth_date: birth,
            ethnicity,
            marital_status: marital,
            household,
            relationship_to_head: relationship,
        });
        self.person_src.push(src);
        self.extras.push(PersonExtra { area, reg_from, rel: has_rel.then(|| Box::new(std::mem::take(&mut rel))) });
    }

    fn event_row(&mut self, info: &SheetInfo, src: Src, row: &Row<'_>, out: &mut Problems) {
        let before = out.len();
        let kind = match row.field(info, Field::EventType).as_text() {
            None => {
                problem(out, src, Field::EventType, "事件类型为空 (event type is empty)");
                None
            }
            Some(t) => EventKind::parse(&t).map_err(|e| problem(out, src, Field::EventType, e)).ok(),
        };
        let id = self.id_field(info, row, src, Field::CitizenId, out);
        if id.is_none() && row.field(info, Field::CitizenId).is_empty() {
            problem(out, src, Field::CitizenId, "公民身份号码为空 (citizen ID is empty)");
        }
        let date = self.date_field(info, row, src, Field::Date, out);
        if date.is_none() && row.field(info, Field::Date).is_empty() {
            problem(out, src, Field::Date, "日期为空 (date is empty)");
        }
        let area = self.area_cell(&row.field(info, Field::Area), src, Field::Area, out);
        let spouse_id = self.id_field(info, row, src, Field::SpouseId, out);
        let spouse_name = name_of(&row.field(info, Field::SpouseName), src, Field::SpouseName, out);
        let flow = match row.field(info, Field::FlowKind).as_text().as_deref() {
            None => None,
            Some("流入") => Some(ResidenceKind::Inflow),
            Some("流出") => Some(ResidenceKind::Outflow),
            Some("户籍") => Some(ResidenceKind::Registered),
            Some(t) => {
                problem(out, src, Field::FlowKind, format!("流动类型 {} 应为 流入 或 流出 (flow kind must be 流入 or 流出)", renkou_core::text::quote(t)));
                None
            }
        };
        let flow = match (kind, row.field(info, Field::EventType).as_text().as_deref()) {
            (_, Some("流入结束")) => Some(ResidenceKind::Inflow),
            (_, Some("流出结束")) => Some(ResidenceKind::Outflow),
            _ => flow,
        };
        let mut newcomer = None;
        if matches!(kind, Some(EventKind::MoveIn) | Some(EventKind::InflowStart)) {
            if area.is_none() && row.field(info, Field::Area).is_empty() {
                problem(out, src, Field::Area, "迁入/流入需要填写地区 (area required for 迁入/流入)");
            }
            let sex = parse_sex(&row.field(info, Field::Sex)).unwrap_or_else(|e| {
                problem(out, src, Field::Sex, e);
                None
            });
            let birth = self.date_field(info, row, src, Field::BirthDate, out);
            let marital = parse_marital(&row.field(info, Field::Marital)).unwrap_or_else(|e| {
                problem(out, src, Field::Marital, e);
                MaritalStatus::Unstated
            });
            let relationship = parse_relationship(&row.field(info, Field::Relationship)).unwrap_or_else(|e| {
                problem(out, src, Field::Relationship, e);
                None
            });
            newcomer = Some(Box::new(NewcomerData {
                name: name_of(&row.field(info, Field::Name), src, Field::Name, out),
                sex,
                birth,
                ethnicity: parse_ethnicity(&row.field(info, Field::Ethnicity)),
                marital,
                household: text_of(&row.field(info, Field::HouseholdNo)),
                relationship,
            }));
        }
        if kind == Some(EventKind::Marry) && spouse_id.is_none() && spouse_name.is_none() && out.len() == before {
            problem(out, src, Field::SpouseId, "结婚需要填写配偶公民身份号码或配偶姓名 (spouse ID or name required)");
        }
        if let (Some(a), Some(b)) = (&id, &spouse_id) {
            if a == b {
                problem(out, src, Field::SpouseId, "配偶公民身份号码与本人相同 (spouse is the person themself)");
            }
        }
        if out.len() > before {
            return;
        }
        let (Some(kind), Some(id), Some(date)) = (kind, id, date) else {
            return;
        };
        self.events.push(EventRow { src, kind, id, date, area, spouse_id, spouse_name, flow, newcomer });
    }

    /// Keys ([`id_key`]) of the citizen IDs the persons files name: their persons and the
    /// spouses and parents they cite (the events files' IDs are the engine's to refuse, at their
    /// rows).
    pub(crate) fn persons_file_keys(&self) -> Vec<u64> {
        let mut keys: Vec<u64> = self.batch.persons.iter().filter_map(|p| p.citizen_id.as_ref().map(id_key)).collect();
        for e in &self.extras {
            if let Some(r) = &e.rel {
                keys.extend([&r.spouse_id, &r.mother, &r.father].into_iter().flatten().map(id_key));
            }
        }
        keys
    }

    pub(crate) fn referenced_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.batch.persons.iter().filter_map(|p| p.citizen_id.as_ref().map(|c| c.as_str().to_string())).collect();
        for e in &self.extras {
            if let Some(r) = &e.rel {
                for id in [&r.spouse_id, &r.mother, &r.father].into_iter().flatten() {
                    if !self.id_index.contains_key(&id_key(id)) {
                        ids.push(id.as_str().to_string());
                    }
                }
            }
        }
        for ev in &self.events {
            for id in std::iter::once(&ev.id).chain(ev.spouse_id.iter()) {
                if !self.id_index.contains_key(&id_key(id)) {
                    ids.push(id.as_str().to_string());
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Phase 2: resolves references and applies events. `stored` maps citizen IDs (first 17
    /// digits) to stored person ids.
    pub(crate) fn resolve(&mut self, stored: &HashMap<u64, i64>, out: &mut Problems) {
        // Persons of the files that are already stored.
        for (i, p) in self.batch.persons.iter().enumerate() {
            let id = p.citizen_id.as_ref().expect("persons-file persons have IDs");
            if stored.contains_key(&id_key(id)) {
                problem(out, self.person_src[i], Field::CitizenId, format!("公民身份号码 {id} 已在数据库中 (citizen ID already stored)"));
            }
        }
        let lookup = |index: &HashMap<u64, u32>, id: &CitizenId| -> Option<PersonRef> {
            let k = id_key(id);
            index.get(&k).map(|&i| PersonRef::Batch(i as usize)).or_else(|| stored.get(&k).map(|&s| PersonRef::Stored(s)))
        };
        // Registered episodes of persons-file persons: residence i belongs to person i.
        let n = self.extras.len();
        self.batch.residences.reserve(n);
        for i in 0..n {
            let e = &self.extras[i];
            let has_birth = e.rel.as_ref().is_some_and(|r| r.mother.is_some() || r.birth_order.is_some());
            let from = e.reg_from.or(if has_birth { Some(self.batch.persons[i].birth_date) } else { None });
            self.batch.residences.push(ResidenceEpisode {
                person: PersonRef::Batch(i),
                area: self.areas[e.area as usize].0.clone(),
                kind: ResidenceKind::Registered,
                from,
                to: None,
            });
            self.residence_src.push(SrcCol { src: self.person_src[i], field: Field::RegisteredFrom });
        }
        // Marriages and births of the persons file.
        let mut couples: HashMap<(i64, i64), usize> = HashMap::new();
        let mut by_person: HashMap<i64, Vec<usize>> = HashMap::new();
        for i in 0..n {
            let Some(rel) = self.extras[i].rel.take() else { continue };
            let src = self.person_src[i];
            let me = PersonRef::Batch(i);
            if rel.spouse_id.is_some() || rel.spouse_name.is_some() || rel.marriage_date.is_some() {
                let spouse = rel.spouse_id.as_ref().and_then(|s| lookup(&self.id_index, s));
                let field = if rel.marriage_date.is_some() { Field::MarriageDate } else { Field::SpouseId };
                self.marry(
                    me,
                    spouse,
                    rel.spouse_id.clone(),
                    rel.spouse_name.clone(),
                    rel.marriage_date,
                    SrcCol { src, field },
                    &mut couples,
                    &mut by_person,
                    out,
                );
            }
            if rel.mother.is_some() || rel.birth_order.is_some() {
                let mother = rel.mother.as_ref().and_then(|m| lookup(&self.id_index, m));
                let father = rel.father.as_ref().and_then(|f| lookup(&self.id_index, f));
                if rel.mother.is_some() && mother.is_none() {
                    self.tally.mother_outside.push(src);
                }
                if rel.father.is_some() && father.is_none() {
                    self.tally.father_outside.push(src);
                }
                self.batch.births.push(Birth { child: me, mother, father, birth_order: rel.birth_order, policy: rel.policy });
                self.birth_src.push(SrcCol { src, field: if rel.mother.is_some() { Field::MotherId } else { Field::BirthOrder } });
            }
        }
        // Events, in date order (rows of the same day in file order), as register commands
        // that the engine applies after the persons file (crate::register::plan).
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|e| (e.date, e.src.sheet, e.src.row));
        // Newcomers: the first 迁入/流入 row of an ID that is neither in the files nor stored.
        let mut arrivals: HashMap<u64, usize> = HashMap::new();
        for (i, ev) in events.iter().enumerate() {
            let k = id_key(&ev.id);
            if matches!(ev.kind, EventKind::MoveIn | EventKind::InflowStart) && !self.id_index.contains_key(&k) && !stored.contains_key(&k) {
                arrivals.entry(k).or_insert(i);
            }
        }
        let mut couples: std::collections::HashSet<(i64, i64)> = std::collections::HashSet::new();
        for (i, ev) in events.iter().enumerate() {
            let k = id_key(&ev.id);
            if let Some(&a) = arrivals.get(&k) {
                if i < a {
                    let first = &events[a];
                    problem(
                        out,
                        ev.src,
                        Field::Date,
                        format!(
                            "日期 {} 早于此人在第{}行的{} ({}), 此前此人不在册 (event before the person's arrival)",
                            ev.date,
                            first.src.row,
                            if first.kind == EventKind::MoveIn { "迁入" } else { "流入" },
                            first.date
                        ),
                    );
                    continue;
                }
            }
            self.command_of(ev, stored, &mut couples, out);
        }
    }

    /// Households of the files whose 户号 is already stored: their persons join the stored
    /// household (a membership after the inserts) and the batch household is dropped; every
    /// index into the batch's households (persons, commands) is renumbered.
    pub(crate) fn redirect_stored_households(&mut self, existing: &HashMap<String, i64>) {
        let mut map: Vec<Result<usize, i64>> = Vec::with_capacity(self.batch.households.len());
        let mut kept = Vec::new();
        let mut kept_src = Vec::new();
        for (h, src) in std::mem::take(&mut self.batch.households).into_iter().zip(std::mem::take(&mut self.household_src)) {
            match existing.get(&h.household_no) {
                Some(id) => map.push(Err(*id)),
                None => {
                    map.push(Ok(kept.len()));
                    kept.push(h);
                    kept_src.push(src);
                }
            }
        }
        self.household_index = kept.iter().enumerate().map(|(i, h)| (h.household_no.clone(), i as u32)).collect();
        self.batch.households = kept;
        self.household_src = kept_src;
        for (i, p) in self.batch.persons.iter_mut().enumerate() {
            if let Some(h) = p.household {
                match map[h] {
                    Ok(n) => p.household = Some(n),
                    Err(id) => {
                        p.household = None;
                        let relationship = p.relationship_to_head.take();
                        self.batch.memberships.push(renkou_core::register::Membership {
                            person: PersonRef::Batch(i),
                            household: Some(HouseholdRef::Stored(id)),
                            relationship,
                        });
                    }
                }
            }
        }
        for c in &mut self.commands {
            if let Command::MoveIn { household: Some(HouseholdRef::Batch(h)), .. } = c {
                let new = match map[*h] {
                    Ok(n) => HouseholdRef::Batch(n),
                    Err(id) => HouseholdRef::Stored(id),
                };
                if let Command::MoveIn { household, .. } = c {
                    *household = Some(new);
                }
            }
        }
    }

    /// Turns an event row into a register command (kept with its source row).
    fn command_of(&mut self, ev: &EventRow, stored: &HashMap<u64, i64>, couples: &mut std::collections::HashSet<(i64, i64)>, out: &mut Problems) {
        let lookup = |b: &Builder, id: &CitizenId| -> Option<PersonRef> {
            let k = id_key(id);
            b.id_index.get(&k).map(|&i| PersonRef::Batch(i as usize)).or_else(|| stored.get(&k).map(|&s| PersonRef::Stored(s)))
        };
        let area = ev.area.map(|a| self.areas[a as usize].0.clone());
        let found = lookup(self, &ev.id);
        let at = SrcCol { src: ev.src, field: Field::Date };
        let p = match found {
            Some(p) => p,
            None if matches!(ev.kind, EventKind::MoveIn | EventKind::InflowStart) => {
                // A newcomer: the row must name them; the person is created here so that later
                // rows refer to the same batch person, and arrives by the command below.
                let nc = ev.newcomer.as_ref().expect("parsed for 迁入/流入");
                let Some(name) = nc.name.clone() else {
                    problem(out, ev.src, Field::Name, format!("公民身份号码 {} 不在册, 新登记人员需要填写姓名 (new person: name required)", ev.id));
                    return;
                };
                let i = self.batch.persons.len();
                let sex = nc.sex.unwrap_or_else(|| ev.id.sex());
                let birth = nc.birth.unwrap_or_else(|| ev.id.birth_date());
                if sex != ev.id.sex() {
                    self.tally.sex_differs.push(ev.src);
                }
                if birth != ev.id.birth_date() {
                    self.tally.birth_differs.push(ev.src);
                }
                self.batch.persons.push(NewPerson {
                    citizen_id: Some(ev.id.clone()),
                    name,
                    sex,
                    birth_date: birth,
                    ethnicity: nc.ethnicity.clone(),
                    marital_status: nc.marital,
                    household: None,
                    relationship_to_head: None,
                });
                self.person_src.push(ev.src);
                self.id_index.insert(id_key(&ev.id), i as u32);
                PersonRef::Batch(i)
            }
            None => {
                problem(out, ev.src, Field::CitizenId, format!("公民身份号码 {} 不在册 (person not in the register)", ev.id));
                return;
            }
        };
        let spouse = ev.spouse_id.as_ref().and_then(|s| lookup(self, s));
        let cmd = match ev.kind {
            EventKind::Death => Command::Death { person: p, date: ev.date },
            EventKind::MoveIn => {
                let area = area.expect("checked in phase 1");
                let nc = ev.newcomer.as_ref().expect("parsed for 迁入/流入");
                let household = match &nc.household {
                    Some(no) => match self.household(no.clone(), ev.area.expect("checked"), ev.src, out) {
                        Some(h) => Some(HouseholdRef::Batch(h)),
                        None => return,
                    },
                    None => None,
                };
                let relationship = household.map(|_| nc.relationship.clone().unwrap_or_else(|| "其他亲属".into()));
                Command::MoveIn { person: Arrival::Known(p), area, date: ev.date, household, relationship }
            }
            EventKind::MoveOut => Command::MoveOut { person: p, date: ev.date, area: area.clone() },
            EventKind::InflowStart => Command::InflowStart { person: Arrival::Known(p), area: area.expect("checked in phase 1"), date: ev.date },
            EventKind::OutflowStart => Command::OutflowStart { person: p, date: ev.date, area },
            EventKind::FlowEnd => Command::FloatingEnd { person: p, kind: ev.flow, date: ev.date, area: area.clone() },
            EventKind::Marry => {
                // The same couple on two rows (one per spouse) is one marriage.
                let key = match (spouse, &ev.spouse_id) {
                    (Some(s), _) => (enc(p).min(enc(s)), enc(p).max(enc(s))),
                    (None, Some(sid)) => (enc(p), -(id_key(sid) as i64) - (1 << 62)),
                    (None, None) => (enc(p), i64::MIN + ev.src.row as i64),
                };
                if !couples.insert(key) {
                    return;
                }
                let spouse = match spouse {
                    Some(s) => Spouse::Registered(s),
                    None => Spouse::Outside { name: ev.spouse_name.clone().unwrap_or_default(), citizen_id: ev.spouse_id.clone() },
                };
                Command::Marriage { person: p, spouse, date: Some(ev.date) }
            }
            EventKind::Divorce => Command::Divorce { person: p, spouse, date: ev.date },
            EventKind::Widowed => Command::Widowhood { person: p, date: ev.date },
        };
        self.commands.push(cmd);
        self.command_src.push(at);
    }

    #[allow(clippy::too_many_arguments)]
    fn marry(
        &mut self,
        me: PersonRef,
        spouse: Option<PersonRef>,
        spouse_id: Option<CitizenId>,
        spouse_name: Option<String>,
        date: Option<NaiveDate>,
        at: SrcCol,
        couples: &mut HashMap<(i64, i64), usize>,
        by_person: &mut HashMap<i64, Vec<usize>>,
        out: &mut Problems,
    ) {
        let sex_of = |b: &Builder, r: PersonRef, id: Option<&CitizenId>| match r {
            PersonRef::Batch(i) => Some(b.batch.persons[i].sex),
            PersonRef::Stored(_) => id.map(|c| c.sex()),
        };
        let my_sex = sex_of(self, me, None).expect("batch person");
        if let Some(sp) = spouse {
            let key = (enc(me).min(enc(sp)), enc(me).max(enc(sp)));
            if let Some(&m) = couples.get(&key) {
                let existing = &mut self.batch.marriages[m];
                match (existing.start, date) {
                    (Some(a), Some(b)) if a != b => {
                        let first = self.marriage_src[m].src.row;
                        problem(out, at.src, at.field, format!("结婚日期 {b} 与第{first}行记录的 {a} 不一致 (marriage date differs)"));
                    }
                    (None, Some(b)) => existing.start = Some(b),
                    _ => {}
                }
                return;
            }
            if let Some(sp_sex) = sex_of(self, sp, spouse_id.as_ref()) {
                if sp_sex == my_sex {
                    problem(out, at.src, Field::SpouseId, "配偶与本人性别相同, 无法登记夫妻 (spouses of the same sex)");
                    return;
                }
            }
            let (wife, husband) = if my_sex == Sex::Female { (Some(me), Some(sp)) } else { (Some(sp), Some(me)) };
            let m = self.batch.marriages.len();
            self.batch.marriages.push(Marriage {
                wife,
                husband,
                outside_spouse_name: None,
                outside_spouse_citizen_id: None,
                start: date,
                end: None,
                end_reason: None,
            });
            self.marriage_src.push(at);
            couples.insert(key, m);
            by_person.entry(enc(me)).or_default().push(m);
            by_person.entry(enc(sp)).or_default().push(m);
        } else {
            if let Some(sid) = &spouse_id {
                if sid.sex() == my_sex {
                    problem(out, at.src, Field::SpouseId, "配偶与本人性别相同, 无法登记夫妻 (spouses of the same sex)");
                    return;
                }
                // The same outside spouse named twice (e.g. two event rows) is one marriage.
                let key = (enc(me), -(id_key(sid) as i64) - (1 << 62));
                if couples.contains_key(&key) {
                    return;
                }
                couples.insert(key, self.batch.marriages.len());
            }
            let (wife, husband) = if my_sex == Sex::Female { (Some(me), None) } else { (None, Some(me)) };
            let m = self.batch.marriages.len();
            self.batch.marriages.push(Marriage {
                wife,
                husband,
                outside_spouse_name: spouse_name,
                outside_spouse_citizen_id: spouse_id,
                start: date,
                end: None,
                end_reason: None,
            });
            self.marriage_src.push(at);
            by_person.entry(enc(me)).or_default().push(m);
        }
    }
}
