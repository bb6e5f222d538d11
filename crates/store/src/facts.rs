//! What the logic checks read: [`PersonFacts`] snapshots filled in chunks of
//! [`FACTS_BATCH`] persons (one query a chunk: a range scan of each table's person-id index,
//! merged in Rust; never one query per person), and the set questions a per-person rule cannot
//! answer (duplicate citizen IDs, areas missing from the area table, households without a head
//! or with two), each a single scoped query.
//!
//! A person is inside a scope as in person search (`persons.rs`): any registered or inflow
//! episode, or the household, lies inside it.

use std::sync::LazyLock;

use crate::db::DbRow;
use crate::db::{self, Builder, Dialect};
use chrono::NaiveDate;
use renkou_core::area::AreaCode;
use renkou_core::register::{MaritalStatus, MarriageEnd, PolicyClass, ResidenceKind, Sex};
use renkou_core::rules::{BirthFacts, MarriageFacts, ParentRole, PersonFacts, RelativeFacts, ResidenceFacts};
use serde::Serialize;

use crate::day::{death_join, in_scope, latest_registered_area, open_now, resident_at};
use crate::{Result, Store, StoreError};

/// One person of a duplicate-ID group ([`Store::duplicate_citizen_ids`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateIdRow {
    /// The normalized 17-digit body shared by the group (15-digit numbers upgraded).
    pub key: String,
    /// Store id.
    pub person_id: i64,
    /// The citizen ID as recorded (unmasked: the app masks).
    pub citizen_id: String,
    /// Name.
    pub name: String,
    /// Area of the latest registered episode (or the household's), if any.
    pub area_code: Option<String>,
}

/// An open registered episode in an area code that is not in the area table, or above the
/// village level ([`Store::unknown_area_episodes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownAreaRow {
    /// Store id of the person.
    pub person_id: i64,
    /// Citizen ID (unmasked).
    pub citizen_id: Option<String>,
    /// Name.
    pub name: String,
    /// The episode's area code.
    pub area_code: String,
    /// True when the code is in the area table (then it is above the village level).
    pub known: bool,
}

/// A household whose current members do not have exactly one head ([`Store::household_heads`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseholdHeadsRow {
    /// Store id of the household.
    pub household_id: i64,
    /// 户号.
    pub household_no: String,
    /// The household's area.
    pub area_code: String,
    /// Current members (alive, with an open registered episode).
    pub members: i64,
    /// Of which recorded as 户主.
    pub heads: i64,
    /// Store ids of the heads (empty when none).
    pub head_ids: Vec<i64>,
}

/// Persons per chunk of a full load ([`Store::person_facts_chunks`]): one query reads the
/// snapshots of this many persons (a range of ids, or a list when the ids are sparse).
pub const FACTS_BATCH: usize = 2048;

/// Chunks a full load reads ahead of its consumer (queries in flight plus chunks waiting).
const CHUNKS_AHEAD: usize = 2;

/// ` AND (person p is inside the scope)` with the range bound as `$lo`/`$hi` placeholders.
fn push_scope(qb: &mut Builder, scope: &AreaCode) {
    let (lo, hi) = scope.code_range();
    qb.push(" AND (EXISTS (SELECT 1 FROM residence rs WHERE rs.person_id = p.id AND rs.kind IN ('registered', 'inflow') AND rs.area_code >= ");
    qb.push_bind(lo.clone()).push(" AND rs.area_code < ").push_bind(hi.clone());
    qb.push(") OR EXISTS (SELECT 1 FROM household hs WHERE hs.id = p.household_id AND hs.area_code >= ");
    qb.push_bind(lo).push(" AND hs.area_code < ").push_bind(hi).push("))");
}

/// The statement that reads the snapshots of one chunk: one row of seven JSON arrays (persons,
/// residences, marriages as wife and as husband, births as mother and as father, household
/// members), each a range scan of one table's person-id index joined to the relatives' rows.
/// `filter(col)` selects the chunk's persons.
///
/// One row per chunk rather than one per record: the cost of a SQLite row in sqlx (a row sent
/// between threads, every value copied) was most of the old loading time; the JSON text of a
/// chunk is one value. PostgreSQL: `json_agg(json_build_array(…))` for
/// `json_group_array(json_array(…))`, `= ANY($1)` for `json_each`.
fn snapshot_sql(dialect: Dialect, filter: impl Fn(&str) -> String) -> String {
    let rows = |cols: &str| dialect.json_rows(cols);
    let marriages = |me: &str, other: &str| {
        format!(
            "(SELECT {}
              FROM marriage m LEFT JOIN person s ON s.id = m.{other} LEFT JOIN death d ON d.person_id = s.id WHERE {})",
            rows(&format!(
                "m.{me}, m.id, m.start_date, m.end_date, m.end_reason, s.id,
                 COALESCE(s.citizen_id, m.outside_spouse_citizen_id), COALESCE(s.name, m.outside_spouse_name),
                 s.sex, s.birth_date, d.death_date, s.relationship_to_head"
            )),
            filter(&format!("m.{me}"))
        )
    };
    let births = |col: &str| {
        format!(
            "(SELECT {}
              FROM birth b JOIN person c ON c.id = b.child_id LEFT JOIN death d ON d.person_id = c.id WHERE {})",
            rows(&format!("b.{col}, b.birth_order, b.policy, c.id, c.citizen_id, c.name, c.sex, c.birth_date, d.death_date")),
            filter(&format!("b.{col}"))
        )
    };
    format!(
        "SELECT
           (SELECT {persons_cols}
              FROM person p LEFT JOIN household h ON h.id = p.household_id LEFT JOIN death d ON d.person_id = p.id WHERE {persons}),
           (SELECT {residences_cols}
              FROM residence r WHERE {residences}),
           {wife}, {husband}, {mother}, {father},
           (SELECT {members_cols}
              FROM person p LEFT JOIN death d ON d.person_id = p.id
             WHERE p.household_id IN (SELECT x.household_id FROM person x WHERE {members} AND x.household_id IS NOT NULL))",
        persons_cols = rows(
            "p.id, p.citizen_id, p.name, p.sex, p.birth_date, p.ethnicity, p.marital_status,
             h.household_no, p.relationship_to_head, p.household_id, d.death_date, h.area_code"
        ),
        residences_cols = rows("r.person_id, r.id, r.area_code, r.kind, r.valid_from, r.valid_to"),
        members_cols = rows("p.household_id, p.id, p.citizen_id, p.name, p.sex, p.birth_date, d.death_date, p.relationship_to_head"),
        persons = filter("p.id"),
        residences = filter("r.person_id"),
        wife = marriages("wife_id", "husband_id"),
        husband = marriages("husband_id", "wife_id"),
        mother = births("mother_id"),
        father = births("father_id"),
        members = filter("x.id"),
    )
}

/// [`snapshot_sql`] for a range of ids (`$1`, `$2`), per dialect.
static SNAPSHOT_RANGE: [LazyLock<String>; 2] = [
    LazyLock::new(|| snapshot_sql(Dialect::Sqlite, |col| format!("{col} BETWEEN $1 AND $2"))),
    LazyLock::new(|| snapshot_sql(Dialect::Postgres, |col| format!("{col} BETWEEN $1 AND $2"))),
];
/// [`snapshot_sql`] for a list of ids (`$1`: [`db::Param::Ids`]), per dialect.
static SNAPSHOT_LIST: [LazyLock<String>; 2] = [
    LazyLock::new(|| snapshot_sql(Dialect::Sqlite, |col| Dialect::Sqlite.in_ids(col, "$1"))),
    LazyLock::new(|| snapshot_sql(Dialect::Postgres, |col| Dialect::Postgres.in_ids(col, "$1"))),
];

/// The index of a dialect in the per-dialect statics.
fn at(d: Dialect) -> usize {
    match d {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 1,
    }
}

fn corrupt(what: &str, v: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!("{what} {v:?}"))
}

fn sex_of(code: i64) -> Result<Sex> {
    Sex::from_code(code).ok_or_else(|| corrupt("sex code", code))
}

fn end_reason_of(s: Option<&str>) -> Option<MarriageEnd> {
    match s {
        Some("divorce") => Some(MarriageEnd::Divorce),
        Some("death") => Some(MarriageEnd::Death),
        _ => None,
    }
}

/// Area of the latest registered episode (open first), else the household's.
static CURRENT_AREA: LazyLock<String> = LazyLock::new(|| format!("COALESCE({}, h.area_code)", latest_registered_area("p.id")));

/// The JSON that SQLite's `json_group_array(json_array(…))` writes: an array of arrays of
/// integers, strings and nulls (the only values the snapshot statement produces), read without
/// a JSON library.
mod json {
    use chrono::NaiveDate;

    use crate::{Result, StoreError};

    /// One value of a record.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) enum V {
        Null,
        Int(i64),
        Str(String),
    }

    fn bad(what: &str) -> StoreError {
        StoreError::Corrupt(format!("snapshot JSON: {what}"))
    }

    impl V {
        pub(super) fn int(&self) -> Result<i64> {
            self.opt_int()?.ok_or_else(|| bad("null where a number was expected"))
        }
        pub(super) fn opt_int(&self) -> Result<Option<i64>> {
            match self {
                V::Null => Ok(None),
                V::Int(i) => Ok(Some(*i)),
                V::Str(s) => s.parse().map(Some).map_err(|_| bad("text where a number was expected")),
            }
        }
        pub(super) fn opt_str(&self) -> Option<&str> {
            match self {
                V::Str(s) => Some(s),
                _ => None,
            }
        }
        pub(super) fn take_text(&mut self) -> Result<String> {
            self.take_opt_text()?.ok_or_else(|| bad("null where text was expected"))
        }
        pub(super) fn take_opt_text(&mut self) -> Result<Option<String>> {
            match std::mem::replace(self, V::Null) {
                V::Null => Ok(None),
                V::Str(s) => Ok(Some(s)),
                V::Int(i) => Ok(Some(i.to_string())),
            }
        }
        pub(super) fn date(&self) -> Result<NaiveDate> {
            self.opt_date()?.ok_or_else(|| bad("null where a date was expected"))
        }
        pub(super) fn opt_date(&self) -> Result<Option<NaiveDate>> {
            match self {
                V::Null => Ok(None),
                V::Str(s) => parse_date(s).map(Some).ok_or_else(|| StoreError::Corrupt(format!("date {s:?}"))),
                V::Int(_) => Err(bad("number where a date was expected")),
            }
        }
    }

    /// `YYYY-MM-DD` (what the store writes); other forms through chrono's `%F`.
    fn parse_date(s: &str) -> Option<NaiveDate> {
        let b = s.as_bytes();
        if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
            let num = |r: std::ops::Range<usize>| b[r].iter().try_fold(0u32, |a, &c| c.is_ascii_digit().then(|| a * 10 + u32::from(c - b'0')));
            if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) {
                return NaiveDate::from_ymd_opt(y as i32, m, d);
            }
        }
        NaiveDate::parse_from_str(s, "%F").ok()
    }

    struct P<'a> {
        s: &'a str,
        b: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn peek(&mut self) -> Option<u8> {
            while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            }
            self.b.get(self.i).copied()
        }
        fn expect(&mut self, c: u8) -> Result<()> {
            if self.peek() == Some(c) {
                self.i += 1;
                Ok(())
            } else {
                Err(bad(&format!("expected `{}` at byte {}", c as char, self.i)))
            }
        }
        fn value(&mut self) -> Result<V> {
            match self.peek() {
                Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                    self.i += 4;
                    Ok(V::Null)
                }
                Some(b'"') => self.string().map(V::Str),
                Some(c) if c == b'-' || c.is_ascii_digit() => {
                    let start = self.i;
                    self.i += 1;
                    while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
                        self.i += 1;
                    }
                    self.s[start..self.i].parse().map(V::Int).map_err(|_| bad("number"))
                }
                _ => Err(bad(&format!("unexpected value at byte {}", self.i))),
            }
        }
        fn hex4(&mut self) -> Result<u32> {
            let h = self.s.get(self.i..self.i + 4).ok_or_else(|| bad("\\u escape"))?;
            self.i += 4;
            u32::from_str_radix(h, 16).map_err(|_| bad("\\u escape"))
        }
        fn string(&mut self) -> Result<String> {
            self.i += 1; // the opening quote
            let mut out = String::new();
            loop {
                let start = self.i;
                while self.i < self.b.len() && self.b[self.i] != b'"' && self.b[self.i] != b'\\' {
                    self.i += 1;
                }
                // Both stops are ASCII, so both ends are character boundaries.
                out.push_str(&self.s[start..self.i]);
                match self.b.get(self.i) {
                    Some(b'"') => {
                        self.i += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        let e = *self.b.get(self.i + 1).ok_or_else(|| bad("escape"))?;
                        self.i += 2;
                        let c = match e {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'u' => {
                                let hi = self.hex4()?;
                                let code = if (0xD800..0xDC00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                                } else {
                                    hi
                                };
                                char::from_u32(code).unwrap_or('\u{FFFD}')
                            }
                            _ => return Err(bad("escape")),
                        };
                        out.push(c);
                    }
                    _ => return Err(bad("unterminated string")),
                }
            }
        }
    }

    /// Calls `f` with each record (inner array) of `text`, in order. `f` may take the values.
    pub(super) fn records(text: &str, mut f: impl FnMut(&mut [V]) -> Result<()>) -> Result<()> {
        let mut p = P { s: text, b: text.as_bytes(), i: 0 };
        let mut rec: Vec<V> = Vec::with_capacity(12);
        p.expect(b'[')?;
        if p.peek() == Some(b']') {
            return Ok(());
        }
        loop {
            p.expect(b'[')?;
            rec.clear();
            if p.peek() != Some(b']') {
                loop {
                    rec.push(p.value()?);
                    if p.peek() == Some(b',') {
                        p.i += 1;
                    } else {
                        break;
                    }
                }
            }
            p.expect(b']')?;
            f(&mut rec)?;
            if p.peek() == Some(b',') {
                p.i += 1;
            } else {
                break;
            }
        }
        p.expect(b']')
    }

    /// `r[n]`, or an error naming the missing column.
    pub(super) fn col(r: &mut [V], n: usize) -> Result<&mut V> {
        r.get_mut(n).ok_or_else(|| bad("short record"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_what_sqlite_writes() {
            let mut got = Vec::new();
            records(r#"[[1,"王\"伟\\",null,-3],[],[2,"a\u0001\n\ud83d\ude00b"]]"#, |r| {
                got.push(r.to_vec());
                Ok(())
            })
            .unwrap();
            assert_eq!(got, vec![vec![V::Int(1), V::Str("王\"伟\\".into()), V::Null, V::Int(-3)], vec![], vec![V::Int(2), V::Str("a\u{1}\n😀b".into())]]);
            records("[]", |_| panic!("no record")).unwrap();
            assert!(records("[[1,", |_| Ok(())).is_err());
            assert!(records(r#"[["x]]"#, |_| Ok(())).is_err());
            assert_eq!(V::Str("2014-06-30".into()).date().unwrap(), NaiveDate::from_ymd_opt(2014, 6, 30).unwrap());
            assert!(V::Str("2014-02-30".into()).date().is_err());
        }
    }
}

use json::col;

/// The snapshots of a full load, chunk by chunk ([`Store::person_facts_chunks`]): loaded by a
/// background task at most [`CHUNKS_AHEAD`] chunks ahead, so that the queries of the next chunk
/// run while the caller checks this one, and memory stays bounded for a county.
pub struct FactsChunks {
    rx: tokio::sync::mpsc::Receiver<Result<Vec<PersonFacts>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FactsChunks {
    /// The next chunk (persons in ascending id order), `None` after the last. After an error
    /// nothing more comes.
    pub async fn next(&mut self) -> Option<Result<Vec<PersonFacts>>> {
        self.rx.recv().await
    }
}

impl Drop for FactsChunks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Store {
    /// Ids of the persons inside `scope`, ascending: those with a registered or inflow episode
    /// in the area (two range scans of the residence `(kind, area_code, …)` index) and the
    /// members of the area's households. One query, one row.
    ///
    /// Errors: [`StoreError::Sql`].
    pub async fn person_ids_in_scope(&self, scope: &AreaCode) -> Result<Vec<i64>> {
        let (lo, hi) = scope.code_range();
        let row = db::query(&format!(
            "SELECT {} FROM (
               SELECT r.person_id AS id FROM residence r WHERE r.kind = 'registered' AND r.area_code >= $1 AND r.area_code < $2
               UNION ALL SELECT r.person_id FROM residence r WHERE r.kind = 'inflow' AND r.area_code >= $1 AND r.area_code < $2
               UNION ALL SELECT p.id FROM household h JOIN person p ON p.household_id = h.id WHERE h.area_code >= $1 AND h.area_code < $2) x",
            self.dialect().id_list_agg("x.id")
        ))
        .bind(lo)
        .bind(hi)
        .fetch_one(self)
        .await?;
        let list: Option<String> = row.get(0);
        let mut ids = list
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<i64>().map_err(|_| corrupt("person id", s)))
            .collect::<Result<Vec<i64>>>()?;
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Of `ids`, those inside `scope`, ascending (one query per 10,000 ids).
    async fn ids_inside(&self, scope: &AreaCode, ids: &[i64]) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(10_000) {
            let mut qb: Builder = Builder::new("SELECT p.id FROM person p WHERE ");
            qb.push_in_ids(self.dialect(), "p.id", chunk);
            push_scope(&mut qb, scope);
            out.extend(qb.build().fetch_all(self).await?.iter().map(|r| r.get::<i64, _>(0)));
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The facts of the persons `ids` that lie inside `scope` (others are left out), in
    /// ascending id order.
    ///
    /// Shape: spouses and household members are [`RelativeFacts`] (spouse outside the register:
    /// name and ID only); births carry the child's facts; residences are oldest first.
    /// Errors: [`StoreError::Sql`]; [`StoreError::Corrupt`] for an unknown stored code.
    pub async fn person_facts(&self, scope: &AreaCode, ids: &[i64]) -> Result<Vec<PersonFacts>> {
        let inside = self.ids_inside(scope, ids).await?;
        let mut out = Vec::with_capacity(inside.len());
        for chunk in inside.chunks(FACTS_BATCH) {
            out.extend(self.facts_chunk(chunk).await?);
        }
        Ok(out)
    }

    /// A full load: the facts of the persons `listed` (ids that [`Store::person_ids_in_scope`]
    /// just listed: they are not checked against a scope again), in chunks of up to
    /// [`FACTS_BATCH`] persons in ascending id order, one query a chunk, read ahead by a
    /// background task. Must be called inside a Tokio runtime.
    pub fn person_facts_chunks(&self, mut listed: Vec<i64>) -> FactsChunks {
        listed.sort_unstable();
        listed.dedup();
        let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        let store = self.clone();
        let task = tokio::spawn(async move {
            use futures::StreamExt;
            let chunks: Vec<Vec<i64>> = listed.chunks(FACTS_BATCH).map(<[i64]>::to_vec).collect();
            drop(listed);
            let mut chunks = futures::stream::iter(chunks)
                .map(|c| {
                    let store = store.clone();
                    async move { store.facts_chunk(&c).await }
                })
                .buffered(CHUNKS_AHEAD);
            while let Some(r) = chunks.next().await {
                let failed = r.is_err();
                if tx.send(r).await.is_err() || failed {
                    break;
                }
            }
        });
        FactsChunks { rx, task }
    }

    /// The facts of one person inside `scope` (incremental checks after a form is saved);
    /// `None` when missing or outside the scope.
    pub async fn person_facts_one(&self, scope: &AreaCode, id: i64) -> Result<Option<PersonFacts>> {
        Ok(self.person_facts(scope, &[id]).await?.pop())
    }

    /// The snapshots of the persons `ids` (ascending, no duplicates, trusted): one query.
    async fn facts_chunk(&self, ids: &[i64]) -> Result<Vec<PersonFacts>> {
        let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else { return Ok(Vec::new()) };
        // A range when it spans at most twice as many ids as it holds (rows of ids outside the
        // chunk are read and skipped), else the list.
        let row = if (hi - lo) as usize <= 2 * ids.len() {
            db::query(SNAPSHOT_RANGE[at(self.dialect())].as_str()).bind(lo).bind(hi).fetch_one(self).await?
        } else {
            db::query(SNAPSHOT_LIST[at(self.dialect())].as_str()).bind(db::Param::Ids(ids.to_vec())).fetch_one(self).await?
        };
        let texts: Vec<Option<String>> = (0..7).map(|i| row.get(i)).collect();
        let text = |i: usize| texts[i].as_deref().unwrap_or("[]");
        assemble(ids, [text(0), text(1), text(2), text(3), text(4), text(5), text(6)])
    }
}

/// Builds the snapshots of the persons `ids` (ascending) from the seven arrays of
/// [`snapshot_sql`], in id order. Records of persons not in `ids` are skipped.
fn assemble(ids: &[i64], t: [&str; 7]) -> Result<Vec<PersonFacts>> {
    let wanted = |id: i64| ids.binary_search(&id).is_ok();
    // Persons, with their household id and the household's area.
    let mut persons: Vec<(PersonFacts, Option<i64>, Option<String>)> = Vec::with_capacity(ids.len());
    json::records(t[0], |r| {
        let id = col(r, 0)?.int()?;
        if !wanted(id) {
            return Ok(());
        }
        let mut p = PersonFacts::new(id, "", sex_of(col(r, 3)?.int()?)?, col(r, 4)?.date()?);
        p.citizen_id = col(r, 1)?.take_opt_text()?;
        p.name = col(r, 2)?.take_text()?;
        p.ethnicity = col(r, 5)?.take_opt_text()?.filter(|e| !e.is_empty());
        let marital = col(r, 6)?.take_text()?;
        p.marital_status = MaritalStatus::parse(&marital).ok_or_else(|| corrupt("marital status", &marital))?;
        p.household_no = col(r, 7)?.take_opt_text()?;
        p.relationship_to_head = col(r, 8)?.take_opt_text()?;
        let household = col(r, 9)?.opt_int()?;
        p.death_date = col(r, 10)?.opt_date()?;
        let area = col(r, 11)?.take_opt_text()?;
        persons.push((p, household, area));
        Ok(())
    })?;
    persons.sort_by_key(|(p, _, _)| p.id);
    let at = |id: i64| persons.binary_search_by_key(&id, |(p, _, _)| p.id).ok();

    // Residences: oldest first (unknown start first), then by episode id.
    let mut res: Vec<(usize, bool, Option<NaiveDate>, i64, ResidenceFacts)> = Vec::new();
    json::records(t[1], |r| {
        let Some(i) = at(col(r, 0)?.int()?) else { return Ok(()) };
        let kind = col(r, 3)?.take_text()?;
        let start = col(r, 4)?.opt_date()?;
        res.push((
            i,
            start.is_some(),
            start,
            col(r, 1)?.int()?,
            ResidenceFacts {
                area: col(r, 2)?.take_text()?,
                kind: ResidenceKind::from_code(&kind).ok_or_else(|| corrupt("residence kind", &kind))?,
                start,
                end: col(r, 5)?.opt_date()?,
            },
        ));
        Ok(())
    })?;
    res.sort_unstable_by_key(|x| (x.0, x.1, x.2, x.3));
    // Marriages: by start (unknown first), as wife before as husband, then by marriage id.
    let mut mar: Vec<(usize, bool, Option<NaiveDate>, u8, i64, MarriageFacts)> = Vec::new();
    for (side, text) in [(0u8, t[2]), (1, t[3])] {
        json::records(text, |r| {
            let Some(i) = at(col(r, 0)?.int()?) else { return Ok(()) };
            let start = col(r, 2)?.opt_date()?;
            let spouse = RelativeFacts {
                id: col(r, 5)?.opt_int()?,
                citizen_id: col(r, 6)?.take_opt_text()?,
                name: col(r, 7)?.take_opt_text()?,
                sex: col(r, 8)?.opt_int()?.map(sex_of).transpose()?,
                birth_date: col(r, 9)?.opt_date()?,
                death_date: col(r, 10)?.opt_date()?,
                relationship_to_head: col(r, 11)?.take_opt_text()?,
            };
            let m = MarriageFacts { start, end: col(r, 3)?.opt_date()?, end_reason: end_reason_of(col(r, 4)?.opt_str()), spouse };
            mar.push((i, start.is_some(), start, side, col(r, 1)?.int()?, m));
            Ok(())
        })?;
    }
    mar.sort_unstable_by_key(|x| (x.0, x.1, x.2, x.3, x.4));
    // Births: by the child's birth date, then id.
    let mut bir: Vec<(usize, BirthFacts)> = Vec::new();
    for (role, text) in [(ParentRole::Mother, t[4]), (ParentRole::Father, t[5])] {
        json::records(text, |r| {
            let Some(i) = at(col(r, 0)?.int()?) else { return Ok(()) };
            let policy = col(r, 2)?.take_opt_text()?;
            bir.push((
                i,
                BirthFacts {
                    role,
                    birth_order: col(r, 1)?.opt_int()?.map(|o| o.clamp(0, 255) as u8),
                    policy: policy.as_deref().and_then(PolicyClass::from_code),
                    child_id: col(r, 3)?.int()?,
                    citizen_id: col(r, 4)?.take_opt_text()?,
                    name: col(r, 5)?.take_text()?,
                    sex: sex_of(col(r, 6)?.int()?)?,
                    birth_date: col(r, 7)?.date()?,
                    death_date: col(r, 8)?.opt_date()?,
                },
            ));
            Ok(())
        })?;
    }
    bir.sort_unstable_by_key(|(i, b)| (*i, b.birth_date, b.child_id));
    // Household members: by household, then person id.
    let mut members: Vec<(i64, i64, RelativeFacts)> = Vec::new();
    json::records(t[6], |r| {
        let household = col(r, 0)?.int()?;
        let id = col(r, 1)?.int()?;
        members.push((
            household,
            id,
            RelativeFacts {
                id: Some(id),
                citizen_id: col(r, 2)?.take_opt_text()?,
                name: col(r, 3)?.take_opt_text()?,
                sex: Some(sex_of(col(r, 4)?.int()?)?),
                birth_date: col(r, 5)?.opt_date()?,
                death_date: col(r, 6)?.opt_date()?,
                relationship_to_head: col(r, 7)?.take_opt_text()?,
            },
        ));
        Ok(())
    })?;
    members.sort_unstable_by_key(|x| (x.0, x.1));

    for (i, _, _, _, e) in res {
        persons[i].0.residences.push(e);
    }
    for (i, _, _, _, _, m) in mar {
        persons[i].0.marriages.push(m);
    }
    for (i, b) in bir {
        persons[i].0.births.push(b);
    }
    let mut out = Vec::with_capacity(persons.len());
    for (mut p, household, household_area) in persons {
        if let Some(h) = household {
            let from = members.partition_point(|m| m.0 < h);
            let to = members.partition_point(|m| m.0 <= h);
            p.household_members = members[from..to].iter().filter(|m| m.1 != p.id).map(|m| m.2.clone()).collect();
        }
        // Current area: the latest registered episode (an open one first), else the household's.
        p.area = p
            .residences
            .iter()
            .filter(|e| e.kind == ResidenceKind::Registered)
            .max_by_key(|e| (e.end.is_none(), e.end))
            .map(|e| e.area.clone())
            .or(household_area);
        out.push(p);
    }
    Ok(out)
}

impl Store {
    /// Persons inside `scope` whose citizen IDs denote the same number as another person's
    /// anywhere in the register: same first 17 characters (upper-cased), a 15-digit number
    /// counting as its 18-digit upgrade (`19` inserted before the year). Ordered by group, id.
    ///
    /// One query: the groups are found over the whole register (an ID is unique nationally),
    /// the rows listed are those inside the scope. Errors: [`StoreError::Sql`].
    pub async fn duplicate_citizen_ids(&self, scope: &AreaCode) -> Result<Vec<DuplicateIdRow>> {
        let mut qb: Builder = Builder::new(format!(
            "WITH k AS (SELECT id, CASE WHEN length(citizen_id) = 15 THEN substr(citizen_id, 1, 6) || '19' || substr(citizen_id, 7, 9)
                                         ELSE upper(substr(citizen_id, 1, 17)) END AS key
                        FROM person WHERE citizen_id IS NOT NULL),
                  dup AS (SELECT key FROM k GROUP BY key HAVING COUNT(*) > 1)
             SELECT k.key, p.id, p.citizen_id, p.name, {}
             FROM k JOIN dup ON dup.key = k.key JOIN person p ON p.id = k.id LEFT JOIN household h ON h.id = p.household_id
             WHERE 1 = 1",
            *CURRENT_AREA
        ));
        push_scope(&mut qb, scope);
        qb.push(" ORDER BY k.key, p.id");
        let rows = qb.build().fetch_all(self).await?;
        Ok(rows
            .iter()
            .map(|r: &DbRow| DuplicateIdRow { key: r.get(0), person_id: r.get(1), citizen_id: r.get(2), name: r.get(3), area_code: r.get(4) })
            .collect())
    }

    /// Open registered episodes inside `scope` whose area code is not in the area table or is
    /// above the village level (registered to a township, not to a village). Ordered by area, id.
    ///
    /// Errors: [`StoreError::Sql`].
    pub async fn unknown_area_episodes(&self, scope: &AreaCode) -> Result<Vec<UnknownAreaRow>> {
        let (lo, hi) = scope.code_range();
        let rows = db::query(&format!(
            "SELECT p.id, p.citizen_id, p.name, r.area_code, a.code IS NOT NULL
             FROM residence r JOIN person p ON p.id = r.person_id LEFT JOIN area a ON a.code = r.area_code
             WHERE r.kind = 'registered' AND {open} AND {scope}
               AND (a.code IS NULL OR length(r.area_code) < 12)
             ORDER BY r.area_code, p.id",
            open = open_now("r"),
            scope = in_scope("r.area_code", "$1", "$2"),
        ))
        .bind(lo)
        .bind(hi)
        .fetch_all(self)
        .await?;
        Ok(rows.iter().map(|r| UnknownAreaRow { person_id: r.get(0), citizen_id: r.get(1), name: r.get(2), area_code: r.get(3), known: r.get(4) }).collect())
    }

    /// Households inside `scope` whose current members (alive, with an open registered episode)
    /// do not include exactly one 户主: none, or two or more. Households with no current member
    /// are left out. Ordered by household number. Errors: [`StoreError::Sql`].
    pub async fn household_heads(&self, scope: &AreaCode) -> Result<Vec<HouseholdHeadsRow>> {
        let (lo, hi) = scope.code_range();
        let rows = db::query(&format!(
            "SELECT h.id, h.household_no, h.area_code, COUNT(*),
                    SUM(CASE WHEN p.relationship_to_head = '户主' THEN 1 ELSE 0 END),
                    {heads}
             FROM household h JOIN person p ON p.household_id = h.id
             WHERE {scope}
               AND NOT EXISTS (SELECT 1 FROM death d WHERE d.person_id = p.id)
               AND EXISTS (SELECT 1 FROM residence r WHERE r.person_id = p.id AND r.kind = 'registered' AND {open})
             GROUP BY h.id, h.household_no, h.area_code
             HAVING SUM(CASE WHEN p.relationship_to_head = '户主' THEN 1 ELSE 0 END) <> 1
             ORDER BY h.household_no",
            scope = in_scope("h.area_code", "$1", "$2"),
            open = open_now("r"),
            heads = self.dialect().id_list_agg("CASE WHEN p.relationship_to_head = '户主' THEN p.id END"),
        ))
        .bind(lo)
        .bind(hi)
        .fetch_all(self)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let ids: Option<String> = r.get(5);
                HouseholdHeadsRow {
                    household_id: r.get(0),
                    household_no: r.get(1),
                    area_code: r.get(2),
                    members: r.get(3),
                    heads: r.get(4),
                    head_ids: ids.unwrap_or_default().split(',').filter_map(|s| s.trim().parse().ok()).collect(),
                }
            })
            .collect())
    }

    /// Registered residents inside `scope` on day `on` (episode open at 00:00 of `on`), by the
    /// village (12-digit prefix) of the episode's area: the denominators of the check scores.
    pub async fn registered_by_village(&self, scope: &AreaCode, on: NaiveDate) -> Result<Vec<(String, i64)>> {
        let (lo, hi) = scope.code_range();
        let rows = db::query(&format!(
            "SELECT substr(r.area_code, 1, 12) AS v, COUNT(DISTINCT r.person_id) FROM residence r JOIN person p ON p.id = r.person_id{death}
             WHERE r.kind = 'registered' AND {scope} AND {resident}
             GROUP BY v ORDER BY v",
            death = death_join("p", "d"),
            scope = in_scope("r.area_code", "$1", "$2"),
            resident = resident_at("r", "p", "d", "$3"),
        ))
        .bind(lo)
        .bind(hi)
        .bind(on)
        .fetch_all(self)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
