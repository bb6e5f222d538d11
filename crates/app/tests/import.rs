//! Import of persons and events files: good imports and their register counts, GBK and XLSX
//! input, and every kind of bad input with its exact `file:row:column` message (nothing written).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use renkou_app::import::{import_files, FileKind, ImportProgress};
use renkou_app::{areas, AppError, Store};
use renkou_core::area::AreaCode;
use renkou_core::Period;

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

fn today() -> NaiveDate {
    d(2014, 7, 1)
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/samples")
}

async fn store() -> Store {
    let s = Store::open_scratch().await.unwrap();
    areas::ensure_bundled_areas(&s).await.unwrap();
    s
}

fn no_progress(_: ImportProgress<'_>) {}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Imports and expects a rejection; checks that nothing was written.
async fn rejected(store: &Store, files: &[PathBuf]) -> Vec<String> {
    let before = store.person_count().await.unwrap();
    let r = import_files(store, files, today(), &no_progress).await;
    assert_eq!(store.person_count().await.unwrap(), before, "nothing may be written");
    match r {
        Err(AppError::Rejected(list)) => list,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

const PERSONS_HEADER: &str = "姓名*,公民身份号码*,性别,出生日期,民族,婚姻状况,户籍村/组*,户号,与户主关系,户籍登记日期";
const EVENTS_HEADER: &str = "事件类型,公民身份号码,日期,地区,配偶公民身份号码,配偶姓名,流动类型,姓名,性别,出生日期";

/// The sample persons and events of docs/samples import cleanly and give the expected register.
#[tokio::test]
async fn samples_import_and_count() {
    let store = store().await;
    let progress_calls = std::sync::atomic::AtomicU64::new(0);
    let progress = |_: ImportProgress<'_>| {
        progress_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let s = import_files(&store, &[samples().join("persons.csv"), samples().join("events.csv")], today(), &progress).await.unwrap();
    assert_eq!(s.files.len(), 2);
    assert_eq!((s.files[0].kind, s.files[0].rows), (FileKind::Persons, 10));
    assert_eq!((s.files[1].kind, s.files[1].rows), (FileKind::Events, 7));
    assert_eq!(s.persons, 12, "10 persons + 孙丽 (迁入) + 周涛 (流入)");
    assert_eq!(s.households, 4);
    assert_eq!(s.episodes, 13, "10 registered + 迁入 + 流入 + 流出");
    assert_eq!(s.episodes_ended, 3, "迁出 张伟, 死亡 王秀珍, 流动结束 周涛");
    assert_eq!(s.marriages, 4);
    assert_eq!(s.marriages_ended, 0);
    assert_eq!(s.births, 4);
    assert_eq!(s.deaths, 1);
    assert_eq!(s.legacy_ids_upgraded, 1);
    // 赵桂兰 (1970-11-02) married 1990-02-10 at 19: below the legal age of 20, kept as recorded.
    assert_eq!(
        s.warnings,
        vec!["persons.csv:6:M列(结婚日期): 赵桂兰 (女) 结婚时 19 周岁, 未达当时的法定婚龄, 已按记录导入, 留待逻辑校验 P018 (married below the legal age: kept as recorded)"]
    );
    assert!(progress_calls.into_inner() >= 4);
    assert_eq!(store.person_count().await.unwrap(), 12);

    let township = AreaCode::parse("130131200").unwrap();
    let (c, by_village) = store.period_counts(&township, &Period::new(d(2013, 7, 1), d(2014, 6, 30)).unwrap()).await.unwrap();
    assert_eq!(c.population_start, 8);
    assert_eq!(c.population_end, 9);
    assert_eq!((c.births, c.births_male, c.births_female), (2, 1, 1));
    assert_eq!(c.births_policy_compliant, 2);
    assert_eq!(c.deaths, 1);
    assert_eq!(c.floating_inflow, 0, "周涛's inflow ended on 2014-05-30");
    assert_eq!(c.floating_outflow, 1, "陈明 works elsewhere");
    assert_eq!(by_village.len(), 4);

    // The same files again: every person is already stored.
    let again = rejected(&store, &[samples().join("persons.csv")]).await;
    assert_eq!(again.len(), 10, "10 persons (stored household numbers are joined, not refused)");
    assert_eq!(again[0], "persons.csv:2:B列(公民身份号码): 公民身份号码 130131197503120110 已在数据库中 (citizen ID already stored)");
    // A new person with a stored 户号 joins that household.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "more.csv", format!("{PERSONS_HEADER}\n张小满,130131201401050018,男,,,,130131200201,1301312002010001,孙子,\n"));
    import_files(&store, &[p], today(), &no_progress).await.unwrap();
    let row = renkou_store::db::query("SELECT h.household_no, p.relationship_to_head, (SELECT COUNT(*) FROM household) FROM person p JOIN household h ON h.id = p.household_id WHERE p.name = '张小满'")
        .fetch_one(&store)
        .await
        .unwrap();
    assert_eq!((row.get::<String, _>(0), row.get::<String, _>(1), row.get::<i64, _>(2)), ("1301312002010001".into(), "孙子".into(), 4));
}

/// The XLSX sample (date cells, text IDs) gives the same persons as the CSV.
#[tokio::test]
async fn xlsx_sample_imports() {
    let store = store().await;
    let s = import_files(&store, &[samples().join("persons.xlsx")], today(), &no_progress).await.unwrap();
    assert_eq!(s.files, vec![renkou_app::import::ImportedFile { name: "persons.xlsx".into(), kind: FileKind::Persons, rows: 10 }]);
    assert_eq!((s.persons, s.households, s.marriages, s.births), (10, 3, 3, 4));
    let ids = store.person_ids_by_citizen_id(&["130131196801300510".to_string()]).await.unwrap();
    assert_eq!(ids.len(), 1, "the 15-digit number was upgraded");
}

/// A GBK-encoded CSV (as Excel on a Chinese Windows saves it) is decoded.
#[tokio::test]
async fn gbk_csv_imports() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(samples().join("persons.csv")).unwrap();
    let (gbk, _, bad) = encoding_rs::GBK.encode(&text);
    assert!(!bad);
    assert!(std::str::from_utf8(&gbk).is_err(), "really not UTF-8");
    let p = write(dir.path(), "人员-gbk.csv", &gbk);
    let store = store().await;
    let s = import_files(&store, &[p], today(), &no_progress).await.unwrap();
    assert_eq!(s.persons, 10);
    assert_eq!(store.person_count().await.unwrap(), 10);
}

/// Headers with spaces and `*`, columns in any order, an unknown column (a warning), dates in
/// every accepted form, sex and birth date defaulted from the ID, a recorded sex that differs
/// from the ID (kept, warned), a UTF-8 BOM and a tab separator.
#[tokio::test]
async fn flexible_headers_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.csv",
        "\u{feff}户籍村/组 *\t 姓名\t备注\t公民身份号码*\t性别\t户籍登记日期\n\
         130131200205\t刘一\t无\t130131197503120110\t\t2001/3/5\n\
         130131200205\t刘二\t\t130131197708200229\t男\t20020304\n\
         130131200205\t刘三\t\t130131680130051\t\t2003-04-05\n",
    );
    let store = store().await;
    let s = import_files(&store, &[p], today(), &no_progress).await.unwrap();
    assert_eq!(s.persons, 3);
    assert_eq!(s.legacy_ids_upgraded, 1);
    assert_eq!(
        s.warnings,
        vec![
            "p.csv:1:-: 忽略无法识别的列 (ignored columns): C列(备注)".to_string(),
            "1 人的性别与公民身份号码不符, 已按表中填写导入, 留待逻辑校验 (sex differs from the citizen ID: kept as recorded): p.csv:3".to_string(),
        ]
    );
}

#[tokio::test]
async fn invalid_id_checksum_and_other_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "persons.csv",
        format!(
            "{PERSONS_HEADER}\n\
             张三,130131197503120111,男,,,,130131200201,,,\n\
             李四,130131197708200229,女,1977-02-30,,离异,130131200201,,表哥,\n"
        ),
    );
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p]).await,
        vec![
            "persons.csv:2:B列(公民身份号码): 公民身份号码 130131197503120111 校验码错误: 第18位应为 0, 实际为 1 (checksum: expected 0)",
            "persons.csv:3:D列(出生日期): 日期 \"1977-02-30\" 不是有效日期 (not a real calendar date)",
            "persons.csv:3:F列(婚姻状况): 婚姻状况 \"离异\" 应为 未婚/已婚/初婚/再婚/复婚/丧偶/离婚/未说明 或代码 10-40、90 (unknown marital status)",
            "persons.csv:3:I列(与户主关系): 与户主关系 \"表哥\" 不在 GB/T 4761 列表中: 户主/配偶/子/女/儿媳/女婿/孙子/孙女/外孙子/外孙女/父亲/母亲/祖父/祖母/兄弟/姐妹/其他亲属/非亲属 (unknown relationship)",
        ]
    );
}

#[tokio::test]
async fn unknown_area() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "persons.csv", format!("{PERSONS_HEADER}\n张三,130131197503120110,男,,,,130131200299,,,\n"));
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p]).await,
        vec!["persons.csv:2:G列(户籍村/组): 区划代码 130131200299 不在区划表中, 请先导入区划或添加村民小组 (unknown area)"]
    );
}

#[tokio::test]
async fn death_before_birth_and_registration_before_birth() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "persons.csv", format!("{PERSONS_HEADER}\n张三,130131197503120110,男,,,,130131200201,,,1970-01-01\n"));
    let e = write(dir.path(), "events.csv", format!("{EVENTS_HEADER}\n死亡,130131197503120110,1974-12-31,,,,,,,\n"));
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p, e]).await,
        vec![
            "persons.csv:2:J列(户籍登记日期): 开始日期 1970-01-01 早于出生日期 1975-03-12 (episode starts before birth)",
            "events.csv:2:C列(日期): 日期 1974-12-31 早于张三的出生日期 1975-03-12 (before birth)",
        ]
    );
}

#[tokio::test]
async fn episode_end_before_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "persons.csv", format!("{PERSONS_HEADER}\n陈明,13013119850707091X,男,,,,130131200203,,,2008-06-01\n"));
    let e = write(
        dir.path(),
        "events.csv",
        format!(
            "{EVENTS_HEADER}\n\
             迁出,13013119850707091X,2005-01-01,,,,,,,\n\
             流入,130182198812121357,2013-09-01,130131200201,,,,周涛,,\n\
             流动结束,130182198812121357,2013-08-31,,,,,,,\n"
        ),
    );
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p, e]).await,
        vec![
            "events.csv:2:C列(日期): 日期 2005-01-01 早于该户籍记录的开始日期 2008-06-01 (episode ends before it starts)",
            "events.csv:4:C列(日期): 日期 2013-08-31 早于此人在第3行的流入 (2013-09-01), 此前此人不在册 (event before the person's arrival)",
        ]
    );
}

#[tokio::test]
async fn duplicate_ids_in_files_and_vs_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "persons.csv",
        format!("{PERSONS_HEADER}\n张三,130131197503120110,男,,,,130131200201,,,\n张叁,130131197503120110,男,,,,130131200201,,,\n"),
    );
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p]).await,
        vec!["persons.csv:3:B列(公民身份号码): 公民身份号码 130131197503120110 与第2行重复 (duplicate citizen ID in the files)"]
    );
    let one = write(dir.path(), "one.csv", format!("{PERSONS_HEADER}\n张三,130131197503120110,男,,,,130131200201,,,\n"));
    import_files(&store, std::slice::from_ref(&one), today(), &no_progress).await.unwrap();
    assert_eq!(rejected(&store, &[one]).await, vec!["one.csv:2:B列(公民身份号码): 公民身份号码 130131197503120110 已在数据库中 (citizen ID already stored)"]);
    assert_eq!(store.person_count().await.unwrap(), 1);
}

#[tokio::test]
async fn wrong_encoding_empty_header_only_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic "random" bytes (xorshift).
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let files = [
        write(dir.path(), "noise.csv", &noise),
        write(dir.path(), "empty.csv", ""),
        write(dir.path(), "header.csv", format!("{PERSONS_HEADER}\n")),
        write(dir.path(), "short.csv", format!("{PERSONS_HEADER}\n张三,130131197503120110,男,,,,130131200201,,,\n李四,130131197708200229,女,,\n")),
        write(dir.path(), "nohead.csv", "名字,身份\n张三,130131197503120110\n"),
    ];
    let store = store().await;
    let list = rejected(&store, &files).await;
    assert_eq!(
        list,
        [
            "noise.csv:1:-: 文件编码无法识别: 既不是 UTF-8 也不是 GBK, 第1行有无法解码的字节; 请另存为 UTF-8 或 GBK 的 CSV (encoding: neither UTF-8 nor GBK)",
            "empty.csv:1:-: 文件为空 (empty file)",
            "header.csv:2:-: 只有表头, 没有数据行 (header only: no data rows)",
            "short.csv:3:F列(婚姻状况): 此行只有 5 列, 表头有 10 列, 缺少 F列(婚姻状况) 及以后的列 (truncated row)",
            "nohead.csv:1:-: 人员表缺少必需的列 姓名 (missing required column 姓名)",
            "nohead.csv:1:-: 人员表缺少必需的列 公民身份号码 (missing required column 公民身份号码)",
            "nohead.csv:1:-: 人员表缺少必需的列 户籍村/组 (missing required column 户籍村/组)",
        ]
    );
}

#[tokio::test]
async fn random_bytes_message_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.csv", b"\xe5\xa7\x93\xe5\x90\x8d\n\xd5\xc5\xc8\xfd\n\x81\x20\xff\xfe\n");
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p]).await,
        vec!["x.csv:3:-: 文件编码无法识别: 既不是 UTF-8 也不是 GBK, 第3行有无法解码的字节; 请另存为 UTF-8 或 GBK 的 CSV (encoding: neither UTF-8 nor GBK)"]
    );
}

fn xlsx_with(path: &Path, f: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    f(ws);
    wb.save(path).unwrap();
}

#[tokio::test]
async fn xlsx_formula_and_merged_cells_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let headers = ["姓名", "公民身份号码", "户籍村/组", "户号"];
    let formula = dir.path().join("formula.xlsx");
    xlsx_with(&formula, |ws| {
        for (c, h) in headers.iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "张三").unwrap();
        ws.write_string(1, 1, "130131197503120110").unwrap();
        ws.write_formula(1, 2, "=\"130131\"&\"200201\"").unwrap();
        ws.write_formula(1, 5, "=1+1").unwrap(); // an ignored column: allowed
    });
    let merged = dir.path().join("merged.xlsx");
    xlsx_with(&merged, |ws| {
        let fmt = rust_xlsxwriter::Format::new();
        ws.merge_range(0, 0, 0, 1, "人员信息", &fmt).unwrap();
        ws.write_string(0, 2, "户籍村/组").unwrap();
        ws.write_string(1, 0, "张三").unwrap();
    });
    let store = store().await;
    assert_eq!(
        rejected(&store, &[formula, merged]).await,
        vec![
            "formula.xlsx:2:C列(户籍村/组): 单元格是公式 =\"130131\"&\"200201\", 请复制后\"选择性粘贴-数值\"再导入 (formula cell: paste values instead)",
            "merged.xlsx:1:A列(人员信息): 表头含合并单元格 A1:B1, 请取消合并, 每列一个表头 (merged header cells)",
            "merged.xlsx:1:-: 人员表缺少必需的列 姓名 (missing required column 姓名)",
            "merged.xlsx:1:-: 人员表缺少必需的列 公民身份号码 (missing required column 公民身份号码)",
        ]
    );
}

#[tokio::test]
async fn xlsx_excel_rows_letters_and_number_ids() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("book.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("说明").unwrap();
    ws.write_string(0, 0, "本工作簿的人员在“人员”表").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("人员").unwrap();
    // Header on row 3 (a blank row and a note above it are skipped: first non-blank row is the header).
    for (c, h) in ["姓名", "公民身份号码", "出生日期", "户籍村/组"].iter().enumerate() {
        ws.write_string(2, c as u16 + 1, *h).unwrap();
    }
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    ws.write_string(3, 1, "张三").unwrap();
    ws.write_string(3, 2, "130131197503120110").unwrap();
    ws.write_datetime_with_format(3, 3, rust_xlsxwriter::ExcelDateTime::from_ymd(1975, 3, 12).unwrap(), &date).unwrap();
    ws.write_number(3, 4, 130131200201.0).unwrap();
    ws.write_string(4, 1, "李四").unwrap();
    ws.write_number(4, 2, 130131197708200229.0).unwrap();
    ws.write_number(4, 4, 130131200201.0).unwrap();
    wb.save(&p).unwrap();
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p]).await,
        vec!["book.xlsx:5:C列(公民身份号码): 身份号码被 Excel 存成了数字, 末几位已丢失; 请把该列设为文本格式后重新填写 (citizen ID stored as a number: digits lost)"]
    );
}

#[tokio::test]
async fn events_refer_to_known_persons_and_store_conflicts_point_to_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = store().await;
    import_files(&store, &[samples().join("persons.csv")], today(), &no_progress).await.unwrap();
    let e = write(
        dir.path(),
        "events.csv",
        format!(
            "{EVENTS_HEADER}\n\
             迁出,130131200105060313,2014-01-20,,,,,,,\n\
             死亡,130131199001010011,2014-01-20,,,,,,,\n\
             出生,130131200105060313,2014-01-20,,,,,,,\n\
             流入,130182198812121357,2013-09-01,130131200201,,,,,,\n"
        ),
    );
    assert_eq!(
        rejected(&store, &[e]).await,
        vec![
            "events.csv:3:B列(公民身份号码): 公民身份号码 130131199001010011 校验码错误: 第18位应为 7, 实际为 1 (checksum: expected 7)",
            "events.csv:4:A列(事件类型): 出生请在人员表中登记 (填写母亲公民身份号码或孩次) (births are imported from the persons file)",
        ]
    );
    // A move-out of a stored person is applied by the store; twice is a conflict with the row.
    let out = write(dir.path(), "out.csv", format!("{EVENTS_HEADER}\n迁出,130131200105060313,2014-01-20,,,,,,,\n"));
    let s = import_files(&store, std::slice::from_ref(&out), today(), &no_progress).await.unwrap();
    assert_eq!(s.episodes_ended, 1);
    assert_eq!(rejected(&store, &[out]).await, vec!["out.csv:2:B列(公民身份号码): 张伟没有未结束的户籍记录 (no open registered episode)"]);
    // Unknown person; a newcomer without a name; divorce of a stored couple.
    let e = write(
        dir.path(),
        "e2.csv",
        format!(
            "{EVENTS_HEADER}\n\
             死亡,130182198812121357,2014-01-20,,,,,,,\n\
             流入,130182198812121357,2013-09-01,130131200201,,,,,,\n\
             离婚,130131197503120110,2014-02-01,,130131197708200229,,,,,\n"
        ),
    );
    assert_eq!(
        rejected(&store, &[e]).await,
        vec![
            "e2.csv:2:B列(公民身份号码): 公民身份号码 130182198812121357 不在册 (person not in the register)",
            "e2.csv:3:H列(姓名): 公民身份号码 130182198812121357 不在册, 新登记人员需要填写姓名 (new person: name required)",
        ]
    );
    let e = write(dir.path(), "e3.csv", format!("{EVENTS_HEADER}\n离婚,130131197503120110,2014-02-01,,130131197708200229,,,,,\n"));
    let s = import_files(&store, &[e], today(), &no_progress).await.unwrap();
    assert_eq!(s.marriages_ended, 1);
}

/// Regenerates docs/samples/persons.xlsx from docs/samples/persons.csv (run with `--ignored`).
#[test]
#[ignore]
fn write_sample_xlsx() {
    let text = std::fs::read_to_string(samples().join("persons.csv")).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("人员").unwrap();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (r, line) in text.lines().enumerate() {
        for (c, v) in line.split(',').enumerate() {
            let (r, c) = (r as u32, c as u16);
            if r == 0 {
                ws.write_string_with_format(r, c, v, &bold).unwrap();
                ws.set_column_width(c, 14).unwrap();
            } else if v.len() == 10 && v.as_bytes()[4] == b'-' {
                let (y, m, dd) = (v[..4].parse().unwrap(), v[5..7].parse().unwrap(), v[8..].parse().unwrap());
                ws.write_datetime_with_format(r, c, rust_xlsxwriter::ExcelDateTime::from_ymd(y, m, dd).unwrap(), &date).unwrap();
            } else if !v.is_empty() {
                ws.write_string(r, c, v).unwrap();
            }
        }
    }
    wb.save(samples().join("persons.xlsx")).unwrap();
}

#[tokio::test]
async fn dates_after_today_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "persons.csv", format!("{PERSONS_HEADER}\n张三,130131197503120110,男,,,,130131200201,,,2014-07-02\n"));
    let e = write(dir.path(), "events.csv", format!("{EVENTS_HEADER}\n死亡,130131197503120110,2014/12/1,,,,,,,\n"));
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p, e]).await,
        vec![
            "persons.csv:2:J列(户籍登记日期): 日期 2014-07-02 晚于今天 2014-07-01 (date in the future)",
            "events.csv:2:C列(日期): 日期 2014-12-01 晚于今天 2014-07-01 (date in the future)",
        ]
    );
}

/// Loads docs/samples persons and events (the monthly workflow's starting point).
async fn sample_register() -> Store {
    let store = store().await;
    import_files(&store, &[samples().join("persons.csv"), samples().join("events.csv")], today(), &no_progress).await.unwrap();
    store
}

/// The same events file twice: every event contradicts the register it produced.
#[tokio::test]
async fn events_again_are_checked_against_stored_persons() {
    let store = sample_register().await;
    assert_eq!(
        rejected(&store, &[samples().join("events.csv")]).await,
        vec![
            "events.csv:2:B列(公民身份号码): 陈明已有未结束的流出记录 (在 130131200203), 请先结束 (an open outflow episode exists)",
            "events.csv:3:C列(日期): 日期 2013-09-01 早于上一条流入记录的结束日期 2014-05-30 (starts before the previous episode ended)",
            "events.csv:4:B列(公民身份号码): 此人在原户籍地的迁出尚未登记: 请原户籍地先登记迁出 (the move-out from the previous area is not recorded yet)",
            // 刘洋 is outside the register: the open marriage of 王芳 refuses a second one.
            "events.csv:5:B列(公民身份号码): 王芳 已有未结束的婚姻, 须先登记离婚或丧偶 (already married: 民法典第1041条)",
            "events.csv:6:B列(公民身份号码): 张伟没有未结束的户籍记录 (no open registered episode)",
            "events.csv:7:B列(公民身份号码): 王秀珍已于 2014-02-10 登记死亡 (death already recorded)",
            // 周涛's second inflow was refused, so there is no inflow to end.
            "events.csv:8:B列(公民身份号码): 周涛没有未结束的流入记录 (no open inflow episode)",
        ]
    );
    // The period figures are those of the first import.
    let township = AreaCode::parse("130131200").unwrap();
    let (c, _) = store.period_counts(&township, &Period::new(d(2013, 7, 1), d(2014, 6, 30)).unwrap()).await.unwrap();
    assert_eq!((c.population_end, c.deaths, c.floating_outflow), (9, 1, 1));
}

/// Dates of events about stored persons against their birth, death and marriages.
#[tokio::test]
async fn stored_birth_death_and_marriages_bound_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_register().await;
    let e = write(
        dir.path(),
        "later.csv",
        format!(
            "{EVENTS_HEADER}\n\
             死亡,13013120130915042X,2013-01-01,,,,,,,\n\
             迁出,130131193506010824,2014-03-01,,,,,,,\n\
             结婚,13013120130915042X,2012-01-01,,,某某,,,,\n\
             结婚,130131197503120110,2014-03-01,,,某某,,,,\n\
             离婚,130131200105060313,2014-03-01,,,,,,,\n\
             死亡,130131197708200229,2014-04-01,,,,,,,\n\
             迁出,130131197708200229,2014-05-01,,,,,,,\n"
        ),
    );
    assert_eq!(
        rejected(&store, &[e]).await,
        vec![
            // 张敏 was born 2013-09-15.
            "later.csv:2:C列(日期): 日期 2013-01-01 早于张敏的出生日期 2013-09-15 (before birth)",
            // 王秀珍 died 2014-02-10 (stored).
            "later.csv:3:C列(日期): 王秀珍已于 2014-02-10 死亡 (person died on 2014-02-10)",
            "later.csv:4:C列(日期): 日期 2012-01-01 早于张敏的出生日期 2013-09-15 (before birth)",
            // 张建国 is married to 李秀英 (stored, open).
            "later.csv:5:B列(公民身份号码): 张建国 已有未结束的婚姻, 须先登记离婚或丧偶 (already married: 民法典第1041条)",
            "later.csv:6:B列(公民身份号码): 张伟 没有未结束的婚姻 (no open marriage)",
            // 李秀英 dies in this file: a later event is refused.
            "later.csv:8:C列(日期): 李秀英已于 2014-04-01 死亡 (person died on 2014-04-01)",
        ]
    );
}

/// A move between villages of a stored person (迁出 then 迁入 on one day), a 流出 without 地区
/// (the stored registered area), and a marriage below the legal age (a warning).
#[tokio::test]
async fn stored_person_moves_flows_out_and_marries_young() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_register().await;
    let e = write(
        dir.path(),
        "move.csv",
        format!(
            "{EVENTS_HEADER}\n\
             迁出,130131197503120110,2014-03-01,,,,,,,\n\
             迁入,130131197503120110,2014-03-01,130131200202,,,,,,\n\
             流出,130131197708200229,2014-03-01,,,,,,,\n\
             结婚,130131200105060313,2014-03-01,,,某某,,,,\n"
        ),
    );
    let s = import_files(&store, &[e], today(), &no_progress).await.unwrap();
    assert_eq!((s.episodes, s.episodes_ended, s.marriages), (2, 1, 1));
    assert_eq!(
        s.warnings,
        vec!["move.csv:5:C列(日期): 张伟 (男) 结婚时 12 周岁, 未达当时的法定婚龄, 已按记录导入, 留待逻辑校验 P018 (married below the legal age: kept as recorded)"]
    );
    let township = AreaCode::parse("130131200").unwrap();
    let (c, by_village) = store.period_counts(&township, &Period::new(d(2013, 7, 1), d(2014, 6, 30)).unwrap()).await.unwrap();
    assert_eq!((c.population_end, c.floating_outflow), (9, 2), "张建国 moved inside the township; 李秀英 flows out");
    let v = |code: &str| by_village.iter().find(|(a, _)| a.as_str() == code).map(|(_, c)| c.population_end);
    assert_eq!(v("130131200202"), Some(4), "王志强, 赵桂兰, 王芳 and now 张建国");
    // Moving in again without a move out is refused.
    let again = write(dir.path(), "again.csv", format!("{EVENTS_HEADER}\n迁入,130131197503120110,2014-04-01,130131200201,,,,,,\n"));
    assert_eq!(
        rejected(&store, &[again]).await,
        vec!["again.csv:2:B列(公民身份号码): 此人在原户籍地的迁出尚未登记: 请原户籍地先登记迁出 (the move-out from the previous area is not recorded yet)"]
    );
}

/// The check the web forms run: a hand-made batch about stored persons.
#[tokio::test]
async fn consistency_check_of_a_form_batch() {
    use renkou_app::consistency::check_against_stored;
    use renkou_core::register::{Death, EpisodeEnd, Marriage, PersonRef, RegisterBatch, ResidenceKind};
    let store = sample_register().await;
    let ids = store.person_ids_by_citizen_id(&["130131193506010824".into(), "130131197503120110".into()]).await.unwrap();
    let (wang, zhang) = (ids["130131193506010824"], ids["130131197503120110"]);
    let batch = RegisterBatch {
        deaths: vec![Death { person: PersonRef::Stored(wang), date: d(2014, 3, 1) }],
        episode_ends: vec![EpisodeEnd { person: PersonRef::Stored(zhang), kind: ResidenceKind::Inflow, area: None, date: d(2014, 3, 1) }],
        marriages: vec![Marriage {
            wife: None,
            husband: Some(PersonRef::Stored(zhang)),
            outside_spouse_name: Some("某某".into()),
            outside_spouse_citizen_id: None,
            start: Some(d(2014, 3, 1)),
            end: None,
            end_reason: None,
        }],
        ..Default::default()
    };
    let c = check_against_stored(&store, &batch).await.unwrap();
    let got: Vec<String> = c.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        got,
        vec![
            "episode_ends[0]: 此人没有未结束的流入记录 (no open inflow episode)",
            "marriages[0]: 此人已有未结束的婚姻 (配偶 李秀英, 自 1999-10-01 起); 须先登记离婚或丧偶 (an open marriage exists: bigamy)",
            "deaths[0]: 此人已于 2014-02-10 登记死亡, 不能再次登记 (death already recorded on 2014-02-10)",
        ]
    );
    assert!(c.warnings.is_empty());
}

/// Birth dates before 1880 (citizen_id::MIN_BIRTH_YEAR), in an ID or a date column, are input
/// errors.
#[tokio::test]
async fn birth_years_before_1880_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store().await;
    let p = write(
        dir.path(),
        "old.csv",
        format!(
            "{PERSONS_HEADER}\n\
             甲,130131187901010014,男,,,,130131200201,,,\n\
             乙,130131188001010013,男,1879-12-31,,,130131200201,,,\n"
        ),
    );
    assert_eq!(
        rejected(&store, &[p]).await,
        vec![
            "old.csv:2:B列(公民身份号码): 公民身份号码 130131187901010014 出生日期错误: 18790101 不是有效日期或早于1880年 (date: not a real calendar date, or before 1880)",
            "old.csv:3:D列(出生日期): 日期 1879-12-31 早于1880年, 疑为录入错误 (date before 1880)",
        ]
    );
}

/// Names are trimmed; a line break or another control character in a name is refused.
#[tokio::test]
async fn names_with_control_characters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store().await;
    let p = write(
        dir.path(),
        "names.csv",
        format!(
            "{PERSONS_HEADER}\n\
             \"张\n三\",130131197503120110,,,,,130131200201,,,\n\
             \"李\t四\",130131197708200229,,,,,130131200201,,,\n"
        ),
    );
    assert_eq!(
        rejected(&store, &[p]).await,
        vec![
            "names.csv:2:A列(姓名): \"张\\n三\" 含有换行或控制字符 (name contains a line break or control character)",
            "names.csv:4:A列(姓名): \"李\\t四\" 含有换行或控制字符 (name contains a line break or control character)",
        ]
    );
    let p = write(dir.path(), "ok.csv", format!("{PERSONS_HEADER}\n\u{3000}王五 ,130131197503120110,,,,,130131200201,,,\n"));
    import_files(&store, &[p], today(), &no_progress).await.unwrap();
    let r = store.search_persons(&AreaCode::parse("130131200").unwrap(), renkou_store::SearchField::Name, "王五", 10).await.unwrap();
    assert_eq!(r.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["王五"]);
}

/// The web's import page imports for one user's area only: rows registering someone elsewhere,
/// and events about stored persons of another village, reject the whole import.
#[tokio::test]
async fn scoped_import_stays_inside_the_callers_area() {
    let dir = tempfile::tempdir().unwrap();
    let store = store().await;
    let v201 = renkou_core::area::AreaCode::parse("130131200201").unwrap();
    let v202 = renkou_core::area::AreaCode::parse("130131200202").unwrap();
    let p = write(dir.path(), "persons.csv", format!("{PERSONS_HEADER}\n张三,130131197503120110,男,,,,130131200201,,,\n"));
    // Outside the scope: refused at the row, nothing written.
    let err = renkou_app::import::import_files_within(&store, std::slice::from_ref(&p), &v202, today(), &no_progress).await.unwrap_err();
    match err {
        renkou_app::AppError::Rejected(lines) => {
            assert_eq!(lines, vec!["persons.csv:2:G列(户籍村/组): 区划代码 130131200201 不在您的管辖范围 130131200202 内 (area outside your scope)"])
        }
        e => panic!("{e}"),
    }
    assert_eq!(store.person_count().await.unwrap(), 0);
    // Inside the scope it imports.
    renkou_app::import::import_files_within(&store, &[p], &v201, today(), &no_progress).await.unwrap();
    assert_eq!(store.person_count().await.unwrap(), 1);
    // An event about that stored person, imported by the other village, is refused.
    let e = write(dir.path(), "events.csv", format!("{EVENTS_HEADER}\n死亡,130131197503120110,2014-02-01,,,,,,,\n"));
    let err = renkou_app::import::import_files_within(&store, &[e], &v202, today(), &no_progress).await.unwrap_err();
    // The refusal names the row and not the person (nothing of someone outside the scope).
    assert_eq!(
        err.to_string().lines().nth(1),
        Some("events.csv:2:B列(公民身份号码): 人员不存在或不在您的管辖范围内 (not found or outside your area)"),
        "{err}"
    );
}

/// A persons file of one village that names a married person of another village as a spouse
/// is refused without a word about that person: no name, no number, no marriage.
#[tokio::test]
async fn a_scoped_import_says_nothing_of_persons_outside_the_area() {
    let dir = tempfile::tempdir().unwrap();
    let store = store().await;
    let v202 = renkou_core::area::AreaCode::parse("130131200202").unwrap();
    // 张建国 and 李秀英 of the sample live in 西大吾村 (201), married since 1999.
    import_files(&store, &[samples().join("persons.csv")], today(), &no_progress).await.unwrap();
    let before = store.person_count().await.unwrap();
    let header = "姓名*,公民身份号码*,性别,出生日期,民族,婚姻状况,户籍村/组*,户号,与户主关系,户籍登记日期,配偶公民身份号码,配偶姓名,结婚日期";
    let p = write(dir.path(), "p.csv", format!("{header}\n王强,130131198001010012,男,,,已婚,130131200202,H9,户主,,130131197503120110,,2008-11-28\n"));
    let err = renkou_app::import::import_files_within(&store, &[p], &v202, today(), &no_progress).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("不在您的管辖范围内的人员"), "{text}");
    for secret in ["张建国", "李秀英", "1999", "编号"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(store.person_count().await.unwrap(), before);
}

/// An import by a caller carries its `import.upload` entry in its own transaction: one entry
/// with the counts after a written import, none after a rejected one.
#[tokio::test]
async fn an_import_and_its_audit_entry_are_written_together() {
    let store = store().await;
    let cli = operator();
    let now = chrono::Utc::now();
    let uploads = |store: Store| async move {
        let f = renkou_app::audit::AuditFilter { action: Some("import.".into()), limit: 10, ..Default::default() };
        renkou_app::audit::search(&store, &operator(), &f).await.unwrap()
    };
    let s = renkou_app::import::import_files_by(&store, &cli, &[samples().join("persons.csv")], None, today(), now, &no_progress).await.unwrap();
    let entries = uploads(store.clone()).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0].action.as_str(), entries[0].username.as_str()), ("import.upload", "cli"));
    let v: serde_json::Value = serde_json::from_str(entries[0].new_value.as_deref().unwrap()).unwrap();
    assert_eq!(v["persons"], s.persons);
    assert_eq!(v["files"][0], "persons.csv");

    // The same file again: every ID is already registered, nothing is written, nor audited.
    let before = store.person_count().await.unwrap();
    let r = renkou_app::import::import_files_by(&store, &cli, &[samples().join("persons.csv")], None, today(), now, &no_progress).await;
    assert!(matches!(r, Err(AppError::Rejected(_))), "{r:?}");
    assert_eq!(store.person_count().await.unwrap(), before);
    assert_eq!(uploads(store.clone()).await.len(), 1);
}

fn operator() -> renkou_app::auth::Caller {
    renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap())
}
