//! `renkou id NUMBER…`: checks citizen identity numbers (GB 11643-1999) and prints, for each, the
//! verdict, the normalized 18 characters, sex, birth date and the area of the address code.
//! Exit code 1 when any number is invalid (an unknown address code is only a warning).

use std::process::ExitCode;

use comfy_table::{presets::UTF8_FULL, Table};
use renkou_app::areas::{check_citizen_ids, IdCheck, IdVerdict};
use renkou_core::Sex;
use serde::Serialize;

use crate::cli::{Format, IdArgs};

/// One number in `--format json` output.
#[derive(Debug, Serialize)]
struct IdJson<'a> {
    input: &'a str,
    valid: bool,
    /// `valid`, `valid-warn-area` or `invalid-<part>` (the names of reference/citizen-ids.toml).
    verdict: String,
    /// The reason when invalid (中文 (English)).
    error: Option<String>,
    normalized: Option<&'a str>,
    legacy_15: Option<bool>,
    /// `male` / `female`.
    sex: Option<&'static str>,
    /// ISO 8601 date.
    birth_date: Option<String>,
    address_code: Option<&'a str>,
    area_name: Option<&'a str>,
}

fn to_json(c: &IdCheck) -> IdJson<'_> {
    let id = c.parsed.as_ref().map(|p| &p.id);
    IdJson {
        input: &c.input,
        valid: !matches!(c.verdict, IdVerdict::Invalid(_)),
        verdict: c.verdict.code(),
        error: match &c.verdict {
            IdVerdict::Invalid(e) => Some(e.to_string()),
            _ => None,
        },
        normalized: id.map(|i| i.as_str()),
        legacy_15: c.parsed.as_ref().map(|p| p.legacy_15),
        sex: id.map(|i| match i.sex() {
            Sex::Male => "male",
            Sex::Female => "female",
        }),
        birth_date: id.map(|i| i.birth_date().to_string()),
        address_code: id.map(|i| i.address_code()),
        area_name: c.area_name.as_deref(),
    }
}

/// Runs `renkou id`.
pub fn run(args: IdArgs) -> anyhow::Result<ExitCode> {
    if !matches!(args.format, Format::Table | Format::Json) {
        anyhow::bail!("renkou id 只支持 --format table 或 json (only table and json output)");
    }
    let today = args.today.unwrap_or_else(super::today);
    let rt = super::runtime()?;
    let checks = rt.block_on(async {
        let store = match &args.db {
            Some(path) => Some(super::db::open_read(path).await?),
            None => None,
        };
        anyhow::Ok(check_citizen_ids(store.as_ref(), &args.numbers, today).await?)
    })?;

    match args.format {
        Format::Json => {
            let rows: Vec<IdJson> = checks.iter().map(to_json).collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        _ => {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL).set_header(["输入", "结论", "18位号码", "性别", "出生日期", "地区"]);
            for c in &checks {
                let id = c.parsed.as_ref().map(|p| &p.id);
                let normalized = match &c.parsed {
                    Some(p) if p.legacy_15 => format!("{} (15位升级)", p.id),
                    Some(p) => p.id.to_string(),
                    None => String::new(),
                };
                let area = match (id, &c.area_name) {
                    (_, Some(name)) => name.clone(),
                    (Some(i), None) => format!("{} (未知)", i.address_code()),
                    (None, None) => String::new(),
                };
                table.add_row([
                    c.input.clone(),
                    c.verdict.label_zh(),
                    normalized,
                    id.map(|i| if i.sex() == Sex::Male { "男" } else { "女" }.to_string()).unwrap_or_default(),
                    id.map(|i| i.birth_date().to_string()).unwrap_or_default(),
                    area,
                ]);
            }
            println!("{table}");
        }
    }
    let any_invalid = checks.iter().any(|c| matches!(c.verdict, IdVerdict::Invalid(_)));
    Ok(if any_invalid { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
