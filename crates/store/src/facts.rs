//! What the logic checks read: [`PersonFacts`] snapshots filled in batches (a handful of
//! set-based queries per batch of persons, never one query per person), and the set questions a
//! per-person rule cannot answer (duplicate citizen IDs, areas missing from the area table,
//! households without a head or with two), each a single scoped query.
//!
//! A person is inside a scope as in person search (`persons.rs`): any registered or inflow
//! episode, or the household, lies inside it.

use std::collections::HashMap;

use chrono::NaiveDate;
use renkou_core::area::AreaCode;
use renkou_core::register::{MaritalStatus, MarriageEnd, PolicyClass, ResidenceKind, Sex};
use renkou_core::rules::{BirthFacts, MarriageFacts, ParentRole, PersonFacts, RelativeFacts, ResidenceFacts};
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::{Result, Store, StoreError};

/// Persons per batch of [`Store::person_facts`] (each query binds one list of this many ids,
/// below SQLite's historical limit of 999 bound values).
pub const FACTS_BATCH: usize = 900;

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

/// ` AND (person p is inside the scope)` with the range bound as `$lo`/`$hi` placeholders.
fn push_scope(qb: &mut QueryBuilder<'_, Sqlite>, scope: &AreaCode) {
    let (lo, hi) = scope.code_range();
    qb.push(" AND (EXISTS (SELECT 1 FROM residence rs WHERE rs.person_id = p.id AND rs.kind IN ('registered', 'inflow') AND rs.area_code >= ");
    qb.push_bind(lo.clone()).push(" AND rs.area_code < ").push_bind(hi.clone());
    qb.push(") OR EXISTS (SELECT 1 FROM household hs WHERE hs.id = p.household_id AND hs.area_code >= ");
    qb.push_bind(lo).push(" AND hs.area_code < ").push_bind(hi).push("))");
}

fn push_ids(qb: &mut QueryBuilder<'_, Sqlite>, ids: &[i64]) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    qb.push(")");
}

/// Which ids a batch query reads: a contiguous range (`col BETWEEN lo AND hi`, two bound values,
/// rows of ids outside the batch are skipped) when the batch's ids are dense, else the list.
#[derive(Clone, Copy)]
enum IdSet<'a> {
    Range(i64, i64),
    List(&'a [i64]),
}

impl<'a> IdSet<'a> {
    /// `ids` ascending: a range when it spans at most twice as many ids as it holds.
    fn of(ids: &'a [i64]) -> IdSet<'a> {
        match (ids.first(), ids.last()) {
            (Some(&lo), Some(&hi)) if ids.windows(2).all(|w| w[0] < w[1]) && (hi - lo) as usize <= 2 * ids.len() => IdSet::Range(lo, hi),
            _ => IdSet::List(ids),
        }
    }
    /// Pushes ` col BETWEEN … AND …` or ` col IN (…)`.
    fn push(self, qb: &mut QueryBuilder<'_, Sqlite>, col: &str) {
        match self {
            IdSet::Range(lo, hi) => {
                qb.push(format!(" {col} BETWEEN ")).push_bind(lo).push(" AND ").push_bind(hi);
            }
            IdSet::List(ids) => {
                qb.push(format!(" {col} IN "));
                push_ids(qb, ids);
            }
        }
    }
}

fn corrupt(what: &str, v: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!("{what} {v:?}"))
}

fn sex_of(code: i64) -> Result<Sex> {
    Sex::from_code(code).ok_or_else(|| corrupt("sex code", code))
}

fn end_reason_of(s: Option<String>) -> Option<MarriageEnd> {
    match s.as_deref() {
        Some("divorce") => Some(MarriageEnd::Divorce),
        Some("death") => Some(MarriageEnd::Death),
        _ => None,
    }
}

/// Area of the latest registered episode (open first), else the household's.
const CURRENT_AREA: &str = "COALESCE((SELECT r.area_code FROM residence r WHERE r.person_id = p.id AND r.kind = 'registered'
    ORDER BY (r.valid_to IS NULL) DESC, r.valid_to DESC LIMIT 1), h.area_code)";

impl Store {
    /// Ids of the persons inside `scope`, ascending (the batches of [`Store::person_facts`]).
    ///
    /// Errors: [`StoreError::Sql`].
    pub async fn person_ids_in_scope(&self, scope: &AreaCode) -> Result<Vec<i64>> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT p.id FROM person p WHERE 1 = 1");
        push_scope(&mut qb, scope);
        qb.push(" ORDER BY p.id");
        Ok(qb.build().fetch_all(&self.pool).await?.iter().map(|r| r.get(0)).collect())
    }

    /// The facts of the persons `ids` that lie inside `scope` (others are left out), in `ids`
    /// order: seven queries for up to [`FACTS_BATCH`] persons, run concurrently (persons,
    /// residences, marriages as wife and as husband, births as mother and as father, household
    /// members), more batches beyond.
    ///
    /// Shape: spouses and household members are [`RelativeFacts`] (spouse outside the register:
    /// name and ID only); births carry the child's facts; residences are oldest first.
    /// Errors: [`StoreError::Sql`]; [`StoreError::Corrupt`] for an unknown stored code.
    pub async fn person_facts(&self, scope: &AreaCode, ids: &[i64]) -> Result<Vec<PersonFacts>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(FACTS_BATCH) {
            out.extend(self.facts_batch(scope, chunk, false).await?);
        }
        Ok(out)
    }

    /// Like [`Store::person_facts`] for ids that [`Store::person_ids_in_scope`] just listed for
    /// the same `scope`: the scope probe is not repeated (a full check reads every person of the
    /// area once). Ids outside the scope would be read: pass only listed ids.
    pub async fn person_facts_listed(&self, scope: &AreaCode, listed: &[i64]) -> Result<Vec<PersonFacts>> {
        let mut out = Vec::with_capacity(listed.len());
        for chunk in listed.chunks(FACTS_BATCH) {
            out.extend(self.facts_batch(scope, chunk, true).await?);
        }
        Ok(out)
    }

    /// The facts of one person inside `scope` (incremental checks after a form is saved);
    /// `None` when missing or outside the scope.
    pub async fn person_facts_one(&self, scope: &AreaCode, id: i64) -> Result<Option<PersonFacts>> {
        Ok(self.facts_batch(scope, &[id], false).await?.pop())
    }

    /// One batch. `trusted` = the ids were just listed inside `scope` by
    /// [`Store::person_ids_in_scope`] (the scope probe is not repeated). The seven queries run
    /// concurrently on the pool's connections.
    async fn facts_batch(&self, scope: &AreaCode, ids: &[i64], trusted: bool) -> Result<Vec<PersonFacts>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sorted: Vec<i64> = {
            let mut v = ids.to_vec();
            v.sort_unstable();
            v.dedup();
            v
        };
        let set = IdSet::of(&sorted);
        let fetch = |mut qb: QueryBuilder<'static, Sqlite>| async move { qb.build().fetch_all(&self.pool).await };

        let mut q_persons: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT p.id, p.citizen_id, p.name, p.sex, p.birth_date, p.ethnicity, p.marital_status, h.household_no,
                    p.relationship_to_head, p.household_id, d.death_date, h.area_code
             FROM person p LEFT JOIN household h ON h.id = p.household_id LEFT JOIN death d ON d.person_id = p.id WHERE",
        );
        set.push(&mut q_persons, "p.id");
        if !trusted {
            push_scope(&mut q_persons, scope);
        }
        let mut q_res: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT r.person_id, r.area_code, r.kind, r.valid_from, r.valid_to FROM residence r WHERE");
        set.push(&mut q_res, "r.person_id");
        q_res.push(" ORDER BY r.person_id, r.valid_from IS NOT NULL, r.valid_from, r.id");
        let marriages = |me: &str, other: &str| {
            let mut qb: QueryBuilder<'static, Sqlite> = QueryBuilder::new(format!(
                "SELECT m.{me}, m.start_date, m.end_date, m.end_reason, s.id, COALESCE(s.citizen_id, m.outside_spouse_citizen_id),
                        COALESCE(s.name, m.outside_spouse_name), s.sex, s.birth_date, d.death_date, s.relationship_to_head
                 FROM marriage m LEFT JOIN person s ON s.id = m.{other} LEFT JOIN death d ON d.person_id = s.id WHERE"
            ));
            set.push(&mut qb, &format!("m.{me}"));
            qb.push(" ORDER BY m.start_date IS NOT NULL, m.start_date, m.id");
            qb
        };
        let births = |col: &str| {
            let mut qb: QueryBuilder<'static, Sqlite> = QueryBuilder::new(format!(
                "SELECT b.{col}, b.birth_order, b.policy, c.id, c.citizen_id, c.name, c.sex, c.birth_date, d.death_date
                 FROM birth b JOIN person c ON c.id = b.child_id LEFT JOIN death d ON d.person_id = c.id WHERE"
            ));
            set.push(&mut qb, &format!("b.{col}"));
            qb
        };
        let mut q_members: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT p.household_id, p.id, p.citizen_id, p.name, p.sex, p.birth_date, d.death_date, p.relationship_to_head
             FROM person p LEFT JOIN death d ON d.person_id = p.id
             WHERE p.household_id IN (SELECT x.household_id FROM person x WHERE",
        );
        set.push(&mut q_members, "x.id");
        q_members.push(" AND x.household_id IS NOT NULL)");
        let (rows, res_rows, wife_rows, husband_rows, mother_rows, father_rows, member_rows) = futures::try_join!(
            fetch(q_persons),
            fetch(q_res),
            fetch(marriages("wife_id", "husband_id")),
            fetch(marriages("husband_id", "wife_id")),
            fetch(births("mother_id")),
            fetch(births("father_id")),
            fetch(q_members),
        )?;

        let mut persons: Vec<PersonFacts> = Vec::with_capacity(rows.len());
        let mut household_of: Vec<Option<i64>> = Vec::with_capacity(rows.len());
        let mut household_area: Vec<Option<String>> = Vec::with_capacity(rows.len());
        for r in &rows {
            let marital: String = r.get(6);
            let ethnicity: String = r.get(5);
            let mut p = PersonFacts::new(r.get(0), &r.get::<String, _>(2), sex_of(r.get(3))?, r.get(4));
            p.citizen_id = r.get(1);
            p.ethnicity = Some(ethnicity).filter(|e| !e.is_empty());
            p.marital_status = MaritalStatus::parse(&marital).ok_or_else(|| corrupt("marital status", &marital))?;
            p.household_no = r.get(7);
            p.relationship_to_head = r.get(8);
            p.death_date = r.get(10);
            household_of.push(r.get(9));
            household_area.push(r.get(11));
            persons.push(p);
        }
        let index: HashMap<i64, usize> = persons.iter().enumerate().map(|(i, p)| (p.id, i)).collect();

        for r in res_rows {
            let Some(&i) = index.get(&r.get::<i64, _>(0)) else { continue };
            let kind: String = r.get(2);
            persons[i].residences.push(ResidenceFacts {
                area: r.get(1),
                kind: ResidenceKind::from_code(&kind).ok_or_else(|| corrupt("residence kind", &kind))?,
                start: r.get(3),
                end: r.get(4),
            });
        }
        for r in wife_rows.iter().chain(&husband_rows) {
            let Some(&i) = index.get(&r.get::<i64, _>(0)) else { continue };
            let spouse = RelativeFacts {
                id: r.get(4),
                citizen_id: r.get(5),
                name: r.get(6),
                sex: r.get::<Option<i64>, _>(7).map(sex_of).transpose()?,
                birth_date: r.get(8),
                death_date: r.get(9),
                relationship_to_head: r.get(10),
            };
            persons[i].marriages.push(MarriageFacts { start: r.get(1), end: r.get(2), end_reason: end_reason_of(r.get(3)), spouse });
        }
        for (rows, role) in [(&mother_rows, ParentRole::Mother), (&father_rows, ParentRole::Father)] {
            for r in rows.iter() {
                let Some(&i) = index.get(&r.get::<i64, _>(0)) else { continue };
                let policy: Option<String> = r.get(2);
                persons[i].births.push(BirthFacts {
                    role,
                    birth_order: r.get::<Option<i64>, _>(1).map(|o| o.clamp(0, 255) as u8),
                    policy: policy.as_deref().and_then(PolicyClass::from_code),
                    child_id: r.get(3),
                    citizen_id: r.get(4),
                    name: r.get(5),
                    sex: sex_of(r.get(6))?,
                    birth_date: r.get(7),
                    death_date: r.get(8),
                });
            }
        }
        let mut members: HashMap<i64, Vec<RelativeFacts>> = HashMap::new();
        for r in member_rows {
            members.entry(r.get(0)).or_default().push(RelativeFacts {
                id: r.get(1),
                citizen_id: r.get(2),
                name: r.get(3),
                sex: Some(sex_of(r.get(4))?),
                birth_date: r.get(5),
                death_date: r.get(6),
                relationship_to_head: r.get(7),
            });
        }
        for ((p, h), h_area) in persons.iter_mut().zip(&household_of).zip(household_area) {
            p.births.sort_by_key(|b| (b.birth_date, b.child_id));
            p.marriages.sort_by_key(|m| (m.start.is_some(), m.start));
            if let Some(list) = h.and_then(|h| members.get(&h)) {
                p.household_members = list.iter().filter(|m| m.id != Some(p.id)).cloned().collect();
            }
            // Current area: the latest registered episode (an open one first), else the household's.
            p.area = p
                .residences
                .iter()
                .filter(|e| e.kind == ResidenceKind::Registered)
                .max_by_key(|e| (e.end.is_none(), e.end))
                .map(|e| e.area.clone())
                .or(h_area);
        }
        // In the order asked for.
        let order: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        persons.sort_by_key(|p| order.get(&p.id).copied().unwrap_or(usize::MAX));
        Ok(persons)
    }

    /// Persons inside `scope` whose citizen IDs denote the same number as another person's
    /// anywhere in the register: same first 17 characters (upper-cased), a 15-digit number
    /// counting as its 18-digit upgrade (`19` inserted before the year). Ordered by group, id.
    ///
    /// One query: the groups are found over the whole register (an ID is unique nationally),
    /// the rows listed are those inside the scope. Errors: [`StoreError::Sql`].
    pub async fn duplicate_citizen_ids(&self, scope: &AreaCode) -> Result<Vec<DuplicateIdRow>> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "WITH k AS (SELECT id, CASE WHEN length(citizen_id) = 15 THEN substr(citizen_id, 1, 6) || '19' || substr(citizen_id, 7, 9)
                                         ELSE upper(substr(citizen_id, 1, 17)) END AS key
                        FROM person WHERE citizen_id IS NOT NULL),
                  dup AS (SELECT key FROM k GROUP BY key HAVING COUNT(*) > 1)
             SELECT k.key, p.id, p.citizen_id, p.name, {CURRENT_AREA}
             FROM k JOIN dup ON dup.key = k.key JOIN person p ON p.id = k.id LEFT JOIN household h ON h.id = p.household_id
             WHERE 1 = 1"
        ));
        push_scope(&mut qb, scope);
        qb.push(" ORDER BY k.key, p.id");
        let rows = qb.build().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r: &SqliteRow| DuplicateIdRow { key: r.get(0), person_id: r.get(1), citizen_id: r.get(2), name: r.get(3), area_code: r.get(4) })
            .collect())
    }

    /// Open registered episodes inside `scope` whose area code is not in the area table or is
    /// above the village level (registered to a township, not to a village). Ordered by area, id.
    ///
    /// Errors: [`StoreError::Sql`].
    pub async fn unknown_area_episodes(&self, scope: &AreaCode) -> Result<Vec<UnknownAreaRow>> {
        let (lo, hi) = scope.code_range();
        let rows = sqlx::query(
            "SELECT p.id, p.citizen_id, p.name, r.area_code, a.code IS NOT NULL
             FROM residence r JOIN person p ON p.id = r.person_id LEFT JOIN area a ON a.code = r.area_code
             WHERE r.kind = 'registered' AND r.valid_to IS NULL AND r.area_code >= $1 AND r.area_code < $2
               AND (a.code IS NULL OR length(r.area_code) < 12)
             ORDER BY r.area_code, p.id",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| UnknownAreaRow { person_id: r.get(0), citizen_id: r.get(1), name: r.get(2), area_code: r.get(3), known: r.get(4) })
            .collect())
    }

    /// Households inside `scope` whose current members (alive, with an open registered episode)
    /// do not include exactly one 户主: none, or two or more. Households with no current member
    /// are left out. Ordered by household number. Errors: [`StoreError::Sql`].
    pub async fn household_heads(&self, scope: &AreaCode) -> Result<Vec<HouseholdHeadsRow>> {
        let (lo, hi) = scope.code_range();
        let rows = sqlx::query(
            "SELECT h.id, h.household_no, h.area_code, COUNT(*),
                    SUM(CASE WHEN p.relationship_to_head = '户主' THEN 1 ELSE 0 END),
                    GROUP_CONCAT(CASE WHEN p.relationship_to_head = '户主' THEN p.id END)
             FROM household h JOIN person p ON p.household_id = h.id
             WHERE h.area_code >= $1 AND h.area_code < $2
               AND NOT EXISTS (SELECT 1 FROM death d WHERE d.person_id = p.id)
               AND EXISTS (SELECT 1 FROM residence r WHERE r.person_id = p.id AND r.kind = 'registered' AND r.valid_to IS NULL)
             GROUP BY h.id, h.household_no, h.area_code
             HAVING SUM(CASE WHEN p.relationship_to_head = '户主' THEN 1 ELSE 0 END) <> 1
             ORDER BY h.household_no",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
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
        let rows = sqlx::query(
            "SELECT substr(r.area_code, 1, 12) AS v, COUNT(DISTINCT r.person_id) FROM residence r
             WHERE r.kind = 'registered' AND r.area_code >= $1 AND r.area_code < $2
               AND (r.valid_from IS NULL OR r.valid_from < $3) AND (r.valid_to IS NULL OR r.valid_to >= $3)
             GROUP BY v ORDER BY v",
        )
        .bind(lo)
        .bind(hi)
        .bind(on)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
