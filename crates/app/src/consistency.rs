//! New records against the stored register: the one check that every write path (imports,
//! the web forms) runs on a [`RegisterBatch`] before writing it.
//!
//! [`RegisterBatch::validate`] checks a batch on its own; it cannot see what is already stored.
//! Persons are imported once and events later (monthly), so most events are about stored
//! persons ([`PersonRef::Stored`]). [`check_against_stored`] loads, in a few set-based queries
//! ([`Store::stored_state`]), the birth, death, open residence episodes and open marriages of
//! every stored person the batch touches, applies the batch's records to them in date order and
//! rejects:
//!
//! - any dated record before the person's birth, or after their stored death (the death day
//!   itself is allowed: episodes and marriages end on it);
//! - a second death;
//! - a new episode while one of the same kind is open (户籍: moving between villages is 迁出
//!   then 迁入; 流入/流出: 流动结束 first), or starting before the previous one of its kind ended;
//! - the end of an episode or marriage that is not open (none, or several that the end cannot
//!   tell apart), or that ends before it started;
//! - a marriage while another is open (一夫一妻, 民法典 第1041条), or starting before the
//!   previous one ended; a child born after its stored mother's death or before a stored
//!   parent's birth.
//!
//! A marriage below the legal age of its date (check `P018` of the rule catalogue, 民法典 第1047条:
//! 22 men, 20 women since 1981) is a **warning**, not a rejection: the register records what
//! happened, de-facto marriages below the age exist and matter to the statistics, and the
//! catalogue check reports them again in `renkou check`. The age rule is read from the catalogue,
//! so it lives in one place.

use std::collections::HashMap;

use chrono::NaiveDate;
use renkou_core::area::AreaCode;
use renkou_core::register::{PersonRef, RecordError, RegisterBatch, ResidenceKind};
use renkou_core::rules::catalogue::Catalogue;
use renkou_core::rules::{MarriageFacts, Outcome, PersonFacts, RelativeFacts};
use renkou_store::{Store, StoredState};

use crate::AppError;

/// What [`check_against_stored`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consistency {
    /// Records that contradict the stored register: the batch must not be written.
    pub errors: Vec<RecordError>,
    /// Records kept as given but worth a look (marriages below the legal age).
    pub warnings: Vec<RecordError>,
}

/// The ids of the stored persons a batch refers to, ascending.
pub fn stored_refs(batch: &RegisterBatch) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut add = |r: &PersonRef| {
        if let PersonRef::Stored(id) = r {
            ids.push(*id);
        }
    };
    batch.residences.iter().for_each(|e| add(&e.person));
    for m in &batch.marriages {
        m.wife.iter().chain(m.husband.iter()).for_each(&mut add);
    }
    for b in &batch.births {
        std::iter::once(&b.child).chain(b.mother.iter()).chain(b.father.iter()).for_each(&mut add);
    }
    batch.deaths.iter().for_each(|d| add(&d.person));
    batch.episode_ends.iter().for_each(|e| add(&e.person));
    for m in &batch.marriage_ends {
        std::iter::once(&m.person).chain(m.spouse.iter()).for_each(&mut add);
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Checks `batch` against the stored register (see the module documentation): loads the
/// stored state of the persons it refers to and runs [`check_with`].
///
/// Errors: [`AppError::Store`] when the look-ups fail.
pub async fn check_against_stored(store: &Store, batch: &RegisterBatch) -> Result<Consistency, AppError> {
    let ids = stored_refs(batch);
    let state = if ids.is_empty() { HashMap::new() } else { store.stored_state(&ids).await? };
    Ok(check_with(&state, batch))
}

/// One record of the batch as it touches one stored person.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// `residences[i]` starts.
    EpStart(usize),
    /// `residences[i]` (a batch episode with an end) ends.
    EpClose(usize),
    /// `episode_ends[i]`.
    EpEnd(usize),
    /// `marriages[i]` starts.
    MarStart(usize),
    /// `marriages[i]` (with an end in the batch) ends.
    MarClose(usize),
    /// `marriage_ends[i]`; `true` when the person is the one named (not the spouse).
    MarEnd(usize, bool),
    /// `deaths[i]`.
    Death(usize),
    /// `births[i]`, the person being the mother (`true`) or the father.
    Parent(usize, bool),
}

/// An open episode while the records are applied.
#[derive(Debug, Clone)]
struct Open {
    /// `None` = stored, else the batch residence.
    batch: Option<usize>,
    kind: ResidenceKind,
    area: String,
    from: Option<NaiveDate>,
}

/// An open marriage while the records are applied.
#[derive(Debug, Clone)]
struct OpenM {
    batch: Option<usize>,
    spouse: Option<PersonRef>,
    spouse_name: Option<String>,
    outside_id: Option<String>,
    start: Option<NaiveDate>,
}

fn area_in(filter: Option<&AreaCode>, area: &str) -> bool {
    match filter {
        None => true,
        Some(f) => {
            let (lo, hi) = f.code_range();
            area >= lo.as_str() && area < hi.as_str()
        }
    }
}

fn since(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "登记前".to_string(), |d| format!("自 {d} 起"))
}

/// The pure part of [`check_against_stored`]: `state` holds the stored persons the batch refers
/// to (a reference missing from it is an error).
pub fn check_with(state: &HashMap<i64, StoredState>, batch: &RegisterBatch) -> Consistency {
    let mut out = Consistency::default();
    let mut ops: HashMap<i64, Vec<(Option<NaiveDate>, u8, Op)>> = HashMap::new();
    let mut push = |r: &PersonRef, date: Option<NaiveDate>, order: u8, op: Op| {
        if let PersonRef::Stored(id) = r {
            ops.entry(*id).or_default().push((date, order, op));
        }
    };
    for (i, e) in batch.residences.iter().enumerate() {
        push(&e.person, e.from, 1, Op::EpStart(i));
        if let Some(t) = e.to {
            push(&e.person, Some(t), 0, Op::EpClose(i));
        }
    }
    for (i, e) in batch.episode_ends.iter().enumerate() {
        push(&e.person, Some(e.date), 0, Op::EpEnd(i));
    }
    for (i, m) in batch.marriages.iter().enumerate() {
        for r in m.wife.iter().chain(m.husband.iter()) {
            push(r, m.start, 1, Op::MarStart(i));
            if let Some(e) = m.end {
                push(r, Some(e), 0, Op::MarClose(i));
            }
        }
    }
    for (i, m) in batch.marriage_ends.iter().enumerate() {
        push(&m.person, Some(m.date), 0, Op::MarEnd(i, true));
        if let Some(s) = &m.spouse {
            if *s != m.person {
                push(s, Some(m.date), 0, Op::MarEnd(i, false));
            }
        }
    }
    for (i, d) in batch.deaths.iter().enumerate() {
        push(&d.person, Some(d.date), 2, Op::Death(i));
    }
    for (i, b) in batch.births.iter().enumerate() {
        if let PersonRef::Batch(c) = b.child {
            let born = batch.persons.get(c).map(|p| p.birth_date);
            if let Some(m) = &b.mother {
                push(m, born, 1, Op::Parent(i, true));
            }
            if let Some(f) = &b.father {
                push(f, born, 1, Op::Parent(i, false));
            }
        }
    }

    let mut ids: Vec<i64> = ops.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let mut list = ops.remove(&id).unwrap_or_default();
        list.sort_by_key(|(d, o, _)| (*d, *o));
        let Some(s) = state.get(&id) else {
            let (_, _, op) = list[0];
            let (record, person) = record_of(batch, op);
            out.errors.push(RecordError { record, person, reason: format!("人员 {id} 不在库中 (stored person not found)") });
            continue;
        };
        check_person(s, batch, &list, &mut out);
    }
    legal_age_warnings(state, batch, &mut out);
    out
}

/// `("residences[3]", batch person)` for an op.
fn record_of(batch: &RegisterBatch, op: Op) -> (String, Option<usize>) {
    let bi = |r: &PersonRef| match r {
        PersonRef::Batch(i) => Some(*i),
        PersonRef::Stored(_) => None,
    };
    match op {
        Op::EpStart(i) | Op::EpClose(i) => (format!("residences[{i}]"), None),
        Op::EpEnd(i) => (format!("episode_ends[{i}]"), None),
        Op::MarStart(i) | Op::MarClose(i) => {
            let m = &batch.marriages[i];
            (format!("marriages[{i}]"), m.wife.iter().chain(m.husband.iter()).find_map(bi))
        }
        Op::MarEnd(i, _) => (format!("marriage_ends[{i}]"), None),
        Op::Death(i) => (format!("deaths[{i}]"), None),
        Op::Parent(i, _) => (format!("births[{i}]"), bi(&batch.births[i].child)),
    }
}

fn check_person(s: &StoredState, batch: &RegisterBatch, list: &[(Option<NaiveDate>, u8, Op)], out: &mut Consistency) {
    let me = PersonRef::Stored(s.id);
    let mut episodes: Vec<Open> = s.open_episodes.iter().map(|e| Open { batch: None, kind: e.kind, area: e.area.clone(), from: e.from }).collect();
    let mut last_end: HashMap<ResidenceKind, NaiveDate> = s.last_episode_end.iter().map(|(k, d)| (*k, *d)).collect();
    let mut marriages: Vec<OpenM> = s
        .open_marriages
        .iter()
        .map(|m| OpenM {
            batch: None,
            spouse: m.spouse.map(PersonRef::Stored),
            spouse_name: m.spouse_name.clone(),
            outside_id: m.outside_spouse_citizen_id.clone(),
            start: m.start,
        })
        .collect();
    let mut last_marriage_end = s.last_marriage_end;
    let mut died = s.death_date;
    // A death of the batch ends episodes and marriages on its day: its errors are the death's.
    let death_day = list.iter().find_map(|&(d, _, op)| if matches!(op, Op::Death(_)) { d } else { None });

    for &(date, _, op) in list {
        let (record, person) = record_of(batch, op);
        let mut err = |reason: String| out.errors.push(RecordError { record: record.clone(), person, reason });
        // Dates against birth and death.
        if let Some(d) = date {
            match op {
                Op::Death(_) => {}
                Op::Parent(_, true) if d <= s.birth_date => {
                    err(format!("母亲出生日期 {} 不早于孩子出生日期 {d} (mother born after child)", s.birth_date));
                    continue;
                }
                Op::Parent(_, false) if d <= s.birth_date => {
                    err(format!("父亲出生日期 {} 不早于孩子出生日期 {d} (father born after child)", s.birth_date));
                    continue;
                }
                Op::Parent(..) => {}
                Op::MarStart(_) if d < s.birth_date => {
                    err(format!("结婚日期 {d} 早于出生日期 {} (married before birth)", s.birth_date));
                    continue;
                }
                Op::EpStart(_) if d < s.birth_date => {
                    err(format!("开始日期 {d} 早于出生日期 {} (episode starts before birth)", s.birth_date));
                    continue;
                }
                Op::EpEnd(_) | Op::MarEnd(..) if d < s.birth_date && death_day == Some(d) => continue,
                _ if d < s.birth_date => {
                    err(format!("日期 {d} 早于此人的出生日期 {} (event before birth)", s.birth_date));
                    continue;
                }
                _ => {}
            }
            if let Some(dd) = died {
                let after = match op {
                    Op::Parent(_, false) => false, // a child may be born after the father's death
                    _ => d > dd,
                };
                if after && !matches!(op, Op::Death(_)) {
                    err(if matches!(op, Op::Parent(_, true)) {
                        format!("母亲已于 {dd} 死亡, 孩子出生于 {d} (mother died on {dd})")
                    } else {
                        format!("此人已于 {dd} 死亡 (person died on {dd})")
                    });
                    continue;
                }
            }
        }
        match op {
            Op::Death(i) => {
                let d = batch.deaths[i].date;
                if let Some(dd) = died {
                    err(format!("此人已于 {dd} 登记死亡, 不能再次登记 (death already recorded on {dd})"));
                    continue;
                }
                if d < s.birth_date {
                    err(format!("死亡日期 {d} 早于出生日期 {} (death before birth)", s.birth_date));
                    continue;
                }
                died = Some(d);
            }
            Op::Parent(..) => {}
            Op::EpStart(i) => {
                let e = &batch.residences[i];
                if let Some(o) = episodes.iter().find(|o| o.kind == e.kind) {
                    err(match e.kind {
                        ResidenceKind::Registered => format!(
                            "此人已有未结束的户籍记录 (在 {}, {}); 迁入前须先迁出: 村与村之间的迁移请登记 迁出 再 迁入 (already registered: record 迁出 before 迁入)",
                            o.area,
                            since(o.from)
                        ),
                        k => format!(
                            "此人已有未结束的{}记录 (在 {}, {}), 请先登记流动结束 (an open {} episode exists)",
                            k.name_zh(),
                            o.area,
                            since(o.from),
                            k.code()
                        ),
                    });
                    continue;
                }
                if let (Some(f), Some(&l)) = (e.from, last_end.get(&e.kind)) {
                    if f < l {
                        err(format!("开始日期 {f} 早于此人上一条{}记录的结束日期 {l} (episode overlaps the previous one)", e.kind.name_zh()));
                        continue;
                    }
                }
                episodes.push(Open { batch: Some(i), kind: e.kind, area: e.area.as_str().to_string(), from: e.from });
            }
            Op::EpClose(i) => {
                if let Some(k) = episodes.iter().position(|o| o.batch == Some(i)) {
                    let o = episodes.remove(k);
                    let t = batch.residences[i].to.expect("closed");
                    last_end.entry(o.kind).and_modify(|l| *l = (*l).max(t)).or_insert(t);
                }
            }
            Op::EpEnd(i) => {
                let e = &batch.episode_ends[i];
                let of_kind: Vec<usize> = (0..episodes.len()).filter(|&k| episodes[k].kind == e.kind).collect();
                let in_area: Vec<usize> = of_kind.iter().copied().filter(|&k| area_in(e.area.as_ref(), &episodes[k].area)).collect();
                // The store also matches batch episodes starting on the same day in the area.
                let same_day = batch
                    .residences
                    .iter()
                    .enumerate()
                    .filter(|(j, r)| {
                        r.person == me
                            && r.kind == e.kind
                            && r.to.is_none()
                            && r.from == Some(e.date)
                            && area_in(e.area.as_ref(), r.area.as_str())
                            && !in_area.iter().any(|&k| episodes[k].batch == Some(*j))
                    })
                    .count();
                match in_area.as_slice() {
                    [] if of_kind.is_empty() => err(format!("此人没有未结束的{}记录 (no open {} episode)", e.kind.name_zh(), e.kind.code())),
                    [] => err(format!(
                        "此人未结束的{}记录在 {}, 不在 {} (open episode is in another area)",
                        e.kind.name_zh(),
                        episodes[of_kind[0]].area,
                        e.area.as_ref().map_or(String::new(), |a| a.to_string())
                    )),
                    [k] if same_day == 0 => {
                        if let Some(f) = episodes[*k].from.filter(|f| e.date < *f) {
                            err(format!("日期 {} 早于该{}记录的开始日期 {f} (episode ends before it starts)", e.date, e.kind.name_zh()));
                            continue;
                        }
                        episodes.remove(*k);
                        last_end.entry(e.kind).and_modify(|l| *l = (*l).max(e.date)).or_insert(e.date);
                    }
                    _ => err(format!(
                        "此人有 {} 条未结束的{}记录, 无法确定结束哪一条; 请填写地区 (several open {} episodes: give the area)",
                        in_area.len() + same_day,
                        e.kind.name_zh(),
                        e.kind.code()
                    )),
                }
            }
            Op::MarStart(i) => {
                let m = &batch.marriages[i];
                let other = if m.wife == Some(me) { m.husband } else { m.wife };
                if let Some(o) = marriages.first() {
                    let same = match (other, &o.spouse) {
                        (Some(a), Some(b)) => a == *b,
                        (None, None) => match (&m.outside_spouse_citizen_id, &o.outside_id) {
                            (Some(a), Some(b)) => a.as_str() == b,
                            (None, None) => m.outside_spouse_name.is_some() && m.outside_spouse_name == o.spouse_name,
                            _ => false,
                        },
                        _ => false,
                    };
                    err(if same {
                        format!("此二人的婚姻已登记 ({}) (marriage already recorded)", since(o.start))
                    } else {
                        format!(
                            "此人已有未结束的婚姻 (配偶 {}, {}); 须先登记离婚或丧偶 (an open marriage exists: bigamy)",
                            o.spouse_name.as_deref().unwrap_or("未知"),
                            since(o.start)
                        )
                    });
                    continue;
                }
                if let (Some(st), Some(l)) = (m.start, last_marriage_end) {
                    if st < l {
                        err(format!("结婚日期 {st} 早于此人上一段婚姻的结束日期 {l} (marriage overlaps the previous one)"));
                        continue;
                    }
                }
                marriages.push(OpenM {
                    batch: Some(i),
                    spouse: other,
                    spouse_name: m.outside_spouse_name.clone(),
                    outside_id: m.outside_spouse_citizen_id.as_ref().map(|c| c.as_str().to_string()),
                    start: m.start,
                });
            }
            Op::MarClose(i) => {
                if let Some(k) = marriages.iter().position(|o| o.batch == Some(i)) {
                    marriages.remove(k);
                    let e = batch.marriages[i].end.expect("closed");
                    last_marriage_end = last_marriage_end.max(Some(e));
                }
            }
            Op::MarEnd(i, named) => {
                let e = &batch.marriage_ends[i];
                let other = if named { e.spouse } else { Some(e.person) };
                let matching: Vec<usize> = (0..marriages.len()).filter(|&k| other.is_none() || marriages[k].spouse == other).collect();
                if !named {
                    // The named person's check reports the problems; the spouse's state follows.
                    if let [k] = matching.as_slice() {
                        marriages.remove(*k);
                        last_marriage_end = last_marriage_end.max(Some(e.date));
                    }
                    continue;
                }
                match matching.as_slice() {
                    [] => err("此人没有未结束的婚姻 (no open marriage)".to_string()),
                    [k] => {
                        if let Some(st) = marriages[*k].start.filter(|st| e.date < *st) {
                            err(format!("日期 {} 早于结婚日期 {st} (marriage ends before it starts)", e.date));
                            continue;
                        }
                        marriages.remove(*k);
                        last_marriage_end = last_marriage_end.max(Some(e.date));
                    }
                    _ => err("此人有多段未结束的婚姻, 请填写配偶公民身份号码 (several open marriages: spouse ID required)".to_string()),
                }
            }
        }
    }
}

/// Marriages below the legal age of their date (catalogue check `P018`), as warnings, for the
/// marriages of `batch` from index `from` on (`state`: the stored spouses).
pub fn marriage_age_warnings(state: &HashMap<i64, StoredState>, batch: &RegisterBatch, from: usize) -> Vec<RecordError> {
    let mut out = Consistency::default();
    legal_age_warnings(state, batch, &mut out);
    out.warnings
        .retain(|w| w.record.strip_prefix("marriages[").and_then(|r| r.strip_suffix(']')).and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n >= from));
    out.warnings
}

/// Marriages below the legal age of their date (catalogue check `P018`), as warnings.
fn legal_age_warnings(state: &HashMap<i64, StoredState>, batch: &RegisterBatch, out: &mut Consistency) {
    let Some(check) = Catalogue::builtin().get("P018") else { return };
    for (i, m) in batch.marriages.iter().enumerate() {
        let Some(start) = m.start else { continue };
        for r in m.wife.iter().chain(m.husband.iter()) {
            let (sex, birth, name, person) = match r {
                PersonRef::Batch(j) => match batch.persons.get(*j) {
                    Some(p) => (p.sex, p.birth_date, p.name.clone(), Some(*j)),
                    None => continue,
                },
                PersonRef::Stored(id) => match state.get(id) {
                    Some(s) => (s.sex, s.birth_date, s.name.clone(), None),
                    None => continue,
                },
            };
            if start < birth {
                continue; // an error reported elsewhere
            }
            let mut facts = PersonFacts::new(0, &name, sex, birth);
            facts.marriages.push(MarriageFacts { start: Some(start), end: None, end_reason: None, spouse: RelativeFacts::default() });
            if let Some(Ok(Outcome::Violation { .. })) = check.evaluate_person(&facts, start) {
                let age = renkou_core::period::age_in_completed_years(birth, start);
                out.warnings.push(RecordError {
                    record: format!("marriages[{i}]"),
                    person,
                    reason: format!(
                        "{name} ({}) 结婚时 {age} 周岁, 未达当时的法定婚龄, 已按记录导入, 留待逻辑校验 P018 (married below the legal age: kept as recorded)",
                        sex.name_zh()
                    ),
                });
            }
        }
    }
}
