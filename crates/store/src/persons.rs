//! Person search, person and household detail, and the dashboard's distributions
//! (population pyramid, births and deaths by month). Every query that returns persons takes the
//! caller's area scope: a person is inside a scope when any of their registered or inflow
//! residence episodes, or their household, lies inside it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::db::DbRow;
use crate::db::{self, Builder};
use chrono::{Datelike, NaiveDate};
use renkou_core::area::AreaCode;
use renkou_core::period::{age_in_completed_years, Period};
use renkou_core::register::{PolicyClass, ResidenceKind, Sex};
use serde::Serialize;

use crate::day::{death_join, event_area, in_scope, latest_registered_area, oldest_first, open_now, resident_at};
use crate::{rows, Result, Store, StoreError};

/// Which column a person search matches (by prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchField {
    /// Name (姓名), e.g. `张` or `张伟`.
    Name,
    /// Pinyin initials of the name, e.g. `zhw` for 张伟.
    Initials,
    /// Citizen identity number, e.g. `130131` or the whole 18 characters.
    CitizenId,
    /// Household number (户号).
    HouseholdNo,
}

/// One person in a list (unmasked: the app masks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonSummary {
    /// Store id.
    pub id: i64,
    /// Citizen ID, when known.
    pub citizen_id: Option<String>,
    /// Name.
    pub name: String,
    /// Sex (JSON: the GB/T 2261.1 code).
    #[serde(serialize_with = "crate::rows::sex_code")]
    pub sex: Sex,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Household number.
    pub household_no: Option<String>,
    /// Area of the latest registered episode (or the household's area).
    pub area_code: Option<String>,
    /// Date of death, if dead.
    pub death_date: Option<NaiveDate>,
}

/// A residence episode of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResidenceRow {
    /// Area code.
    pub area_code: String,
    /// Area name (empty when unknown).
    pub area_name: String,
    /// Registered, inflow or outflow.
    pub kind: ResidenceKind,
    /// Day of arrival.
    pub valid_from: Option<NaiveDate>,
    /// Day of departure.
    pub valid_to: Option<NaiveDate>,
}

/// A marriage of a person, seen from that person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarriageRow {
    /// Spouse's store id, when the spouse is in the register.
    pub spouse_id: Option<i64>,
    /// Spouse's name.
    pub spouse_name: Option<String>,
    /// Marriage date.
    pub start_date: Option<NaiveDate>,
    /// End date.
    pub end_date: Option<NaiveDate>,
    /// `divorce` or `death`.
    pub end_reason: Option<String>,
}

/// A child of a person (from birth records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildRow {
    /// Child's store id.
    pub person_id: i64,
    /// Child's name.
    pub name: String,
    /// Child's sex (JSON: the GB/T 2261.1 code).
    #[serde(serialize_with = "crate::rows::sex_code")]
    pub sex: Sex,
    /// Child's birth date.
    pub birth_date: NaiveDate,
    /// Birth order (孩次).
    pub birth_order: Option<i64>,
    /// Policy classification.
    pub policy: Option<PolicyClass>,
}

/// The birth record of the person themself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnBirthRow {
    /// Mother's id.
    pub mother_id: Option<i64>,
    /// Mother's name.
    pub mother_name: Option<String>,
    /// Father's id.
    pub father_id: Option<i64>,
    /// Father's name.
    pub father_name: Option<String>,
    /// Birth order.
    pub birth_order: Option<i64>,
    /// Policy classification.
    pub policy: Option<PolicyClass>,
}

/// Everything known about one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonDetailRow {
    /// The person as in lists.
    pub summary: PersonSummary,
    /// Ethnicity (民族).
    pub ethnicity: String,
    /// GB/T 2261.2 code.
    pub marital_status: String,
    /// Household id.
    pub household_id: Option<i64>,
    /// Relationship to the household head.
    pub relationship_to_head: Option<String>,
    /// Residence history, oldest first.
    pub residences: Vec<ResidenceRow>,
    /// Marriages, oldest first.
    pub marriages: Vec<MarriageRow>,
    /// Children, oldest first.
    pub children: Vec<ChildRow>,
    /// Own birth record.
    pub birth: Option<OwnBirthRow>,
}

/// A member of a household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    /// The person.
    pub person: PersonSummary,
    /// Relationship to the head.
    pub relationship_to_head: Option<String>,
}

/// A household with its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseholdRow {
    /// Store id.
    pub id: i64,
    /// Household number.
    pub household_no: String,
    /// Area code.
    pub area_code: String,
    /// Area name.
    pub area_name: String,
    /// Members, head first.
    pub members: Vec<MemberRow>,
}

/// Registered residents of one sex in one 5-year age group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AgeGroupCount {
    /// First age of the group in completed years (0, 5, …, 85; 85 means 85 and older).
    pub from_age: u32,
    /// Men.
    pub male: i64,
    /// Women.
    pub female: i64,
}

/// Births and deaths of one calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    /// Births (as in the report: child registered in the scope on the birth date).
    pub births: i64,
    /// Deaths (registered in the scope on the death date).
    pub deaths: i64,
}

/// Oldest age group of the pyramid (its group holds everyone this old or older).
pub const PYRAMID_TOP: u32 = 85;

/// SQL columns of a [`PersonSummary`] over `person p`.
static SUMMARY_COLS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "p.id AS id, p.citizen_id AS citizen_id, p.name AS name, p.sex AS sex, p.birth_date AS birth_date,
         h.household_no AS household_no, COALESCE({}, h.area_code) AS area_code,
         (SELECT d.death_date FROM death d WHERE d.person_id = p.id) AS death_date",
        latest_registered_area("p.id")
    )
});

fn summary_of(row: &DbRow) -> Result<PersonSummary> {
    Ok(PersonSummary {
        id: row.try_get("id")?,
        citizen_id: row.try_get("citizen_id")?,
        name: row.try_get("name")?,
        sex: rows::sex(row, "sex")?,
        birth_date: row.try_get("birth_date")?,
        household_no: row.try_get("household_no")?,
        area_code: row.try_get("area_code")?,
        death_date: row.try_get("death_date")?,
    })
}

/// Pushes ` AND (person p is in the scope today)`: the scope rule of every person page, search
/// and change (ARCHITECTURE.md, "in the area today"). A person is in an area today when an open
/// episode lies in it: registered there (流出 included: registered there, living elsewhere) or
/// living there as 流入; a person with no open episode (dead, moved away from the register) is
/// in the area of their latest registration. Someone who lived in the area in the past and moved
/// on belongs to the new area; the old one sees them only in the lists of the periods when they
/// lived there (the statistics' drill-down).
pub(crate) fn push_scope(qb: &mut Builder, scope: &AreaCode) {
    let (lo, hi) = scope.code_range();
    qb.push(format!(" AND (EXISTS (SELECT 1 FROM residence rs WHERE rs.person_id = p.id AND {} AND rs.area_code >= ", open_now("rs")));
    qb.push_bind(lo.clone()).push(" AND rs.area_code < ").push_bind(hi.clone());
    qb.push(format!(
        ") OR (NOT EXISTS (SELECT 1 FROM residence rs WHERE rs.person_id = p.id AND {}) AND {} >= ",
        open_now("rs"),
        latest_registered_area("p.id")
    ));
    qb.push_bind(lo).push(format!(" AND {} < ", latest_registered_area("p.id"))).push_bind(hi).push("))");
}

/// The upper bound of a prefix range over UTF-8 text.
fn prefix_hi(s: &str) -> String {
    let mut hi = s.to_string();
    hi.push('\u{10FFFF}');
    hi
}

impl Store {
    /// Persons inside `scope` whose `field` starts with `text`, at most `limit`, ordered by that
    /// field and then by id: the field's index gives the order, so the query stops after `limit`
    /// rows however many match (pinyin initials `zj` match 20,000 persons of a county).
    pub async fn search_persons(&self, scope: &AreaCode, field: SearchField, text: &str, limit: i64) -> Result<Vec<PersonSummary>> {
        let col = match field {
            SearchField::Name => "p.name",
            SearchField::Initials => "p.name_initials",
            SearchField::CitizenId => "p.citizen_id",
            SearchField::HouseholdNo => "h.household_no",
        };
        let mut qb: Builder = Builder::new(format!("SELECT {} FROM person p LEFT JOIN household h ON h.id = p.household_id WHERE {col} >= ", *SUMMARY_COLS));
        qb.push_bind(text.to_string()).push(format!(" AND {col} < ")).push_bind(prefix_hi(text));
        push_scope(&mut qb, scope);
        qb.push(format!(" ORDER BY {col}, p.id LIMIT ")).push_bind(limit);
        let rows = qb.build().fetch_all(self).await?;
        rows.iter().map(summary_of).collect()
    }

    /// A person inside `scope` with everything known about them; `None` when there is no such
    /// person *or the person is outside the scope* (callers answer both with "not found").
    pub async fn person_detail(&self, scope: &AreaCode, id: i64) -> Result<Option<PersonDetailRow>> {
        let mut qb: Builder = Builder::new(format!(
            "SELECT {}, p.ethnicity AS ethnicity, p.marital_status AS marital_status, p.household_id AS household_id,
                    p.relationship_to_head AS relationship_to_head
             FROM person p LEFT JOIN household h ON h.id = p.household_id WHERE p.id = ",
            *SUMMARY_COLS
        ));
        qb.push_bind(id);
        push_scope(&mut qb, scope);
        let Some(row) = qb.build().fetch_optional(self).await? else { return Ok(None) };
        let summary = summary_of(&row)?;
        let residences = db::query(&format!(
            "SELECT r.area_code AS area_code, COALESCE(a.name, '') AS area_name, r.kind AS kind, r.valid_from AS valid_from, r.valid_to AS valid_to
             FROM residence r
             LEFT JOIN area a ON a.code = r.area_code WHERE r.person_id = $1 ORDER BY {}",
            oldest_first("r")
        ))
        .bind(id)
        .fetch_all(self)
        .await?
        .iter()
        .map(|r| {
            Ok(ResidenceRow {
                area_code: r.try_get("area_code")?,
                area_name: r.try_get("area_name")?,
                kind: rows::kind(r, "kind")?,
                valid_from: r.try_get("valid_from")?,
                valid_to: r.try_get("valid_to")?,
            })
        })
        .collect::<Result<_>>()?;
        let marriages = db::query(
            "SELECT CASE WHEN m.wife_id = $1 THEN m.husband_id ELSE m.wife_id END AS spouse_id,
                    COALESCE(s.name, m.outside_spouse_name) AS spouse_name, m.start_date AS start_date, m.end_date AS end_date,
                    m.end_reason AS end_reason
             FROM marriage m LEFT JOIN person s ON s.id = (CASE WHEN m.wife_id = $1 THEN m.husband_id ELSE m.wife_id END)
             WHERE m.wife_id = $1 OR m.husband_id = $1 ORDER BY m.start_date IS NOT NULL, m.start_date, m.id",
        )
        .bind(id)
        .fetch_all(self)
        .await?
        .iter()
        .map(|r| {
            Ok(MarriageRow {
                spouse_id: r.try_get("spouse_id")?,
                spouse_name: r.try_get("spouse_name")?,
                start_date: r.try_get("start_date")?,
                end_date: r.try_get("end_date")?,
                end_reason: r.try_get("end_reason")?,
            })
        })
        .collect::<Result<_>>()?;
        let children = db::query(
            "SELECT c.id AS id, c.name AS name, c.sex AS sex, c.birth_date AS birth_date, b.birth_order AS birth_order, b.policy AS policy
             FROM birth b JOIN person c ON c.id = b.child_id
             WHERE b.mother_id = $1 OR b.father_id = $1 ORDER BY c.birth_date, c.id",
        )
        .bind(id)
        .fetch_all(self)
        .await?
        .iter()
        .map(|r| {
            Ok(ChildRow {
                person_id: r.try_get("id")?,
                name: r.try_get("name")?,
                sex: rows::sex(r, "sex")?,
                birth_date: r.try_get("birth_date")?,
                birth_order: r.try_get("birth_order")?,
                policy: rows::policy(r, "policy")?,
            })
        })
        .collect::<Result<_>>()?;
        let birth = db::query(
            "SELECT b.mother_id AS mother_id, m.name AS mother_name, b.father_id AS father_id, f.name AS father_name,
                    b.birth_order AS birth_order, b.policy AS policy FROM birth b
             LEFT JOIN person m ON m.id = b.mother_id LEFT JOIN person f ON f.id = b.father_id WHERE b.child_id = $1",
        )
        .bind(id)
        .fetch_optional(self)
        .await?
        .map(|r| {
            Ok::<_, StoreError>(OwnBirthRow {
                mother_id: r.try_get("mother_id")?,
                mother_name: r.try_get("mother_name")?,
                father_id: r.try_get("father_id")?,
                father_name: r.try_get("father_name")?,
                birth_order: r.try_get("birth_order")?,
                policy: rows::policy(&r, "policy")?,
            })
        })
        .transpose()?;
        Ok(Some(PersonDetailRow {
            summary,
            ethnicity: row.try_get("ethnicity")?,
            marital_status: row.try_get("marital_status")?,
            household_id: row.try_get("household_id")?,
            relationship_to_head: row.try_get("relationship_to_head")?,
            residences,
            marriages,
            children,
            birth,
        }))
    }

    /// A household inside `scope` (by its area) with its members; `None` when missing or outside.
    pub async fn household(&self, scope: &AreaCode, id: i64) -> Result<Option<HouseholdRow>> {
        let (lo, hi) = scope.code_range();
        let Some(h) = db::query(
            "SELECT h.id AS id, h.household_no AS household_no, h.area_code AS area_code, COALESCE(a.name, '') AS area_name FROM household h LEFT JOIN area a ON a.code = h.area_code
             WHERE h.id = $1 AND h.area_code >= $2 AND h.area_code < $3",
        )
        .bind(id)
        .bind(lo)
        .bind(hi)
        .fetch_optional(self)
        .await?
        else {
            return Ok(None);
        };
        let members = db::query(&format!(
            "SELECT {}, p.relationship_to_head AS relationship_to_head FROM person p LEFT JOIN household h ON h.id = p.household_id
             WHERE p.household_id = $1 ORDER BY (p.relationship_to_head = '户主') DESC NULLS LAST, p.birth_date, p.id",
            *SUMMARY_COLS
        ))
        .bind(id)
        .fetch_all(self)
        .await?
        .iter()
        .map(|r| Ok(MemberRow { person: summary_of(r)?, relationship_to_head: r.try_get("relationship_to_head")? }))
        .collect::<Result<_>>()?;
        Ok(Some(HouseholdRow {
            id: h.try_get("id")?,
            household_no: h.try_get("household_no")?,
            area_code: h.try_get("area_code")?,
            area_name: h.try_get("area_name")?,
            members,
        }))
    }

    /// Registered residents of `scope` at the end instant of `period` (24:00 of the last day),
    /// by sex and 5-year age group (age in completed years on the last day), from 0–4 up to
    /// [`PYRAMID_TOP`]+. Always returns every group, youngest first.
    pub async fn population_pyramid(&self, scope: &AreaCode, period: &Period) -> Result<Vec<AgeGroupCount>> {
        let (lo, hi) = scope.code_range();
        let x = period.end_instant();
        // Grouped by birth date so the database returns at most one row per (sex, day).
        let rows = db::query(&format!(
            "SELECT p.sex AS sex, p.birth_date AS birth_date, COUNT(*) AS n FROM residence r JOIN person p ON p.id = r.person_id{death}
             WHERE r.kind = 'registered' AND {scope} AND {resident}
             GROUP BY p.sex, p.birth_date",
            death = death_join("p", "d"),
            scope = in_scope("r.area_code", "$1", "$2"),
            resident = resident_at("r", "p", "d", "$3"),
        ))
        .bind(lo)
        .bind(hi)
        .bind(x)
        .fetch_all(self)
        .await?;
        let mut groups: Vec<AgeGroupCount> = (0..=PYRAMID_TOP / 5).map(|g| AgeGroupCount { from_age: g * 5, male: 0, female: 0 }).collect();
        for r in rows {
            let birth: NaiveDate = r.try_get("birth_date")?;
            let age = age_in_completed_years(birth, period.last).max(0) as u32;
            let g = &mut groups[(age.min(PYRAMID_TOP) / 5) as usize];
            let n: i64 = r.try_get("n")?;
            match rows::sex(&r, "sex")? {
                Sex::Male => g.male += n,
                Sex::Female => g.female += n,
            }
        }
        Ok(groups)
    }

    /// Births and deaths of `scope` in each month of `period` (same definitions as the report).
    pub async fn monthly_events(&self, scope: &AreaCode, period: &Period) -> Result<Vec<MonthCount>> {
        let (lo, hi) = scope.code_range();
        let mut months: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut m = NaiveDate::from_ymd_opt(period.first.year(), period.first.month(), 1).expect("day 1");
        while m <= period.last {
            months.insert(m.format("%Y-%m").to_string(), (0, 0));
            m = m.checked_add_months(chrono::Months::new(1)).expect("in range");
        }
        // The area of each event as the report chooses it (one episode), so that the months add up
        // to the report's births and deaths.
        let births = db::query(&format!(
            "SELECT x.day, COUNT(*) FROM (
                SELECT p.birth_date AS day, {area} AS code FROM birth b JOIN person p ON p.id = b.child_id
                WHERE p.birth_date >= $3 AND p.birth_date <= $4) x
             WHERE {scope} GROUP BY x.day",
            area = event_area("p.id", "p.birth_date"),
            scope = in_scope("x.code", "$1", "$2"),
        ))
        .bind(&lo)
        .bind(&hi)
        .bind(period.first)
        .bind(period.last)
        .fetch_all(self)
        .await?;
        for r in births {
            let d: NaiveDate = r.get(0);
            months.entry(d.format("%Y-%m").to_string()).or_default().0 += r.get::<i64, _>(1);
        }
        let deaths = db::query(&format!(
            "SELECT x.day, COUNT(*) FROM (
                SELECT d.death_date AS day, {area} AS code FROM death d WHERE d.death_date >= $3 AND d.death_date <= $4) x
             WHERE {scope} GROUP BY x.day",
            area = event_area("d.person_id", "d.death_date"),
            scope = in_scope("x.code", "$1", "$2"),
        ))
        .bind(&lo)
        .bind(&hi)
        .bind(period.first)
        .bind(period.last)
        .fetch_all(self)
        .await?;
        for r in deaths {
            let d: NaiveDate = r.get(0);
            months.entry(d.format("%Y-%m").to_string()).or_default().1 += r.get::<i64, _>(1);
        }
        Ok(months.into_iter().map(|(month, (births, deaths))| MonthCount { month, births, deaths }).collect())
    }

    /// The latest birth or death date in the register (to choose a default period), if any.
    pub async fn latest_event_date(&self) -> Result<Option<NaiveDate>> {
        let row = db::query("SELECT MAX(p.birth_date) FROM person p").fetch_one(self).await?;
        let b: Option<NaiveDate> = row.get(0);
        let row = db::query("SELECT MAX(d.death_date) FROM death d").fetch_one(self).await?;
        let d: Option<NaiveDate> = row.get(0);
        Ok(b.max(d))
    }

    /// The smallest and largest area code of any residence episode (administration: to find the
    /// area a first administrator is responsible for).
    pub async fn residence_code_bounds(&self) -> Result<Option<(String, String)>> {
        let row = db::query("SELECT MIN(area_code), MAX(area_code) FROM residence").fetch_one(self).await?;
        Ok(row.get::<Option<String>, _>(0).zip(row.get::<Option<String>, _>(1)))
    }

    /// The code of some top-level area (administration, for an empty register).
    pub async fn first_root_area(&self) -> Result<Option<String>> {
        let row = db::query("SELECT code FROM area WHERE parent_code IS NULL ORDER BY code LIMIT 1").fetch_optional(self).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Up to `limit` persons whose pinyin initials are not filled yet, as `(id, name)`
    /// (administration: the app computes the initials and calls [`Store::set_name_initials`]).
    pub async fn persons_without_initials(&self, limit: i64) -> Result<Vec<(i64, String)>> {
        let rows = db::query("SELECT id, name FROM person WHERE name_initials IS NULL ORDER BY id LIMIT $1").bind(limit).fetch_all(self).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Stores the pinyin initials of persons, in one transaction.
    pub async fn set_name_initials(&self, rows: &[(i64, String)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (id, ini) in rows {
            db::query("UPDATE person SET name_initials = $1 WHERE id = $2").bind(ini).bind(id).execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

// Changes to persons and households are register commands (renkou_core::command), written by
// Store::write_batch in one transaction with their audit entry.
