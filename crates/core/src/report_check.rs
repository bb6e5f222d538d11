//! Checking a printed report (核对纸质报表): figures typed in from a report, in the format of
//! `reference/seed-report.toml` (sections `[register]`, `[vital_statistics]`,
//! `[floating_population]`, `[contraceptive_services]`, …), are checked for internal
//! consistency, and every inconsistency comes with what would explain it.
//!
//! - **Sums**: births by sex and by policy add up to births, inflow + outflow = floating total,
//!   contraceptive procedures add up to their total; parts do not exceed wholes (married women
//!   15–49 ≤ women 15–49 ≤ registered population, findings ≤ exams, …).
//! - **Ratios of counts in the report** (sex ratio at birth, policy compliance rate) are
//!   recomputed exactly and rounded at the printed precision (the number of decimals typed).
//! - **Rates per 1000 of a population** (birth, death, natural growth rates): the printed value
//!   `r` with `p` decimals means the exact rate lies in `[r − h, r + h)`, `h = ½·10⁻ᵖ` (half away
//!   from zero), so the denominator `A` lies in `(N·1000/(r+h), N·1000/(r−h)]` for the rate's
//!   numerator `N`. Each rate is first tried with the registered (end) population; when that does
//!   not reproduce it, the interval of `A` is computed exactly (rationals), intersected over all
//!   rates, and, since the NBS average population is `(start + end) / 2` with whole-person counts,
//!   turned into the range of average populations (multiples of ½) and of start populations.
//!
//! For the seed report: 178 deaths / 30317 = 5.87‰, not the printed 5.88‰; the three rates
//! together are consistent only with an average population between 30246.5 and 30297, i.e. a
//! start population between 30176 and 30277.
//!
//! Pure: the caller passes the text. Every message is Chinese.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rules::{Importance, Number};

/// A figure typed in from the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypedFigure {
    /// `section.key` as in the file, e.g. `vital_statistics.deaths`.
    pub key: String,
    /// The exact value of the text.
    #[serde(serialize_with = "ser_num")]
    pub value: Number,
    /// Decimals typed (the printed precision).
    pub precision: u32,
    /// The text as typed, e.g. `5.88`.
    pub text: String,
}

fn ser_num<S: serde::Serializer>(n: &Number, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&n.to_string())
}

/// One finding: a relation checked, whether it holds, and what explains it when it does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id, e.g. `R-births-by-sex`, `R-rate-crude_death_rate`.
    pub id: String,
    /// Error (the figures contradict each other) or warning (consistent only under an
    /// assumption the report does not state, e.g. a denominator other than the one printed).
    pub importance: Importance,
    /// True when the relation holds as printed.
    pub ok: bool,
    /// What was checked, with the numbers (Chinese).
    pub statement_zh: String,
    /// When not ok: what would explain it (Chinese); when ok, may state the basis.
    pub explanation_zh: String,
}

/// A closed range of whole-person counts or half-person averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    /// Smallest value.
    #[serde(serialize_with = "ser_num")]
    pub min: Number,
    /// Largest value.
    #[serde(serialize_with = "ser_num")]
    pub max: Number,
}

/// The result of checking a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportCheck {
    /// The figures read (numbers only).
    pub figures: Vec<TypedFigure>,
    /// Every relation checked, in order.
    pub findings: Vec<Finding>,
    /// The average populations (multiples of ½) consistent with every population rate, when
    /// the rates are not reproduced by the registered population and some value fits them all.
    pub average_population: Option<Range>,
    /// The start populations that give those averages with the printed end population.
    pub start_population: Option<Range>,
}

impl ReportCheck {
    /// Findings that do not hold.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.ok)
    }
}

/// A population rate of the report: key, name, numerator keys (+/−), factor.
struct PopRate {
    key: &'static str,
    file_key: &'static str,
    name: &'static str,
    plus: &'static str,
    minus: Option<&'static str>,
}

const POP_RATES: &[PopRate] = &[
    PopRate {
        key: "crude_birth_rate",
        file_key: "vital_statistics.crude_birth_rate_permille",
        name: "人口出生率",
        plus: "vital_statistics.births",
        minus: None,
    },
    PopRate {
        key: "crude_death_rate", file_key: "vital_statistics.crude_death_rate_permille", name: "死亡率", plus: "vital_statistics.deaths", minus: None
    },
    PopRate {
        key: "natural_growth_rate",
        file_key: "vital_statistics.natural_growth_rate_permille",
        name: "人口自然增长率",
        plus: "vital_statistics.births",
        minus: Some("vital_statistics.deaths"),
    },
];

/// Sums: (id, total key, part keys, Chinese statement).
const SUMS: &[(&str, &str, &[&str], &str)] = &[
    ("R-births-by-sex", "vital_statistics.births", &["vital_statistics.births_male", "vital_statistics.births_female"], "男孩 + 女孩 = 出生人数"),
    (
        "R-births-by-policy",
        "vital_statistics.births",
        &["vital_statistics.births_policy_compliant", "vital_statistics.births_policy_noncompliant"],
        "政策内 + 政策外 = 出生人数",
    ),
    ("R-floating-total", "floating_population.total", &["floating_population.inflow", "floating_population.outflow"], "流入 + 流出 = 流动人口"),
    (
        "R-procedures-total",
        "contraceptive_services.procedures_total",
        &[
            "contraceptive_services.iud_insertions",
            "contraceptive_services.female_sterilizations",
            "contraceptive_services.iud_removals",
            "contraceptive_services.pregnancy_terminations",
        ],
        "放环 + 结扎 + 取环 + 终止妊娠 = 避孕节育手术总数",
    ),
];

/// Parts not exceeding wholes: (id, part, whole, Chinese statement).
const AT_MOST: &[(&str, &str, &str, &str)] = &[
    ("R-married-wcba", "register.married_women_of_childbearing_age", "register.women_of_childbearing_age", "已婚育龄妇女 ≤ 育龄妇女"),
    ("R-wcba-population", "register.women_of_childbearing_age", "register.registered_population", "育龄妇女 ≤ 户籍总人口"),
    ("R-verified-listed", "verification_campaign.verified_persons", "verification_campaign.listed_persons", "已核查 ≤ 下发名单"),
    ("R-high-risk", "pre_pregnancy_checks.high_risk_couples", "pre_pregnancy_checks.couples_checked", "高风险夫妇 ≤ 参检夫妇"),
    ("R-gyn-findings", "reproductive_health_exams.gynecological_findings", "reproductive_health_exams.gynecological_exams", "妇科检查查出疾病 ≤ 妇科检查人数"),
    ("R-breast-findings", "reproductive_health_exams.breast_findings", "reproductive_health_exams.breast_exams", "乳腺检查查出疾病 ≤ 乳腺检查人数"),
];

/// Ratios of counts: (id, rate key, numerator, denominator, factor, Chinese name).
const RATIOS: &[(&str, &str, &str, &str, i128, &str)] = &[
    (
        "R-sex-ratio",
        "vital_statistics.sex_ratio_at_birth",
        "vital_statistics.births_male",
        "vital_statistics.births_female",
        100,
        "出生人口性别比 = 男孩 ÷ 女孩 × 100",
    ),
    (
        "R-compliance-rate",
        "vital_statistics.policy_compliance_rate_percent",
        "vital_statistics.births_policy_compliant",
        "vital_statistics.births",
        100,
        "符合政策生育率 = 政策内 ÷ 出生人数 × 100%",
    ),
];

const END_POPULATION: &str = "register.registered_population";

/// Reads the numbers of a report file: every integer or decimal value of every table, with
/// the decimals as typed. Errors: the TOML parser's message with line and column.
pub fn read_figures(text: &str) -> Result<Vec<TypedFigure>, String> {
    use toml::Spanned;
    // Every value with its span, so the decimals are read as typed (5.80 has precision 2).
    let spanned: BTreeMap<String, BTreeMap<String, Spanned<toml::Value>>> = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |s| crate::rules::line_col(text, s.start));
        format!("第{line}行第{col}列: {} (每个数应在 [节] 之下, 如 [vital_statistics])", e.message().trim())
    })?;
    let mut figures = Vec::new();
    for (section, table) in &spanned {
        for (key, v) in table {
            let span = v.span();
            let literal = text[span.clone()].trim().replace('_', "");
            let (value, precision) = match v.get_ref() {
                toml::Value::Integer(i) => (Number::int(i128::from(*i)), 0),
                toml::Value::Float(_) => match Number::parse_decimal(&literal) {
                    Some(n) => (n, literal.split_once('.').map_or(0, |(_, f)| f.len() as u32)),
                    None => continue,
                },
                _ => continue,
            };
            figures.push(TypedFigure { key: format!("{section}.{key}"), value, precision, text: literal });
        }
    }
    Ok(figures)
}

fn num(n: Number) -> String {
    n.to_string()
}

/// `[lo, hi]` of the exact values that round to `r` at `precision` decimals (half away from
/// zero), for `r > 0`: `[r − h, r + h)`.
fn rounding_bounds(r: Number, precision: u32) -> (Number, Number) {
    let h = Number::new(5, 10i128.pow(precision + 1)).expect("non-zero");
    (r.checked_sub(h).expect("small"), r.checked_add(h).expect("small"))
}

fn floor(n: Number) -> i128 {
    n.numerator().div_euclid(n.denominator())
}

/// Checks a report file's figures (see the module documentation).
///
/// Errors: text that is not TOML (with line and column).
pub fn check_report_toml(text: &str) -> Result<ReportCheck, String> {
    let figures = read_figures(text)?;
    let get = |k: &str| figures.iter().find(|f| f.key == k);
    let val = |k: &str| get(k).map(|f| f.value);
    let mut findings = Vec::new();

    for (id, total, parts, what) in SUMS {
        let (Some(t), Some(ps)) = (val(total), parts.iter().map(|p| val(p)).collect::<Option<Vec<_>>>()) else { continue };
        let sum = ps.iter().try_fold(Number::ZERO, |a, b| a.checked_add(*b)).expect("small");
        let terms = ps.iter().map(|p| num(*p)).collect::<Vec<_>>().join(" + ");
        let ok = sum == t;
        let explanation = if ok {
            String::new()
        } else if sum < t {
            format!("分项之和比总数少 {}: 可能有未分类的记录(如政策属性未填), 或某一分项抄录有误", num(t.checked_sub(sum).expect("small")))
        } else {
            format!("分项之和比总数多 {}: 某一分项或总数抄录有误, 或有记录被重复计入", num(sum.checked_sub(t).expect("small")))
        };
        findings.push(Finding {
            id: id.to_string(),
            importance: Importance::Error,
            ok,
            statement_zh: format!("{what}: {terms} = {} {} {}", num(sum), if ok { "=" } else { "≠" }, num(t)),
            explanation_zh: explanation,
        });
    }
    for (id, part, whole, what) in AT_MOST {
        let (Some(p), Some(w)) = (val(part), val(whole)) else { continue };
        let ok = p <= w;
        findings.push(Finding {
            id: id.to_string(),
            importance: Importance::Error,
            ok,
            statement_zh: format!("{what}: {} {} {}", num(p), if ok { "≤" } else { ">" }, num(w)),
            explanation_zh: if ok {
                String::new()
            } else {
                "部分多于整体: 其中一个数抄录有误, 或两数的口径(时点、地区)不同".into()
            },
        });
    }
    for (id, rate_key, n_key, d_key, factor, what) in RATIOS {
        let (Some(r), Some(n), Some(d)) = (get(rate_key), val(n_key), val(d_key)) else { continue };
        let Some(exact) = n.checked_mul(Number::int(*factor)).ok().and_then(|x| x.checked_div(d).ok()) else { continue };
        let printed = exact.rounded(r.precision);
        let ok = printed == r.text;
        let explanation = if ok {
            format!("精确值 {} 按 {} 位小数四舍五入为 {printed}", exact.rounded(r.precision + 4), r.precision)
        } else {
            // Which numerators would give the printed value with this denominator?
            let (lo, hi) = rounding_bounds(r.value, r.precision);
            let f = Number::int(*factor);
            let n_lo = lo.checked_mul(d).and_then(|x| x.checked_div(f)).expect("small");
            let n_hi = hi.checked_mul(d).and_then(|x| x.checked_div(f)).expect("small");
            let first = if n_lo.is_integer() { floor(n_lo) } else { floor(n_lo) + 1 };
            let last = if n_hi.is_integer() { floor(n_hi) - 1 } else { floor(n_hi) };
            let fits = if first <= last {
                format!("分母 {} 不变时, 分子应在 {first} 至 {last} 之间", num(d))
            } else {
                format!("分母 {} 不变时, 没有整数分子能得到 {}", num(d), r.text)
            };
            format!("按定义计算为 {printed}, 与印出的 {} 不符; {fits}", r.text)
        };
        findings.push(Finding {
            id: id.to_string(),
            importance: Importance::Error,
            ok,
            statement_zh: format!("{what}: {} × {factor} ÷ {} = {} (印出 {})", num(n), num(d), exact.rounded(r.precision), r.text),
            explanation_zh: explanation,
        });
    }

    // Population rates.
    let end = val(END_POPULATION);
    let mut lo_all: Option<Number> = None; // exclusive
    let mut hi_all: Option<Number> = None; // inclusive
    let mut pending: Vec<(usize, String)> = Vec::new();
    let mut rate_names: Vec<&str> = Vec::new();
    for pr in POP_RATES {
        let (Some(r), Some(plus)) = (get(pr.file_key), val(pr.plus)) else { continue };
        let minus = match pr.minus {
            Some(m) => match val(m) {
                Some(v) => v,
                None => continue,
            },
            None => Number::ZERO,
        };
        let n = plus.checked_sub(minus).expect("small");
        let events = match pr.minus {
            Some(_) => format!("({} − {})", num(plus), num(minus)),
            None => num(plus),
        };
        let thousand = Number::int(1000);
        let with_end = end.and_then(|e| n.checked_mul(thousand).ok()?.checked_div(e).ok());
        let end_text = with_end.map(|x| x.rounded(r.precision));
        if n <= Number::ZERO || r.value <= Number::ZERO {
            continue;
        }
        // The denominators A with N·1000/A in [r − h, r + h): A in (a_lo, a_hi]. Every rate of
        // the report shares one denominator, so every rate narrows the common interval.
        let (r_lo, r_hi) = rounding_bounds(r.value, r.precision);
        let nk = n.checked_mul(thousand).expect("small");
        let a_lo = nk.checked_div(r_hi).expect("r_hi > 0"); // exclusive
        let a_hi = if r_lo > Number::ZERO { Some(nk.checked_div(r_lo).expect("r_lo > 0")) } else { None }; // inclusive
        lo_all = Some(lo_all.map_or(a_lo, |x| x.max(a_lo)));
        if let Some(h) = a_hi {
            hi_all = Some(hi_all.map_or(h, |x| x.min(h)));
        }
        rate_names.push(pr.name);
        if end_text.as_deref() == Some(r.text.as_str()) {
            findings.push(Finding {
                id: format!("R-rate-{}", pr.key),
                importance: Importance::Warning,
                ok: true,
                statement_zh: format!(
                    "{}: {events} × 1000 ÷ 户籍总人口 {} = {}‰ (印出 {}‰)",
                    pr.name,
                    num(end.expect("some")),
                    end_text.clone().unwrap_or_default(),
                    r.text
                ),
                explanation_zh: "以期末户籍人口为分母即可得到印出的数".into(),
            });
            continue;
        }
        // Averages S/2 in (a_lo, a_hi].
        let s_min = floor(a_lo.checked_mul(Number::int(2)).expect("small")) + 1;
        let own = match a_hi {
            Some(h) => {
                let s_max = floor(h.checked_mul(Number::int(2)).expect("small"));
                format!("单看此率, 分母(平均人口)应在 {} 至 {} 之间", num(Number::new(s_min, 2).expect("2")), num(Number::new(s_max, 2).expect("2")))
            }
            None => format!("单看此率, 分母应大于 {}", a_lo.rounded(2)),
        };
        let statement = match (end, end_text) {
            (Some(e), Some(t)) => format!("{}: {events} × 1000 ÷ 户籍总人口 {} = {t}‰, 与印出的 {}‰ 不符", pr.name, num(e), r.text),
            _ => format!("{}: 印出 {}‰, 报表没有户籍总人口", pr.name, r.text),
        };
        findings.push(Finding { id: format!("R-rate-{}", pr.key), importance: Importance::Warning, ok: false, statement_zh: statement, explanation_zh: own });
        pending.push((findings.len() - 1, pr.name.to_string()));
    }
    let (mut average_population, mut start_population) = (None, None);
    if let (Some(lo), false) = (lo_all, pending.is_empty()) {
        let s_min = floor(lo.checked_mul(Number::int(2)).expect("small")) + 1;
        let s_max = hi_all.map(|h| floor(h.checked_mul(Number::int(2)).expect("small")));
        let names = rate_names.join("、");
        match s_max {
            Some(s_max) if s_min <= s_max => {
                let avg = Range { min: Number::new(s_min, 2).expect("2"), max: Number::new(s_max, 2).expect("2") };
                average_population = Some(avg);
                let mut text = format!(
                    "{names}都按平均人口 = (期初人口 + 期末人口) ÷ 2 (国家统计局口径) 计算时才能同时成立: 平均人口应在 {} 至 {} 之间",
                    num(avg.min),
                    num(avg.max)
                );
                if let Some(e) = end {
                    let st = Range { min: Number::int(s_min).checked_sub(e).expect("small"), max: Number::int(s_max).checked_sub(e).expect("small") };
                    start_population = Some(st);
                    text.push_str(&format!(", 即期初人口在 {} 至 {} 之间 (期末户籍人口 {})", num(st.min), num(st.max), num(e)));
                }
                text.push_str("; 报表应注明分母与期初人口");
                for (i, _) in &pending {
                    let f = &mut findings[*i];
                    f.explanation_zh = format!("{}; {text}", f.explanation_zh);
                }
            }
            _ => {
                findings.push(Finding {
                    id: "R-rates-common-denominator".into(),
                    importance: Importance::Error,
                    ok: false,
                    statement_zh: format!("{names}没有共同的分母: 不存在同时符合各率的平均人口"),
                    explanation_zh: "至少一个比率或事件数抄录有误, 或各率用了不同的分母".into(),
                });
            }
        }
    }
    Ok(ReportCheck { figures, findings, average_population, start_population })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed report (shared/reference/seed-report.toml, copied into tests/data).
    const SEED: &str = include_str!("../tests/data/seed-report.toml");

    fn finding<'a>(c: &'a ReportCheck, id: &str) -> &'a Finding {
        c.findings.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("{id}: {:#?}", c.findings))
    }

    #[test]
    fn reads_decimals_as_typed() {
        let f = read_figures("[a]\nx = 5.80\ny = 12\nz = \"text\"\n").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].key.as_str(), f[0].precision, f[0].text.as_str()), ("a.x", 2, "5.80"));
        assert_eq!(f[0].value, Number::new(29, 5).unwrap());
        assert_eq!((f[1].precision, f[1].value), (0, Number::int(12)));
        assert!(read_figures("[a\nx = 1").unwrap_err().starts_with("第1行"));
    }

    #[test]
    fn seed_death_rate_is_explained_by_the_average_population() {
        let c = check_report_toml(SEED).unwrap();
        let d = finding(&c, "R-rate-crude_death_rate");
        assert!(!d.ok);
        assert_eq!(d.statement_zh, "死亡率: 178 × 1000 ÷ 户籍总人口 30317 = 5.87‰, 与印出的 5.88‰ 不符");
        // 178000/5.885 = 30246.39… (exclusive), 178000/5.875 = 30297.87…: averages 30246.5 … 30297.5.
        assert!(d.explanation_zh.starts_with("单看此率, 分母(平均人口)应在 30246.5 至 30297.5 之间"), "{}", d.explanation_zh);
        assert!(d.explanation_zh.contains("平均人口应在 30246.5 至 30297 之间, 即期初人口在 30176 至 30277 之间"), "{}", d.explanation_zh);
        assert_eq!(c.average_population, Some(Range { min: Number::new(60493, 2).unwrap(), max: Number::int(30297) }));
        assert_eq!(c.start_population, Some(Range { min: Number::int(30176), max: Number::int(30277) }));
        // 158000/5.215 = 30297.2…: the natural growth rate gives the upper bound 30297.
        let g = finding(&c, "R-rate-natural_growth_rate");
        assert!(g.explanation_zh.starts_with("单看此率, 分母(平均人口)应在 30239.5 至 30297 之间"), "{}", g.explanation_zh);
        // 336/30317 = 11.08‰ → 11.1: the birth rate works with the end population too.
        assert!(finding(&c, "R-rate-crude_birth_rate").ok);
    }

    #[test]
    fn seed_sums_and_ratios_hold() {
        let c = check_report_toml(SEED).unwrap();
        for id in ["R-births-by-sex", "R-births-by-policy", "R-floating-total", "R-married-wcba", "R-wcba-population", "R-sex-ratio", "R-compliance-rate"] {
            assert!(finding(&c, id).ok, "{id}: {:?}", finding(&c, id));
        }
        assert_eq!(finding(&c, "R-births-by-sex").statement_zh, "男孩 + 女孩 = 出生人数: 167 + 169 = 336 = 336");
        assert_eq!(finding(&c, "R-sex-ratio").statement_zh, "出生人口性别比 = 男孩 ÷ 女孩 × 100: 167 × 100 ÷ 169 = 98.8 (印出 98.8)");
        assert_eq!(c.problems().count(), 2, "{:#?}", c.problems().collect::<Vec<_>>());
    }

    #[test]
    fn broken_sums_and_ratios_are_explained() {
        let text = SEED
            .replace("births_female = 169", "births_female = 168")
            .replace("outflow = 1805", "outflow = 1806")
            .replace("births_policy_noncompliant = 50", "births_policy_noncompliant = 48");
        let c = check_report_toml(&text).unwrap();
        let s = finding(&c, "R-births-by-sex");
        assert!(!s.ok);
        assert_eq!(s.statement_zh, "男孩 + 女孩 = 出生人数: 167 + 168 = 335 ≠ 336");
        assert!(finding(&c, "R-births-by-policy").explanation_zh.starts_with("分项之和比总数少 2"));
        assert!(finding(&c, "R-floating-total").explanation_zh.starts_with("分项之和比总数多 1"));
        // 167/168 × 100 = 99.40 ≠ 98.8; with 168 girls, 98.75 ≤ 100·m/168 < 98.85 needs m = 166.
        let r = finding(&c, "R-sex-ratio");
        assert!(!r.ok);
        assert_eq!(r.explanation_zh, "按定义计算为 99.4, 与印出的 98.8 不符; 分母 168 不变时, 分子应在 166 至 166 之间");
        let text = SEED.replace("sex_ratio_at_birth = 98.8", "sex_ratio_at_birth = 98.2");
        let r = check_report_toml(&text).unwrap();
        // 98.15 ≤ 100·m/169 < 98.25: m = 166.
        assert_eq!(finding(&r, "R-sex-ratio").explanation_zh, "按定义计算为 98.8, 与印出的 98.2 不符; 分母 169 不变时, 分子应在 166 至 166 之间");
    }

    #[test]
    fn rates_with_no_common_denominator_are_an_error() {
        let text = SEED.replace("crude_birth_rate_permille = 11.1", "crude_birth_rate_permille = 12.1");
        let c = check_report_toml(&text).unwrap();
        let f = finding(&c, "R-rates-common-denominator");
        assert!(!f.ok && f.importance == Importance::Error);
        assert_eq!(c.average_population, None);
    }
}
