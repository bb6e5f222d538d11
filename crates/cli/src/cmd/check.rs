//! `renkou check`: the logic checks of an area (violations grouped by village and rule, counts
//! and scores per village; exit code 1 when any error-level violation exists) with the built-in
//! catalogue plus the user rules saved for the area at /check/rules (or instead those of
//! `--rules FILE`), `--list-rules`,
//! and `--report-file` (the internal consistency of figures typed in from a printed report).

use std::process::ExitCode;

use anyhow::{bail, Context};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use renkou_app::check::{self, CheckReport, CheckRequest, SCORE_NOTE};
use renkou_core::rules::catalogue::{Catalogue, CheckBody};
use renkou_core::rules::Scope;

use crate::cli::{CheckArgs, Format};

pub fn run(a: CheckArgs) -> anyhow::Result<ExitCode> {
    // --rules FILE replaces the user rules saved in the database (web page /check/rules).
    let file_catalogue = match &a.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("无法读取规则文件 {} (cannot read)", path.display()))?;
            Some(check::catalogue_with_user_rules(&path.display().to_string(), &text)?)
        }
        None => None,
    };
    if a.list_rules && (file_catalogue.is_some() || !a.db.exists()) {
        list_rules(file_catalogue.as_ref().unwrap_or(Catalogue::builtin()));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &a.report_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("无法读取报表文件 {} (cannot read)", path.display()))?;
        return report_file(&path.display().to_string(), &text, a.format);
    }
    if !a.db.exists() {
        bail!("数据库文件不存在 (database file not found): {}; 先运行 renkou demo 或 renkou import", a.db.display());
    }
    let today = a.today.unwrap_or_else(super::today);
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = super::db::open_read(&a.db).await?;
        let area = match &a.area {
            Some(code) => Some(renkou_app::report::resolve_area(&store, code).await?.code),
            None => renkou_app::auth::default_admin_area(&store).await?,
        };
        // The built-in checks plus the rules file, or else the user rules saved for the area.
        let mut note = None;
        let active;
        let catalogue: &Catalogue = match (&file_catalogue, &area) {
            (Some(c), _) => c,
            (None, Some(area)) => {
                active = check::active_rules(&store, area).await?;
                if let Some(p) = &active.problem {
                    bail!("数据库中保存的自定义规则有误, 未运行 (stored user rules refused); 请在网页“逻辑校验 → 编辑自定义规则”改正, 或用 --rules 指定规则文件:\n{p}");
                }
                if let Some(d) = &active.document {
                    note = Some(format!("另加自定义规则 {} 条 ({} 第{}版, {} 于 {} 保存)", active.user_rules, d.area_code, d.version, d.saved_by, d.saved_at));
                }
                &active.catalogue
            }
            (None, None) => Catalogue::builtin(),
        };
        if a.list_rules {
            list_rules(catalogue);
            return Ok(ExitCode::SUCCESS);
        }
        let Some(area) = area else { bail!("请用 --area 指定地区 (no area in the register; give --area)") };
        let period = match (a.from, a.to) {
            (Some(f), Some(t)) => renkou_app::report::period(f, t)?,
            (None, None) => renkou_app::persons::default_period(&store, today).await?,
            _ => bail!("--from 与 --to 须同时给出 (give both --from and --to)"),
        };
        let req = CheckRequest { area, ref_date: today, period };
        let started = std::time::Instant::now();
        let operator = renkou_app::auth::Caller::operator(req.area.clone());
        let r = check::run(&store, &operator, catalogue, &req, chrono::Utc::now()).await?;
        let elapsed = started.elapsed();
        match a.format {
            Format::Table | Format::Csv => print_table(&r, elapsed, note.as_deref()),
            Format::Json => {
                if let Some(n) = &note {
                    eprintln!("{n}");
                }
                println!("{}", serde_json::to_string_pretty(&r)?)
            }
            Format::Xlsx => {
                let Some(out) = a.output.as_deref() else { bail!("xlsx 格式需要 --output 文件名 (xlsx needs --output FILE)") };
                std::fs::write(out, check::check_xlsx(&r)?).with_context(|| format!("写入 {} 失败", out.display()))?;
                if let Some(n) = &note {
                    eprintln!("{n}");
                }
                eprintln!("已写入 (written): {}; 错误 {} 条, 警告 {} 条", out.display(), r.errors(), r.warnings());
            }
        }
        Ok(if r.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
    })
}

fn scope_zh(c: &renkou_core::rules::catalogue::Check) -> &'static str {
    match &c.body {
        CheckBody::Store(_) => "集合",
        CheckBody::Rule(r) if r.scope == Scope::Aggregate => "汇总",
        CheckBody::Rule(_) => "人员",
    }
}

/// One rule a line: id, importance, message (then scope and source, tab-separated).
fn list_rules(c: &Catalogue) {
    for ch in &c.checks {
        println!("{}\t{}\t{}\t[{}] {}", ch.id, ch.importance.name_zh(), ch.message_zh, scope_zh(ch), ch.source);
    }
}

fn print_table(r: &CheckReport, elapsed: std::time::Duration, note: Option<&str>) {
    println!("{} ({}) 逻辑校验", r.area.name, r.area.code);
    println!(
        "校验日期 {} · 汇总核对期间 {} 至 {} · 规则 {} 条 · 人员 {} 人 · 用时 {:.2} 秒",
        r.ref_date,
        r.period.first,
        r.period.last,
        r.checks_run,
        r.persons_checked,
        elapsed.as_secs_f64()
    );
    if let Some(n) = note {
        println!("{n}");
    }
    println!("共 {} 条问题: 错误 {} 条, 警告 {} 条", r.violations.len(), r.errors(), r.warnings());
    for (v, groups) in r.grouped() {
        if groups.is_empty() {
            continue;
        }
        println!();
        println!("■ {} {} (户籍人口 {}, 错误 {}, 警告 {}, 得分 {})", v.code, v.name, v.residents, v.errors, v.warnings, v.score.as_deref().unwrap_or("—"));
        for (id, list) in groups {
            let first = list[0];
            println!("  [{id} {}] {} — {} 条", first.importance.name_zh(), first.message_zh, list.len());
            for x in list {
                let who = match (&x.person, &x.household) {
                    (Some(p), _) => format!("{} {} [编号{}]", p.name, p.citizen_id_masked.as_deref().unwrap_or("(无号码)"), p.id),
                    (None, Some(h)) => format!("户号 {} [户编号{}]", h.household_no, h.id),
                    (None, None) => "汇总数".to_string(),
                };
                let values = check::values_text(&x.values);
                if values.is_empty() {
                    println!("    - {who}");
                } else {
                    println!("    - {who}: {values}");
                }
            }
        }
    }
    println!();
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec!["代码", "名称", "户籍人口", "错误", "警告", "得分"]);
    for v in &r.villages {
        t.add_row(vec![
            Cell::new(&v.code),
            Cell::new(&v.name),
            Cell::new(v.residents).set_alignment(CellAlignment::Right),
            Cell::new(v.errors).set_alignment(CellAlignment::Right),
            Cell::new(v.warnings).set_alignment(CellAlignment::Right),
            Cell::new(v.score.as_deref().unwrap_or("—")).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("各村问题数与得分:");
    println!("{t}");
    println!("注: {SCORE_NOTE}");
}

fn report_file(name: &str, text: &str, format: Format) -> anyhow::Result<ExitCode> {
    let c = check::check_report_text(text).with_context(|| name.to_string())?;
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!("报表核对: {name} (读入 {} 个数字)", c.figures.len());
        for f in &c.findings {
            let mark = if f.ok {
                "✓"
            } else if f.importance == renkou_core::rules::Importance::Error {
                "✗ 错误"
            } else {
                "! 需说明"
            };
            println!("{mark} {}", f.statement_zh);
            if !f.explanation_zh.is_empty() && !f.ok {
                println!("    → {}", f.explanation_zh);
            }
        }
        let n = c.problems().count();
        println!("{}", if n == 0 { "各项数字内部一致。".to_string() } else { format!("共 {n} 处不一致或需说明。") });
    }
    let errors = c.problems().any(|f| f.importance == renkou_core::rules::Importance::Error);
    Ok(if errors { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
