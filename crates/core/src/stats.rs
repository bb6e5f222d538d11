//! Statistical definitions (DESIGN.md §Definitions, National Bureau of Statistics conventions)
//! and their exact computation from counts.
//!
//! The store counts ([`PeriodCounts`]: integers from count queries); this module turns counts into
//! figures ([`Figures`]): exact rational rates, rounded only for display, half away from zero,
//! at the precision the seed report prints. Sources:
//! - NBS indicator explanations (人口出生率, 死亡率, 自然增长率, 年平均人口): rate = events ÷
//!   average population × 1000, average population = (start + end) ÷ 2;
//! - 出生人口性别比 = male births ÷ female births × 100;
//! - 符合政策生育率 = births within policy ÷ births × 100;
//! - 育龄妇女 = women aged 15–49 in completed years.

use serde::{Deserialize, Serialize};

/// Lower age (completed years) of women of childbearing age (育龄妇女).
pub const CHILDBEARING_AGE_MIN: u32 = 15;
/// Upper age (completed years, inclusive) of women of childbearing age.
pub const CHILDBEARING_AGE_MAX: u32 = 49;

/// Unit of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A count of persons or events (人).
    Persons,
    /// Per thousand (‰).
    PerMille,
    /// Per hundred (%).
    Percent,
    /// Boys per 100 girls.
    Per100Girls,
}

impl Unit {
    /// Display suffix: `人`, `‰`, `%`, `` (sex ratio is printed as a bare number, e.g. 98.8).
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Persons => "人",
            Unit::PerMille => "‰",
            Unit::Percent => "%",
            Unit::Per100Girls => "",
        }
    }
}

/// One definition of DESIGN.md §Definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// snake_case key (JSON key of the report).
    pub key: &'static str,
    /// Chinese name as printed in reports.
    pub name_zh: &'static str,
    /// Unit.
    pub unit: Unit,
    /// Decimals printed (for rates; 0 for counts). Taken from the seed report where it prints
    /// the figure, 2 otherwise (NBS publishes 2).
    pub precision: u32,
    /// The definition in words, with its source.
    pub definition: &'static str,
}

macro_rules! defs {
    ($($key:literal, $zh:literal, $unit:ident, $prec:literal, $def:literal;)*) => {
        /// Every definition, in report order.
        pub const DEFINITIONS: &[Definition] = &[
            $(Definition { key: $key, name_zh: $zh, unit: Unit::$unit, precision: $prec, definition: $def },)*
        ];
    };
}

defs! {
    "population_start", "期初人口", Persons, 0, "registered residents at 00:00 of the period's first day";
    "population_end", "期末人口", Persons, 0, "registered residents at 24:00 of the period's last day (户籍总人口)";
    "population_average", "平均人口", Persons, 1, "(population_start + population_end) / 2 (NBS 年平均人口)";
    "births", "出生人数", Persons, 0, "live births during the period to registered residents (child registered in the area on the birth date)";
    "births_male", "男孩", Persons, 0, "births by the child's sex: male";
    "births_female", "女孩", Persons, 0, "births by the child's sex: female";
    "births_policy_compliant", "政策内生育", Persons, 0, "births classified 政策内 (as recorded)";
    "births_policy_noncompliant", "政策外生育", Persons, 0, "births classified 政策外 (as recorded)";
    "births_policy_unknown", "政策属性未填", Persons, 0, "births with no policy classification recorded";
    "deaths", "死亡人数", Persons, 0, "deaths of registered residents during the period (registered in the area on the death date)";
    "crude_birth_rate", "人口出生率", PerMille, 1, "births / population_average × 1000 (NBS)";
    "crude_death_rate", "死亡率", PerMille, 2, "deaths / population_average × 1000 (NBS)";
    "natural_growth_rate", "人口自然增长率", PerMille, 2, "(births − deaths) / population_average × 1000 (NBS)";
    "sex_ratio_at_birth", "出生人口性别比", Per100Girls, 1, "births_male / births_female × 100 (boys per 100 girls)";
    "policy_compliance_rate", "符合政策生育率", Percent, 2, "births_policy_compliant / births × 100";
    "women_of_childbearing_age", "育龄妇女", Persons, 0, "registered women aged 15–49 in completed years, resident at the end instant, age on the last day";
    "married_women_of_childbearing_age", "已婚育龄妇女", Persons, 0, "of those, married (a marriage open) on the last day";
    "floating_inflow", "流入人口", Persons, 0, "residence episodes of kind inflow open at the end instant";
    "floating_outflow", "流出人口", Persons, 0, "residence episodes of kind outflow open at the end instant";
    "floating_total", "流动人口", Persons, 0, "floating_inflow + floating_outflow";
}

/// Looks a definition up by key.
pub fn definition(key: &str) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|d| d.key == key)
}

/// The counts a store produces for one area and one period (every field an exact integer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodCounts {
    /// Registered residents at 00:00 of the first day.
    pub population_start: i64,
    /// Registered residents at 24:00 of the last day.
    pub population_end: i64,
    /// Live births during the period.
    pub births: i64,
    /// Of which boys.
    pub births_male: i64,
    /// Of which girls.
    pub births_female: i64,
    /// Of which 政策内.
    pub births_policy_compliant: i64,
    /// Of which 政策外.
    pub births_policy_noncompliant: i64,
    /// Deaths during the period.
    pub deaths: i64,
    /// Women 15–49 at the end.
    pub women_of_childbearing_age: i64,
    /// Married women 15–49 at the end.
    pub married_women_of_childbearing_age: i64,
    /// Open inflow episodes at the end.
    pub floating_inflow: i64,
    /// Open outflow episodes at the end.
    pub floating_outflow: i64,
}

impl PeriodCounts {
    /// Adds another area's counts (every count is additive over disjoint areas).
    pub fn add(&mut self, o: &PeriodCounts) {
        self.population_start += o.population_start;
        self.population_end += o.population_end;
        self.births += o.births;
        self.births_male += o.births_male;
        self.births_female += o.births_female;
        self.births_policy_compliant += o.births_policy_compliant;
        self.births_policy_noncompliant += o.births_policy_noncompliant;
        self.deaths += o.deaths;
        self.women_of_childbearing_age += o.women_of_childbearing_age;
        self.married_women_of_childbearing_age += o.married_women_of_childbearing_age;
        self.floating_inflow += o.floating_inflow;
        self.floating_outflow += o.floating_outflow;
    }
}

/// An exact non-negative ratio `numerator / denominator` (a rate before rounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    /// Numerator.
    pub numerator: i128,
    /// Denominator (> 0).
    pub denominator: i128,
}

impl Ratio {
    /// `n / d`, or `None` when `d` is 0 (a rate over nothing is undefined, not zero).
    pub fn new(n: i128, d: i128) -> Option<Ratio> {
        (d != 0).then(|| if d < 0 { Ratio { numerator: -n, denominator: -d } } else { Ratio { numerator: n, denominator: d } })
    }

    /// Nearest f64 (for JSON's `exact` field and charts).
    pub fn to_f64(self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }

    /// Decimal text with `precision` decimals, rounded half away from zero, computed in integers
    /// so that 5.875 never becomes 5.87 through binary floating point.
    pub fn rounded(self, precision: u32) -> String {
        let scale = 10i128.pow(precision);
        let n = self.numerator.abs() * scale;
        let d = self.denominator;
        let mut q = n / d;
        if (n % d) * 2 >= d {
            q += 1;
        }
        let neg = self.numerator < 0 && q != 0;
        let int = q / scale;
        let frac = q % scale;
        let sign = if neg { "-" } else { "" };
        if precision == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac:0width$}", width = precision as usize)
        }
    }
}

/// A computed figure: its definition, its exact value and its display form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// The definition (key, Chinese name, unit, precision).
    pub key: &'static str,
    /// Exact value as a ratio (counts have denominator 1); `None` when undefined (division by 0).
    pub ratio: Option<Ratio>,
    /// `ratio` as f64.
    pub exact: Option<f64>,
    /// Rounded for display at the definition's precision, e.g. `"5.88"`; `None` when undefined.
    pub rounded: Option<String>,
}

/// All figures of DESIGN.md §Definitions for one area and period, in [`DEFINITIONS`] order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// The counts the figures come from.
    pub counts: PeriodCounts,
    /// One figure per definition.
    pub figures: Vec<Figure>,
}

impl Figures {
    /// Computes every figure from counts. Births with no recorded policy classification are
    /// counted in `births_policy_unknown` and in the compliance rate's denominator (all births).
    pub fn compute(c: &PeriodCounts) -> Figures {
        let pop_sum = i128::from(c.population_start) + i128::from(c.population_end);
        // average population = pop_sum / 2, so events / average × 1000 = events × 2000 / pop_sum.
        let per_mille_of_average = |events: i64| Ratio::new(i128::from(events) * 2000, pop_sum);
        let count = |v: i64| Ratio::new(i128::from(v), 1);
        let figures = DEFINITIONS
            .iter()
            .map(|d| {
                let ratio = match d.key {
                    "population_start" => count(c.population_start),
                    "population_end" => count(c.population_end),
                    "population_average" => Ratio::new(pop_sum, 2),
                    "births" => count(c.births),
                    "births_male" => count(c.births_male),
                    "births_female" => count(c.births_female),
                    "births_policy_compliant" => count(c.births_policy_compliant),
                    "births_policy_noncompliant" => count(c.births_policy_noncompliant),
                    "births_policy_unknown" => count(c.births - c.births_policy_compliant - c.births_policy_noncompliant),
                    "deaths" => count(c.deaths),
                    "crude_birth_rate" => per_mille_of_average(c.births),
                    "crude_death_rate" => per_mille_of_average(c.deaths),
                    "natural_growth_rate" => per_mille_of_average(c.births - c.deaths),
                    "sex_ratio_at_birth" => Ratio::new(i128::from(c.births_male) * 100, i128::from(c.births_female)),
                    "policy_compliance_rate" => Ratio::new(i128::from(c.births_policy_compliant) * 100, i128::from(c.births)),
                    "women_of_childbearing_age" => count(c.women_of_childbearing_age),
                    "married_women_of_childbearing_age" => count(c.married_women_of_childbearing_age),
                    "floating_inflow" => count(c.floating_inflow),
                    "floating_outflow" => count(c.floating_outflow),
                    "floating_total" => count(c.floating_inflow + c.floating_outflow),
                    other => unreachable!("definition {other} has no formula"),
                };
                Figure { key: d.key, ratio, exact: ratio.map(Ratio::to_f64), rounded: ratio.map(|r| r.rounded(d.precision)) }
            })
            .collect();
        Figures { counts: *c, figures }
    }

    /// The figure for `key`.
    pub fn get(&self, key: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero_and_exact() {
        assert_eq!(Ratio::new(5875, 1000).unwrap().rounded(2), "5.88");
        assert_eq!(Ratio::new(-5875, 1000).unwrap().rounded(2), "-5.88");
        assert_eq!(Ratio::new(1, 3).unwrap().rounded(3), "0.333");
        assert_eq!(Ratio::new(2, 3).unwrap().rounded(0), "1");
        assert_eq!(Ratio::new(5, 1).unwrap().rounded(1), "5.0");
        assert_eq!(Ratio::new(-1, 1000).unwrap().rounded(2), "0.00");
        assert!(Ratio::new(1, 0).is_none());
    }

    #[test]
    fn every_definition_has_a_formula_and_a_unique_key() {
        let f = Figures::compute(&PeriodCounts::default());
        assert_eq!(f.figures.len(), DEFINITIONS.len());
        let mut keys: Vec<_> = DEFINITIONS.iter().map(|d| d.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), DEFINITIONS.len());
    }
}
