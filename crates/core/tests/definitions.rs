//! The NBS definitions against the seed report (`reference/seed-report.toml`, copied in
//! `crates/app/tests/data/` by the demo tests): the printed rates are consistent only with the
//! average population as denominator.

use renkou_core::stats::{Figures, PeriodCounts, Ratio};

fn seed_counts() -> PeriodCounts {
    // Seed: end population 30317, births 336 (167 boys, 169 girls; 286 政策内, 50 政策外),
    // deaths 178. A start population of 30223 gives the average (30223 + 30317) / 2 = 30270.
    PeriodCounts {
        population_start: 30223,
        population_end: 30317,
        births: 336,
        births_male: 167,
        births_female: 169,
        births_policy_compliant: 286,
        births_policy_noncompliant: 50,
        deaths: 178,
        ..Default::default()
    }
}

#[test]
fn death_rate_uses_average_population() {
    let f = Figures::compute(&seed_counts());
    let r = |k: &str| f.get(k).unwrap().rounded.clone().unwrap();
    assert_eq!(r("population_average"), "30270.0");
    // 178 / 30270 × 1000 = 5.8804… → 5.88 (the seed's figure)
    assert_eq!(r("crude_death_rate"), "5.88");
    // Over the end population it would be 178 / 30317 × 1000 = 5.871… → 5.87, not the seed's.
    assert_eq!(Ratio::new(178 * 1000, 30317).unwrap().rounded(2), "5.87");
    // 336 / 30270 × 1000 = 11.100… → 11.1; (336 − 178) / 30270 × 1000 = 5.2197… → 5.22
    assert_eq!(r("crude_birth_rate"), "11.1");
    assert_eq!(r("natural_growth_rate"), "5.22");
}

#[test]
fn seed_sex_ratio_and_compliance_rate() {
    let f = Figures::compute(&seed_counts());
    let r = |k: &str| f.get(k).unwrap().rounded.clone().unwrap();
    // 167 / 169 × 100 = 98.816… → 98.8 ; 286 / 336 × 100 = 85.119… → 85.12
    assert_eq!(r("sex_ratio_at_birth"), "98.8");
    assert_eq!(r("policy_compliance_rate"), "85.12");
    assert_eq!(r("births_policy_unknown"), "0");
}

#[test]
fn every_average_population_in_the_consistent_range_reproduces_the_seed_rates() {
    // research: every printed rate is consistent with an average in [30246.5, 30297],
    // i.e. a start population in [30176, 30277] with end 30317.
    for start in 30176..=30277 {
        let f = Figures::compute(&PeriodCounts { population_start: start, ..seed_counts() });
        let r = |k: &str| f.get(k).unwrap().rounded.clone().unwrap();
        assert_eq!((r("crude_birth_rate"), r("crude_death_rate"), r("natural_growth_rate")), ("11.1".into(), "5.88".into(), "5.22".into()), "start {start}");
    }
    for start in [30175, 30278] {
        let f = Figures::compute(&PeriodCounts { population_start: start, ..seed_counts() });
        let r = |k: &str| f.get(k).unwrap().rounded.clone().unwrap();
        // 30175: death rate 5.89; 30278: growth rate 5.21
        assert_ne!((r("crude_birth_rate"), r("crude_death_rate"), r("natural_growth_rate")), ("11.1".into(), "5.88".into(), "5.22".into()), "start {start}");
    }
}
