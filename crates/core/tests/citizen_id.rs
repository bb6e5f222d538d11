//! Citizen identity numbers (GB 11643-1999): the reference vectors of
//! `tests/data/citizen-ids.toml` (copied from the project's `reference/citizen-ids.toml`) and
//! property tests of the MOD 11-2 check character (ISO 7064:1983).

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use renkou_core::citizen_id::{check_char, CitizenId, CitizenIdError};
use renkou_core::Sex;
use serde::Deserialize;

/// The reference date of the vectors ("today" for the not-in-the-future check).
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

#[derive(Debug, Deserialize)]
struct Vectors {
    id: Vec<Vector>,
}

/// One `[[id]]` entry of the reference file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    number: String,
    verdict: String,
    sex: Option<String>,
    birth_date: Option<NaiveDate>,
    normalized: Option<String>,
    upgraded: Option<String>,
    legacy_15: Option<bool>,
    #[allow(dead_code)]
    note: Option<String>,
    source: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("data/citizen-ids.toml");
    toml::from_str::<Vectors>(text).expect("tests/data/citizen-ids.toml parses").id
}

#[test]
fn every_reference_vector_gets_its_verdict() {
    let vectors = vectors();
    assert!(vectors.len() >= 18, "the reference file has 18 vectors, read {}", vectors.len());
    for v in &vectors {
        let what = format!("{} ({}, {})", v.number, v.verdict, v.source);
        let result = CitizenId::parse(&v.number, today());
        match v.verdict.as_str() {
            // The area check is the app's concern (tests/areas.rs of renkou-app): here both
            // verdicts mean "the number itself is valid".
            "valid" | "valid-warn-area" => {
                let parsed = result.unwrap_or_else(|e| panic!("{what}: rejected: {e}"));
                let id = &parsed.id;
                if let Some(sex) = &v.sex {
                    let expected = match sex.as_str() {
                        "male" => Sex::Male,
                        "female" => Sex::Female,
                        other => panic!("{what}: unknown sex {other:?} in the reference file"),
                    };
                    assert_eq!(id.sex(), expected, "{what}: sex");
                }
                if let Some(date) = v.birth_date {
                    assert_eq!(id.birth_date(), date, "{what}: birth date");
                }
                if let Some(normalized) = &v.normalized {
                    assert_eq!(id.as_str(), normalized, "{what}: normalized form");
                }
                if let Some(upgraded) = &v.upgraded {
                    assert!(parsed.legacy_15, "{what}: should be read as a 15-digit legacy number");
                    assert_eq!(id.as_str(), upgraded, "{what}: 15 → 18 upgrade");
                }
                assert_eq!(parsed.legacy_15, v.legacy_15.unwrap_or(false), "{what}: legacy_15");
                assert_eq!(id.as_str().len(), 18, "{what}");
                assert_eq!(id.address_code(), &v.number[..6], "{what}: address code");
            }
            verdict => {
                let part = verdict.strip_prefix("invalid-").unwrap_or_else(|| panic!("{what}: unknown verdict in the reference file"));
                match result {
                    Ok(p) => panic!("{what}: accepted as {}", p.id),
                    Err(e) => assert_eq!(e.part(), part, "{what}: wrong part ({e})"),
                }
            }
        }
    }
}

#[test]
fn errors_carry_the_details() {
    // 36042619910102009X: the right check character is 3 (research notes §1.5).
    assert_eq!(CitizenId::parse("36042619910102009X", today()), Err(CitizenIdError::Checksum { expected: '3', found: 'X' }));
    assert_eq!(CitizenId::parse("T60426199101010078", today()), Err(CitizenIdError::Format { position: 1, found: 'T' }));
    assert_eq!(CitizenId::parse("44030819990110", today()), Err(CitizenIdError::Length(14)));
    assert_eq!(CitizenId::parse("360426199113010079", today()), Err(CitizenIdError::Date("19911301".into())));
    // 2026-11-30 is one day after the reference date; its check character is computed here.
    let first17 = b"13013120261130001";
    let tomorrow = format!("{}{}", std::str::from_utf8(first17).unwrap(), check_char(first17));
    assert_eq!(CitizenId::parse(&tomorrow, today()), Err(CitizenIdError::FutureDate { birth: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(), today: today() }));
    // Born on the reference date itself is fine.
    let first17 = b"13013120261129001";
    let born_today = format!("{}{}", std::str::from_utf8(first17).unwrap(), check_char(first17));
    assert!(CitizenId::parse(&born_today, today()).is_ok());
}

#[test]
fn surrounding_whitespace_is_ignored_but_inner_is_not() {
    assert_eq!(CitizenId::parse(" 130131195803010010\t", today()).unwrap().id.as_str(), "130131195803010010");
    assert_eq!(CitizenId::parse("130131 195803010010", today()).unwrap_err().part(), "length");
}

#[test]
fn hebei_legacy_number_upgrades() {
    // Research notes §1.2: 130131580301001 → 130131195803010010.
    let p = CitizenId::parse("130131580301001", today()).unwrap();
    assert!(p.legacy_15);
    assert_eq!(p.id.as_str(), "130131195803010010");
    assert_eq!(p.id.masked(), "130131********0010");
}

/// A 6-digit address code, a birth date between 1900-01-01 and the reference date, a sequence.
fn parts() -> impl Strategy<Value = (String, NaiveDate, u16)> {
    let start = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    let span = (today() - start).num_days() as u64;
    ("[1-9][0-9]{5}", 0..=span, 0u16..=999).prop_map(move |(address, days, seq)| (address, start + Days::new(days), seq))
}

/// Characters allowed at 1-based `position`: digits, and `X` at position 18.
fn allowed(position: usize) -> Vec<char> {
    let mut chars: Vec<char> = ('0'..='9').collect();
    if position == 18 {
        chars.push('X');
    }
    chars
}

proptest! {
    #[test]
    fn from_parts_parses_back_to_itself((address, birth, seq) in parts()) {
        let id = CitizenId::from_parts(&address, birth, seq).unwrap();
        let parsed = CitizenId::parse(id.as_str(), today()).unwrap();
        prop_assert!(!parsed.legacy_15);
        prop_assert_eq!(&parsed.id, &id);
        prop_assert_eq!(parsed.id.birth_date(), birth);
        prop_assert_eq!(parsed.id.sequence(), seq);
        prop_assert_eq!(parsed.id.address_code(), address.as_str());
        // GB 11643-1999 §6.3: odd sequence = male.
        prop_assert_eq!(parsed.id.sex(), if seq % 2 == 1 { Sex::Male } else { Sex::Female });
    }

    #[test]
    fn any_single_character_change_is_rejected(
        (address, birth, seq) in parts(),
        position in 1usize..=18,
        pick in 0usize..10,
    ) {
        let id = CitizenId::from_parts(&address, birth, seq).unwrap();
        let mut chars: Vec<char> = id.as_str().chars().collect();
        let original = chars[position - 1];
        let others: Vec<char> = allowed(position).into_iter().filter(|&c| c != original).collect();
        chars[position - 1] = others[pick % others.len()];
        let changed: String = chars.iter().collect();
        let err = CitizenId::parse(&changed, today());
        prop_assert!(err.is_err(), "{} (from {}) was accepted", changed, id);
        let part = err.unwrap_err().part();
        // A changed date digit may also make the date impossible or future; anything else is
        // caught by the check character (MOD 11-2 detects every single substitution).
        if (7..=14).contains(&position) {
            prop_assert!(part == "date" || part == "checksum", "{}: {}", changed, part);
        } else {
            prop_assert_eq!(part, "checksum", "{}", changed);
        }
    }

    #[test]
    fn lower_case_x_is_accepted((address, birth, seq) in parts()) {
        // Walk the sequence numbers from `seq` until the check character is X (1 in 11).
        let id = (0..1000u16)
            .map(|i| CitizenId::from_parts(&address, birth, (seq + i) % 1000).unwrap())
            .find(|id| id.as_str().ends_with('X'))
            .expect("some sequence gives X");
        let lower = id.as_str().to_ascii_lowercase();
        let parsed = CitizenId::parse(&lower, today()).unwrap();
        prop_assert_eq!(parsed.id.as_str(), id.as_str());
    }

    #[test]
    fn legacy_15_digit_numbers_upgrade_to_the_18_digit_number(
        (address, days, seq) in ("[1-9][0-9]{5}", 0u64..36524, 0u16..=999),
    ) {
        // Births 1900-01-01 … 1999-12-31: the century a 15-digit number implies.
        let birth = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + Days::new(days);
        let id = CitizenId::from_parts(&address, birth, seq).unwrap();
        let legacy = format!("{}{}", &id.as_str()[..6], &id.as_str()[8..17]);
        let parsed = CitizenId::parse(&legacy, today()).unwrap();
        prop_assert!(parsed.legacy_15);
        prop_assert_eq!(parsed.id, id);
    }
}
#[test]
fn birth_years_before_1880_are_rejected() {
    assert_eq!(renkou_core::citizen_id::MIN_BIRTH_YEAR, 1880);
    // Check characters computed with the MOD 11-2 rule; chrono alone would accept these years.
    for n in ["130131000001010016", "130131010001010015", "130131179912310012", "130131180001010017", "130131187901010014", "130131187912310012"] {
        let first17 = &n.as_bytes()[..17];
        assert_eq!(n.chars().last(), Some(check_char(first17)), "{n}: test vector's own check character");
        let e = CitizenId::parse(n, today()).unwrap_err();
        assert_eq!(e.part(), "date", "{n}");
        assert_eq!(e.to_string(), format!("出生日期错误: {} 不是有效日期或早于1880年 (date: not a real calendar date, or before 1880)", &n[6..14]));
    }
    assert!(CitizenId::parse("130131188001010013", today()).is_ok());
    let first = NaiveDate::from_ymd_opt(1880, 1, 1).unwrap();
    assert_eq!(CitizenId::from_parts("130131", first, 1).unwrap().as_str(), "130131188001010013");
    assert!(CitizenId::from_parts("130131", first.pred_opt().unwrap(), 1).is_none());
}

/// Full-width digits and Ｘ (Chinese input methods, Excel on Chinese Windows) are the same number.
#[test]
fn full_width_numbers_are_read_as_ascii() {
    let today = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let ascii = renkou_core::CitizenId::parse("11010519491231002X", today).unwrap();
    let wide = renkou_core::CitizenId::parse("１１０１０５１９４９１２３１００２Ｘ", today).unwrap();
    assert_eq!(wide.id, ascii.id);
    assert_eq!(renkou_core::AreaCode::parse("１３０１３１２００２０１").unwrap(), renkou_core::AreaCode::parse("130131200201").unwrap());
}
