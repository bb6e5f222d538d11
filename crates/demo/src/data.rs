//! The generator's data files (crates/demo/data), parsed once. Each file names its source.

use serde::Deserialize;

/// Surname table: `data/surnames.csv`.
const SURNAMES_CSV: &str = include_str!("../data/surnames.csv");
/// Given names by sex and cohort: `data/given_names.toml`.
const GIVEN_NAMES_TOML: &str = include_str!("../data/given_names.toml");
/// Origin counties of brides and inflow persons: `data/origins.toml`.
const ORIGINS_TOML: &str = include_str!("../data/origins.toml");
/// Age-sex pyramid: `data/pyramid.toml`.
const PYRAMID_TOML: &str = include_str!("../data/pyramid.toml");

/// Given names: one list per sex and cohort (old < 1960 ≤ mid < 1990 ≤ young).
#[derive(Debug, Deserialize)]
pub(crate) struct GivenNames {
    pub male_old: Vec<String>,
    pub female_old: Vec<String>,
    pub male_mid: Vec<String>,
    pub female_mid: Vec<String>,
    pub male_young: Vec<String>,
    pub female_young: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct OriginsFile {
    hebei: Vec<(String, String, u32)>,
    other: Vec<(String, String, u32)>,
}

#[derive(Debug, Deserialize)]
struct PyramidFile {
    groups: Vec<(u32, f64, f64)>,
}

/// All tables.
pub(crate) struct Tables {
    /// Surnames and their relative weights.
    pub surnames: Vec<String>,
    pub surname_weights: Vec<f64>,
    pub given: GivenNames,
    /// Address codes of other Hebei counties, with weights.
    pub hebei: Vec<String>,
    pub hebei_weights: Vec<f64>,
    /// Address codes of counties in other provinces, with weights.
    pub other: Vec<String>,
    pub other_weights: Vec<f64>,
    /// Weight of each single year of age 0..=95, per sex: `[male, female]`.
    pub pyramid: Vec<[f64; 2]>,
}

impl Tables {
    /// Parses the bundled files; panics with the file name on a malformed file (they are part
    /// of the crate and covered by its tests).
    pub(crate) fn load() -> Tables {
        let mut surnames = Vec::new();
        let mut surname_weights = Vec::new();
        for line in SURNAMES_CSV.lines() {
            if line.starts_with('#') || line.starts_with("surname") || line.trim().is_empty() {
                continue;
            }
            let (s, w) = line.split_once(',').expect("surnames.csv: surname,share_percent");
            surnames.push(s.to_string());
            surname_weights.push(w.trim().parse::<f64>().expect("surnames.csv: share is a number"));
        }
        let given: GivenNames = toml::from_str(GIVEN_NAMES_TOML).expect("given_names.toml");
        let origins: OriginsFile = toml::from_str(ORIGINS_TOML).expect("origins.toml");
        let pyr: PyramidFile = toml::from_str(PYRAMID_TOML).expect("pyramid.toml");
        let mut pyramid = vec![[0.0; 2]; 96];
        for (i, (from, m, f)) in pyr.groups.iter().enumerate() {
            let to = pyr.groups.get(i + 1).map_or(95, |g| g.0 - 1);
            let n = f64::from(to - from + 1);
            for a in *from..=to {
                // The open top group thins out with age.
                let fade = if a > 85 { 1.0 - f64::from(a - 85) / 12.0 } else { 1.0 };
                pyramid[a as usize] = [m / n * fade, f / n * fade];
            }
        }
        let split = |v: Vec<(String, String, u32)>| -> (Vec<String>, Vec<f64>) { v.into_iter().map(|(c, _, w)| (c, f64::from(w))).unzip() };
        let (hebei, hebei_weights) = split(origins.hebei);
        let (other, other_weights) = split(origins.other);
        Tables { surnames, surname_weights, given, hebei, hebei_weights, other, other_weights, pyramid }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_with_their_real_content() {
        let t = Tables::load();
        assert_eq!(&t.surnames[..4], ["王", "李", "张", "刘"]);
        assert_eq!(t.surname_weights[0], 7.25);
        assert_eq!(t.surnames.len(), t.surname_weights.len());
        assert!(t.hebei.contains(&"130126".to_string()));
        assert!(t.other.iter().all(|c| c.len() == 6 && !c.starts_with("13")));
        assert_eq!(t.pyramid.len(), 96);
        // The bulge at 40–49 is wider than the base at 0–4 (women).
        assert!(t.pyramid[45][1] > t.pyramid[2][1] * 1.5);
        assert!(t.given.female_young.contains(&"梓涵".to_string()));
    }
}
