//! Count queries of the statistics engine, and the record lists behind each figure.
//!
//! Every function takes an area scope and answers with SQL aggregates: the register is counted
//! by the database, never loaded into memory. The day conventions (who is resident at an
//! instant, where an event belongs, what an area scope is) are the SQL fragments of
//! [`crate::day`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::db;
use chrono::NaiveDate;
use renkou_core::area::{AreaCode, AreaLevel};
use renkou_core::period::{birth_dates_for_ages, Period};
use renkou_core::register::{PolicyClass, ResidenceKind, Sex};
use renkou_core::stats::{PeriodCounts, CHILDBEARING_AGE_MAX, CHILDBEARING_AGE_MIN};
use serde::Serialize;

use crate::day::{death_join, event_area, in_scope, married_at_end_of, overlaps, resident_at};
use crate::{rows, Result, Store, StoreError};

/// Which records to list behind a figure (`renkou report --explain …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Explain {
    /// Registered residents at the start instant.
    PopulationStart,
    /// Registered residents at the end instant.
    PopulationEnd,
    /// Births in the period (all, or by the figure's sex / policy split via the row fields).
    Births,
    /// Deaths in the period.
    Deaths,
    /// Women 15–49 at the end.
    WomenOfChildbearingAge,
    /// Married women 15–49 at the end.
    MarriedWomenOfChildbearingAge,
    /// Open inflow episodes at the end.
    FloatingInflow,
    /// Open outflow episodes at the end.
    FloatingOutflow,
}

impl Explain {
    /// Every list, with the figure keys it explains.
    pub const ALL: &'static [(Explain, &'static str)] = &[
        (Explain::PopulationStart, "population_start"),
        (Explain::PopulationEnd, "population_end"),
        (Explain::Births, "births"),
        (Explain::Deaths, "deaths"),
        (Explain::WomenOfChildbearingAge, "women_of_childbearing_age"),
        (Explain::MarriedWomenOfChildbearingAge, "married_women_of_childbearing_age"),
        (Explain::FloatingInflow, "floating_inflow"),
        (Explain::FloatingOutflow, "floating_outflow"),
    ];

    /// The list for a figure key (`births_male` → births, etc.).
    pub fn for_key(key: &str) -> Option<Explain> {
        let base = match key {
            "births_male" | "births_female" | "births_policy_compliant" | "births_policy_noncompliant" | "births_policy_unknown" => "births",
            k => k,
        };
        Self::ALL.iter().find(|(_, k)| *k == base).map(|(e, _)| *e)
    }
}

/// One record behind a figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainRow {
    /// Store id of the person.
    pub person_id: i64,
    /// Citizen ID (unmasked; the app decides what to show).
    pub citizen_id: Option<String>,
    /// Name.
    pub name: String,
    /// Sex (JSON: the GB/T 2261.1 code, 1 male, 2 female).
    #[serde(serialize_with = "crate::rows::sex_code")]
    pub sex: Sex,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Area of the record (residence episode's area).
    pub area_code: String,
    /// Date of the event, or the episode's start for stocks.
    pub date: Option<NaiveDate>,
    /// Extra detail: policy classification and birth order for births, `valid_to` for stocks.
    pub detail: Option<String>,
}

/// Woman `p` is married at 24:00 of the last day (`$5`).
static MARRIED_ON_LAST_DAY: LazyLock<String> =
    LazyLock::new(|| format!("EXISTS (SELECT 1 FROM marriage m WHERE m.wife_id = p.id AND {})", married_at_end_of("m", "$5")));

impl Store {
    /// Counts of every definition for `area` and `period`, in total and broken down by the
    /// area's children (villages of a township, groups of a village, …; a record registered
    /// directly at the area's own level is reported under the area's own code).
    ///
    /// Shape: `(total, [(child code, counts)])`, children ordered by code, only children with
    /// at least one record. Errors: [`StoreError::Sql`].
    pub async fn period_counts(&self, area: &AreaCode, period: &Period) -> Result<(PeriodCounts, Vec<(AreaCode, PeriodCounts)>)> {
        let (lo, hi) = area.code_range();
        let child_len = area.level().child().map_or(AreaLevel::Group.prefix_len(), |l| l.prefix_len()) as i64;
        let start = period.first;
        let end_x = period.end_instant();
        let last = period.last;
        let (wcba_after, wcba_up_to) = birth_dates_for_ages(last, CHILDBEARING_AGE_MIN, CHILDBEARING_AGE_MAX);
        let mut by_child: BTreeMap<String, PeriodCounts> = BTreeMap::new();

        // $1 child prefix length, $2/$3 area range, $4 first day, $5 last day, $6 end instant,
        // $7/$8 WCBA birth-date bounds.
        // The cheap tests first: they reject most rows before the instant is tested.
        let wcba = format!("p.sex = 2 AND p.birth_date > $7 AND p.birth_date <= $8 AND {}", resident_at("r", "p", "d", "$6"));
        let stocks = format!(
            "SELECT substr(r.area_code, 1, CAST($1 AS INTEGER)) AS child,
                    SUM(CASE WHEN {start} THEN 1 ELSE 0 END) AS population_start,
                    SUM(CASE WHEN {end} THEN 1 ELSE 0 END) AS population_end,
                    SUM(CASE WHEN {wcba} THEN 1 ELSE 0 END) AS wcba,
                    SUM(CASE WHEN {wcba} AND {married} THEN 1 ELSE 0 END) AS married_wcba
             FROM residence r JOIN person p ON p.id = r.person_id{death}
             WHERE r.kind = 'registered' AND {scope} AND {overlaps}
             GROUP BY child",
            death = death_join("p", "d"),
            scope = in_scope("r.area_code", "$2", "$3"),
            overlaps = overlaps("r", "$4", "$5"),
            start = resident_at("r", "p", "d", "$4"),
            end = resident_at("r", "p", "d", "$6"),
            married = *MARRIED_ON_LAST_DAY,
        );
        for row in
            db::query(&stocks).bind(child_len).bind(&lo).bind(&hi).bind(start).bind(last).bind(end_x).bind(wcba_after).bind(wcba_up_to).fetch_all(self).await?
        {
            let c = by_child.entry(row.try_get("child")?).or_default();
            c.population_start += row.try_get::<i64, _>("population_start")?;
            c.population_end += row.try_get::<i64, _>("population_end")?;
            c.women_of_childbearing_age += row.try_get::<i64, _>("wcba")?;
            c.married_women_of_childbearing_age += row.try_get::<i64, _>("married_wcba")?;
        }

        // Births are driven by the child's birth date (few rows); the child's registered episode
        // on that date decides the area.
        let births = format!(
            "SELECT substr(code, 1, CAST($1 AS INTEGER)) AS child, sex, policy, COUNT(*) AS n FROM (
                SELECT {area} AS code, p.sex AS sex, b.policy AS policy
                FROM person p JOIN birth b ON b.child_id = p.id
                WHERE p.birth_date >= $4 AND p.birth_date <= $5) x
             WHERE {scope}
             GROUP BY child, sex, policy",
            area = event_area("p.id", "p.birth_date"),
            scope = in_scope("code", "$2", "$3")
        );
        for row in db::query(&births).bind(child_len).bind(&lo).bind(&hi).bind(start).bind(last).fetch_all(self).await? {
            let c = by_child.entry(row.try_get("child")?).or_default();
            let n: i64 = row.try_get("n")?;
            c.births += n;
            match rows::sex(&row, "sex")? {
                Sex::Male => c.births_male += n,
                Sex::Female => c.births_female += n,
            }
            match rows::policy(&row, "policy")? {
                Some(PolicyClass::Compliant) => c.births_policy_compliant += n,
                Some(PolicyClass::Noncompliant) => c.births_policy_noncompliant += n,
                None => {}
            }
        }

        let deaths = format!(
            "SELECT substr(code, 1, CAST($1 AS INTEGER)) AS child, COUNT(*) AS n FROM (
                SELECT {area} AS code FROM death d WHERE d.death_date >= $4 AND d.death_date <= $5) x
             WHERE {scope}
             GROUP BY child",
            area = event_area("d.person_id", "d.death_date"),
            scope = in_scope("code", "$2", "$3")
        );
        for row in db::query(&deaths).bind(child_len).bind(&lo).bind(&hi).bind(start).bind(last).fetch_all(self).await? {
            by_child.entry(row.try_get("child")?).or_default().deaths += row.try_get::<i64, _>("n")?;
        }

        let floating = format!(
            "SELECT substr(r.area_code, 1, CAST($1 AS INTEGER)) AS child, r.kind AS kind, COUNT(*) AS n
             FROM residence r JOIN person p ON p.id = r.person_id{death}
             WHERE r.kind IN ('inflow', 'outflow') AND {scope} AND {open}
             GROUP BY child, r.kind",
            death = death_join("p", "d"),
            scope = in_scope("r.area_code", "$2", "$3"),
            open = resident_at("r", "p", "d", "$4")
        );
        for row in db::query(&floating).bind(child_len).bind(&lo).bind(&hi).bind(end_x).fetch_all(self).await? {
            let c = by_child.entry(row.try_get("child")?).or_default();
            let n: i64 = row.try_get("n")?;
            match rows::kind(&row, "kind")? {
                ResidenceKind::Inflow => c.floating_inflow += n,
                ResidenceKind::Outflow => c.floating_outflow += n,
                ResidenceKind::Registered => return Err(StoreError::Corrupt("registered episode among the floating".into())),
            }
        }

        let mut total = PeriodCounts::default();
        let mut children = Vec::with_capacity(by_child.len());
        for (code, c) in by_child {
            total.add(&c);
            let code = AreaCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            children.push((code, c));
        }
        Ok((total, children))
    }

    /// The records behind a figure, for `area` and `period`, ordered by area then name.
    ///
    /// Errors: [`StoreError::Sql`].
    pub async fn explain(&self, what: Explain, area: &AreaCode, period: &Period) -> Result<Vec<ExplainRow>> {
        let (lo, hi) = area.code_range();
        let (wcba_after, wcba_up_to) = birth_dates_for_ages(period.last, CHILDBEARING_AGE_MIN, CHILDBEARING_AGE_MAX);
        // Every variant: these person columns, then `area_code`, `date` and `detail`.
        let person = "p.id AS person_id, p.citizen_id AS citizen_id, p.name AS name, p.sex AS sex, p.birth_date AS birth_date";
        let death = death_join("p", "d");
        let scope = in_scope("r.area_code", "$1", "$2");
        // $1/$2 area range, $3 first day, $4 last day, $5 (used by MARRIED_ON_LAST_DAY) last day,
        // $6 end instant, $7/$8 WCBA bounds.
        let sql = match what {
            Explain::PopulationStart | Explain::PopulationEnd => format!(
                "SELECT {person}, r.area_code AS area_code, r.valid_from AS date, r.valid_to AS detail FROM residence r JOIN person p ON p.id = r.person_id{death}
                 WHERE r.kind = 'registered' AND {scope} AND {open}",
                open = resident_at("r", "p", "d", if what == Explain::PopulationStart { "$3" } else { "$6" })
            ),
            Explain::Births => format!(
                "SELECT {person}, x.code AS area_code, p.birth_date AS date,
                        COALESCE(x.policy, '') || ' ' || COALESCE(CAST(x.birth_order AS TEXT), '') AS detail
                 FROM (SELECT b.child_id AS pid, b.policy AS policy, b.birth_order AS birth_order, {area} AS code
                       FROM person p JOIN birth b ON b.child_id = p.id
                       WHERE p.birth_date >= $3 AND p.birth_date <= $4) x
                 JOIN person p ON p.id = x.pid
                 WHERE {}",
                in_scope("x.code", "$1", "$2"),
                area = event_area("p.id", "p.birth_date")
            ),
            Explain::Deaths => format!(
                "SELECT {person}, x.code AS area_code, x.death_date AS date, NULL AS detail
                 FROM (SELECT d.person_id AS pid, d.death_date AS death_date, {area} AS code
                       FROM death d WHERE d.death_date >= $3 AND d.death_date <= $4) x
                 JOIN person p ON p.id = x.pid
                 WHERE {}",
                in_scope("x.code", "$1", "$2"),
                area = event_area("d.person_id", "d.death_date")
            ),
            Explain::WomenOfChildbearingAge | Explain::MarriedWomenOfChildbearingAge => format!(
                "SELECT {person}, r.area_code AS area_code, r.valid_from AS date, NULL AS detail FROM residence r JOIN person p ON p.id = r.person_id{death}
                 WHERE r.kind = 'registered' AND {scope} AND {open}
                   AND p.sex = 2 AND p.birth_date > $7 AND p.birth_date <= $8 {married}",
                open = resident_at("r", "p", "d", "$6"),
                married = if what == Explain::MarriedWomenOfChildbearingAge { format!("AND {}", *MARRIED_ON_LAST_DAY) } else { String::new() }
            ),
            Explain::FloatingInflow | Explain::FloatingOutflow => format!(
                "SELECT {person}, r.area_code AS area_code, r.valid_from AS date, r.kind AS detail FROM residence r JOIN person p ON p.id = r.person_id{death}
                 WHERE r.kind = '{kind}' AND {scope} AND {open}",
                kind = if what == Explain::FloatingInflow { "inflow" } else { "outflow" },
                open = resident_at("r", "p", "d", "$6")
            ),
        };
        // Column 6 is the record's area code (`area_code`) in every variant.
        let sql = format!("{sql} ORDER BY 6, p.name, p.id");
        // Each variant uses some of the eight values: bind those it uses (PostgreSQL refuses a
        // parameter that the statement does not use).
        let values: [db::Param; 8] = [
            lo.into(),
            hi.into(),
            period.first.into(),
            period.last.into(),
            period.last.into(),
            period.end_instant().into(),
            wcba_after.into(),
            wcba_up_to.into(),
        ];
        let (sql, used) = db::compact_params(&sql);
        let mut q = db::query(&sql);
        for n in used {
            q = q.bind(values[n - 1].clone());
        }
        let rows = q.fetch_all(self).await?;
        rows.into_iter()
            .map(|row| {
                let detail: Option<String> = match what {
                    Explain::PopulationStart | Explain::PopulationEnd => row.try_get::<Option<NaiveDate>, _>("detail")?.map(|d| d.to_string()),
                    _ => row.try_get::<Option<String>, _>("detail")?,
                };
                Ok(ExplainRow {
                    person_id: row.try_get("person_id")?,
                    citizen_id: row.try_get("citizen_id")?,
                    name: row.try_get("name")?,
                    sex: rows::sex(&row, "sex")?,
                    birth_date: row.try_get("birth_date")?,
                    area_code: row.try_get("area_code")?,
                    date: row.try_get("date")?,
                    detail: detail.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
                })
            })
            .collect()
    }
}
