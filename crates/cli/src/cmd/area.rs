//! `renkou area import|add-group|list`: the area tree of a register.

use std::path::Path;
use std::process::ExitCode;

use comfy_table::{presets::UTF8_FULL, Table};
use indicatif::{ProgressBar, ProgressStyle};
use renkou_app::areas::{add_group, county_name_in, ensure_bundled_areas, import_area_files};
use renkou_app::{AppError, Store};
use renkou_core::area::AreaCode;

use crate::cli::{AddGroupArgs, AreaCommand, AreaImportArgs, AreaListArgs};

/// Rejected rows printed before "… and N more".
const SHOW_REJECTED: usize = 50;

/// Runs `renkou area …`.
pub fn run(cmd: AreaCommand) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async {
        match cmd {
            AreaCommand::Import(a) => import(a).await,
            AreaCommand::AddGroup(a) => group(a).await,
            AreaCommand::List(a) => list(a).await,
        }
    })
}

async fn open(path: &Path) -> anyhow::Result<Store> {
    super::db::open_write(path).await
}

fn parse_code(s: &str) -> anyhow::Result<AreaCode> {
    AreaCode::parse(s).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn import(a: AreaImportArgs) -> anyhow::Result<ExitCode> {
    let store = open(&a.db).await?;
    let r = import_into(&a, &store).await;
    let closed = super::db::close(store).await;
    let code = r?;
    closed?;
    Ok(code)
}

async fn import_into(a: &AreaImportArgs, store: &Store) -> anyhow::Result<ExitCode> {
    let store = store.clone();
    // A fresh register gets the bundled national table first, so that a file of one
    // county's townships and villages finds its parents.
    if store.area_count().await? == 0 {
        let n = ensure_bundled_areas(&store).await?;
        eprintln!("空数据库: 已载入内置区划表 {n} 条 (empty database: loaded the bundled area table)");
    }
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{msg} [{bar:40}] {percent:>3}% {elapsed_precise}").expect("valid template").progress_chars("=> "));
    bar.set_message("读取 (reading)");
    let phase = std::cell::Cell::new(0u8);
    let progress = |done: u64, total: u64| {
        // The total changes from bytes (reading) to areas (writing) once.
        if bar.length() != Some(total) {
            if phase.get() == 1 {
                bar.set_message("写入 (writing)");
            }
            phase.set(phase.get() + 1);
            bar.set_length(total);
        }
        bar.set_position(done);
    };
    let started = std::time::Instant::now();
    let result = import_area_files(&store, &a.files, &progress).await;
    bar.finish_and_clear();
    match result {
        Ok(n) => {
            println!("已导入 {n} 个区划, 用时 {:.1} 秒 (imported {n} areas)", started.elapsed().as_secs_f64());
            println!("数据库中共有 {} 个区划 (areas in the database)", store.area_count().await?);
            Ok(ExitCode::SUCCESS)
        }
        // As `renkou import`: one `file:row:column: reason` line each, then the count.
        Err(AppError::Rejected(rows)) => {
            for row in rows.iter().take(SHOW_REJECTED) {
                eprintln!("{row}");
            }
            if rows.len() > SHOW_REJECTED {
                eprintln!("…… 另有 {} 处错误未列出 (more not shown)", rows.len() - SHOW_REJECTED);
            }
            eprintln!("区划导入被拒绝, 未写入任何数据: {} 处错误 (area import rejected, nothing written)", rows.len());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

async fn group(a: AddGroupArgs) -> anyhow::Result<ExitCode> {
    let store = open(&a.db).await?;
    let r = group_into(&a, &store).await;
    let closed = super::db::close(store).await;
    let code = r?;
    closed?;
    Ok(code)
}

async fn group_into(a: &AddGroupArgs, store: &Store) -> anyhow::Result<ExitCode> {
    let store = store.clone();
    let village = parse_code(&a.village)?;
    // Whether the group existed (for the message); add_group itself says what is wrong with
    // the village or the number.
    let existed = match AreaCode::group(&village, a.number) {
        Some(code) => store.area(&code).await?,
        None => None,
    };
    let area = match add_group(&store, &village, a.number, &a.name, a.rename).await {
        Ok(area) => area,
        Err(AppError::Invalid(m)) => {
            eprintln!("错误 (error): {m}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(anyhow::anyhow!("{e}")),
    };
    let full = county_name_in(&store, area.code.as_str()).await?.unwrap_or_else(|| area.name.clone());
    match existed {
        None => println!("已添加村民小组 {} {} (group added)", area.code, full),
        Some(old) if old.name != area.name => {
            println!("已将村民小组 {} 由 {} 改名为 {} (group renamed)", area.code, old.name, area.name)
        }
        Some(_) => println!("村民小组 {} {} 已存在, 未改变 (group exists, unchanged)", area.code, full),
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(a: AreaListArgs) -> anyhow::Result<ExitCode> {
    let store = super::db::open_read(&a.db).await?;
    let code = parse_code(&a.area)?;
    if store.area(&code).await?.is_none() {
        anyhow::bail!("区划 {code} 不在数据库 {} 中 (area not found)", a.db.display());
    }
    let full = county_name_in(&store, code.as_str()).await?.unwrap_or_default();
    let children = store.children(&code).await?;
    println!("{code} {full}: 下级区划 {} 个 (children)", children.len());
    if children.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL).set_header(["代码", "统计用代码", "名称", "级别"]);
    for c in &children {
        table.add_row([c.code.to_string(), c.code.statistical(), c.name.clone(), c.code.level().name_zh().to_string()]);
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}
