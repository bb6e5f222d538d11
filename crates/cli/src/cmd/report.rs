//! `renkou report`: the period statistics of an area, as a Chinese table, JSON, CSV or XLSX,
//! or (with `--explain KEY`) the records behind one figure.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use renkou_app::auth::Caller;
use renkou_app::export::{report_csv, report_json, report_xlsx, DENOMINATOR_NOTE, ROUNDING_NOTE};
use renkou_app::gate::Purpose;
use renkou_app::report::{self, Report};
use renkou_core::stats::definition;

use crate::cli::{Format, ReportArgs};

pub fn run(a: ReportArgs) -> anyhow::Result<ExitCode> {
    if !a.db.exists() {
        bail!("数据库文件不存在 (database file not found): {}; 先运行 renkou demo 或 renkou import", a.db.display());
    }
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = super::db::open_read(&a.db).await?;
        let area = report::resolve_area(&store, &a.area).await?;
        // The operator of the machine acts on the area asked for (ARCHITECTURE.md: the gate).
        let operator = Caller::operator(area.code.clone());
        let period = report::period(a.from, a.to)?;
        if period.last >= super::today() {
            eprintln!(
                "注意: 期间截至 {} 尚未结束, 期末数字只反映目前已登记的记录 (the period has not ended yet; end-of-period figures reflect what is registered so far)",
                period.last
            );
        }
        if let Some(key) = &a.explain {
            let purpose = if a.unmask { Purpose::OperatorExport } else { Purpose::List };
            let rows = report::explain_for(&store, &operator, key, &area.code, &period, purpose, chrono::Utc::now()).await?;
            print_explain(key, &area.name, &period, &rows, a.format, a.output.as_deref())?;
            return Ok(ExitCode::SUCCESS);
        }
        let r = report::build(&store, &operator, &area.code, &period).await?;
        match a.format {
            Format::Table => print_table(&r),
            Format::Json => println!("{}", serde_json::to_string_pretty(&report_json(&r))?),
            Format::Csv => write_out(a.output.as_deref(), &report_csv(&r)?)?,
            Format::Xlsx => {
                let Some(out) = a.output.as_deref() else {
                    bail!("xlsx 格式需要 --output 文件名 (xlsx needs --output FILE)");
                };
                write_out(Some(out), &report_xlsx(&r)?)?;
                eprintln!("已写入 (written): {}", out.display());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Opens `db` and prints the table report of `area` for `from..=to` (used by `renkou demo --report`).
pub fn print_township_report(db: &Path, area: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> anyhow::Result<()> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = super::db::open_read(db).await?;
        let area = report::resolve_area(&store, area).await?;
        let r = report::build(&store, &Caller::operator(area.code.clone()), &area.code, &report::period(from, to)?).await?;
        print_table(&r);
        Ok(())
    })
}

fn write_out(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(p) => std::fs::write(p, bytes).with_context(|| format!("写入 {} 失败 (cannot write)", p.display())),
        None => Ok(std::io::stdout().write_all(bytes)?),
    }
}

fn rounded(r: &renkou_core::stats::Figures, key: &str) -> String {
    r.get(key).and_then(|f| f.rounded.clone()).unwrap_or_else(|| "—".into())
}

/// The Chinese table: the figures of the whole area, then one row per child area.
fn print_table(r: &Report) {
    println!("{} ({}) 人口统计报表", r.area.name, r.area.code);
    println!("地区: {}", r.area_path);
    println!("期间: {} 至 {} ({} 天)", r.period.first, r.period.last, r.period.days());
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec!["指标", "数值", "单位", "代码"]);
    for fig in &r.total.figures {
        let d = definition(fig.key).expect("known key");
        t.add_row(vec![
            Cell::new(d.name_zh),
            Cell::new(fig.rounded.clone().unwrap_or_else(|| "—".into())).set_alignment(CellAlignment::Right),
            Cell::new(d.unit.suffix()),
            Cell::new(d.key),
        ]);
    }
    println!("{t}");
    if !r.children.is_empty() {
        let cols = [
            "population_end",
            "population_average",
            "births",
            "deaths",
            "crude_birth_rate",
            "crude_death_rate",
            "natural_growth_rate",
            "sex_ratio_at_birth",
            "women_of_childbearing_age",
            "married_women_of_childbearing_age",
            "floating_inflow",
            "floating_outflow",
        ];
        let mut v = Table::new();
        let mut head = vec!["代码".to_string(), "名称".to_string()];
        head.extend(cols.iter().map(|k| {
            let d = definition(k).expect("known key");
            match d.unit.suffix() {
                "" | "人" => d.name_zh.to_string(),
                s => format!("{}{s}", d.name_zh),
            }
        }));
        v.load_preset(UTF8_FULL_CONDENSED).set_header(head);
        for c in &r.children {
            let mut row = vec![Cell::new(c.area.code.as_str()), Cell::new(&c.area.name)];
            row.extend(cols.iter().map(|k| Cell::new(rounded(&c.figures, k)).set_alignment(CellAlignment::Right)));
            v.add_row(row);
        }
        println!("分{}统计:", r.children.first().map(|c| c.area.code.level().name_zh()).unwrap_or(""));
        println!("{v}");
    }
    println!("注: {DENOMINATOR_NOTE}");
    println!("注: {ROUNDING_NOTE}");
}

fn print_explain(
    key: &str,
    area: &str,
    period: &renkou_core::period::Period,
    rows: &[renkou_store::ExplainRow],
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let name = definition(key).map(|d| d.name_zh).unwrap_or(key);
    match format {
        Format::Json => write_out(output, format!("{}\n", serde_json::to_string_pretty(rows)?).as_bytes())?,
        Format::Csv => {
            // BOM and text-safe cells, like every CSV export (Excel on Chinese Windows).
            let csv = renkou_app::export::text_csv(&EXPLAIN_HEADER, rows.iter().map(explain_cells))?;
            write_out(output, &csv)?;
        }
        Format::Table | Format::Xlsx => {
            println!("{area} {name} ({key}) 的记录, 期间 {} 至 {}: 共 {} 条", period.first, period.last, rows.len());
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header(EXPLAIN_HEADER);
            for r in rows {
                t.add_row(explain_cells(r));
            }
            println!("{t}");
        }
    }
    Ok(())
}

const EXPLAIN_HEADER: [&str; 8] = ["人员编号", "公民身份号码", "姓名", "性别", "出生日期", "地区代码", "日期", "说明"];

/// One record of an explain list, as the cells under [`EXPLAIN_HEADER`].
fn explain_cells(r: &renkou_store::ExplainRow) -> Vec<String> {
    vec![
        r.person_id.to_string(),
        r.citizen_id.clone().unwrap_or_default(),
        r.name.clone(),
        sex_zh(r.sex).to_string(),
        r.birth_date.to_string(),
        r.area_code.clone(),
        r.date.map(|d| d.to_string()).unwrap_or_default(),
        detail_zh(r.detail.as_deref()),
    ]
}

fn sex_zh(sex: renkou_core::Sex) -> &'static str {
    sex.name_zh()
}

/// Translates the store's detail codes (`compliant 2`, `inflow`) for people.
fn detail_zh(detail: Option<&str>) -> String {
    let Some(d) = detail else { return String::new() };
    d.split(' ')
        .map(|w| {
            renkou_core::register::PolicyClass::from_code(w)
                .map(|p| p.name_zh().to_string())
                .or_else(|| renkou_core::register::ResidenceKind::from_code(w).map(|k| k.name_zh().to_string()))
                .or_else(|| w.parse::<u8>().ok().map(|n| format!("第{n}孩")))
                .unwrap_or_else(|| w.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}
