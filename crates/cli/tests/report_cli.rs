//! README's main job through the binary: `renkou demo` then `renkou report --format json|csv|xlsx`
//! for the statistical year 2013-07-01 … 2014-06-30 must give every figure of the seed report's
//! [register], [vital_statistics] and [floating_population] sections
//! (tests/data/seed-report.toml, copied from shared/reference).

use std::process::Command;

fn renkou(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_renkou")).args(args).output().expect("runs")
}

fn reference() -> toml::Table {
    toml::from_str(include_str!("data/seed-report.toml")).unwrap()
}

/// (section, reference key, report key) for every figure the demo must reproduce.
const FIGURES: &[(&str, &str, &str)] = &[
    ("register", "registered_population", "population_end"),
    ("register", "women_of_childbearing_age", "women_of_childbearing_age"),
    ("register", "married_women_of_childbearing_age", "married_women_of_childbearing_age"),
    ("vital_statistics", "births", "births"),
    ("vital_statistics", "births_policy_compliant", "births_policy_compliant"),
    ("vital_statistics", "births_policy_noncompliant", "births_policy_noncompliant"),
    ("vital_statistics", "policy_compliance_rate_percent", "policy_compliance_rate"),
    ("vital_statistics", "crude_birth_rate_permille", "crude_birth_rate"),
    ("vital_statistics", "births_male", "births_male"),
    ("vital_statistics", "births_female", "births_female"),
    ("vital_statistics", "sex_ratio_at_birth", "sex_ratio_at_birth"),
    ("vital_statistics", "deaths", "deaths"),
    ("vital_statistics", "crude_death_rate_permille", "crude_death_rate"),
    ("vital_statistics", "natural_growth_rate_permille", "natural_growth_rate"),
    ("floating_population", "total", "floating_total"),
    ("floating_population", "inflow", "floating_inflow"),
    ("floating_population", "outflow", "floating_outflow"),
];

fn expected(r: &toml::Table, section: &str, key: &str) -> f64 {
    match &r[section][key] {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        v => panic!("{section}.{key}: {v:?}"),
    }
}

#[test]
fn demo_report_json_csv_and_xlsx_give_the_seed_figures() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let out = renkou(&["demo", "--db", db]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let period = ["--area", "130131200", "--from", "2013-07-01", "--to", "2014-06-30"];

    let out = renkou(&[&["report", "--db", db, "--format", "json"][..], &period[..]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reference = reference();
    for (section, rkey, key) in FIGURES {
        let want = expected(&reference, section, rkey);
        let got: f64 = json["figures"][key]["rounded"].as_str().unwrap().parse().unwrap();
        assert_eq!(got, want, "{key} (reference {section}.{rkey})");
    }
    // Exact value beside the rounded one: 178 / 30270 × 1000.
    let exact = json["figures"]["crude_death_rate"]["exact"].as_f64().unwrap();
    assert!((exact - 178.0 * 1000.0 / 30270.0).abs() < 1e-9);
    assert_eq!(json["children"].as_array().unwrap().len(), 23);

    // CSV: the township row carries the same rounded figures.
    let out = renkou(&[&["report", "--db", db, "--format", "csv"][..], &period[..]].concat());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = rows.headers().unwrap().clone();
    let township = rows.records().next().unwrap().unwrap();
    assert_eq!(&township[0], "130131200");
    for (section, rkey, key) in FIGURES {
        let col = headers.iter().position(|h| h.ends_with(&format!(" {key}"))).unwrap();
        assert_eq!(township[col].parse::<f64>().unwrap(), expected(&reference, section, rkey), "{key}");
    }

    // XLSX needs -o and writes a workbook.
    let out = renkou(&[&["report", "--db", db, "--format", "xlsx"][..], &period[..]].concat());
    assert!(!out.status.success());
    let xlsx = dir.path().join("r.xlsx");
    let out = renkou(&[&["report", "--db", db, "--format", "xlsx", "-o", xlsx.to_str().unwrap()][..], &period[..]].concat());
    assert!(out.status.success());
    assert_eq!(&std::fs::read(&xlsx).unwrap()[..2], b"PK");
}

#[test]
fn explain_lists_as_many_records_as_the_figure_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    assert!(renkou(&["demo", "--db", db]).status.success());
    let period = ["--area", "130131200", "--from", "2013-07-01", "--to", "2014-06-30"];
    let reference = reference();
    for (key, section, rkey) in
        [("deaths", "vital_statistics", "deaths"), ("births_male", "vital_statistics", "births_male"), ("floating_inflow", "floating_population", "inflow")]
    {
        let out = renkou(&[&["report", "--db", db, "--format", "json", "--explain", key][..], &period[..]].concat());
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.len() as f64, expected(&reference, section, rkey), "{key}");
        // Masked by default.
        assert!(rows.iter().all(|r| r["citizen_id"].as_str().is_none_or(|c| c.contains("********"))));
    }
    // --output writes the list to the file (CSV with a BOM), not to the terminal.
    let file = dir.path().join("deaths.csv");
    let out = renkou(&[&["report", "--db", db, "--format", "csv", "--explain", "deaths", "-o", file.to_str().unwrap()][..], &period[..]].concat());
    assert!(out.status.success() && out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read(&file).unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(String::from_utf8_lossy(&csv).lines().count() as f64, 1.0 + expected(&reference, "vital_statistics", "deaths"));
    let out = renkou(&[&["report", "--db", db, "--explain", "no_such_figure"][..], &period[..]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_figure"));
}

#[test]
fn unknown_area_and_reversed_period_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    assert!(renkou(&["demo", "--db", db]).status.success());
    let out = renkou(&["report", "--db", db, "--area", "130131299", "--from", "2013-07-01", "--to", "2014-06-30"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("未知地区 130131299"));
    let out = renkou(&["report", "--db", db, "--area", "130131200", "--from", "2014-07-01", "--to", "2014-06-30"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("早于开始日期"));
}

/// Dates outside 1880-01-01 … 2200-12-31 are usage errors naming the flag (exit 2), never a panic
/// (`+262142-12-31` used to overflow the period arithmetic: exit 101).
#[test]
fn implausible_dates_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    assert!(renkou(&["demo", "--db", db]).status.success());
    for (flag, value, reason) in [
        ("--to", "+262142-12-31", "无法识别"),
        ("--to", "9999-12-31", "晚于2200年"),
        ("--from", "1879-12-31", "早于1880年"),
        ("--to", "2014-02-30", "不是有效日期"),
    ] {
        let (from, to) = if flag == "--to" { ("2013-07-01", value) } else { (value, "2014-06-30") };
        let out = renkou(&["report", "--db", db, "--area", "130131200", "--from", from, "--to", to]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag) && err.contains(reason), "{flag} {value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = renkou(&["check", "--db", db, "--area", "130131200", "--today", "9999-12-31"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    // Full-width digits from a Chinese input method are the same date.
    let out = renkou(&["report", "--db", db, "--area", "130131200", "--from", "２０１３－０７－０１", "--to", "2014-06-30", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
