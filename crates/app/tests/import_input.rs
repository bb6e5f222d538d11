//! Import of files as they arrive from Chinese Windows (issue 7 §6): full-width digits, numbers
//! in date columns, formula cells next to other errors, invisible characters in names, long
//! cells quoted briefly, duplicates across files; and CSV exports that Excel opens safely.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use renkou_app::import::{import_files, ImportProgress, ImportSummary};
use renkou_app::{areas, AppError, Store};
use renkou_core::area::AreaCode;

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

fn today() -> NaiveDate {
    d(2014, 7, 1)
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

async fn imported(store: &Store, files: &[PathBuf]) -> ImportSummary {
    import_files(store, files, today(), &no_progress).await.unwrap()
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

const HEADER: &str = "姓名*,公民身份号码*,性别,出生日期,民族,婚姻状况,户籍村/组*,户号,与户主关系,户籍登记日期";

/// A full-width row (digits, Ｘ-free ID, hyphens, household number) is the same person as its
/// ASCII twin: same summary, and the ASCII row then finds the stored ID and household.
#[tokio::test]
async fn a_full_width_row_imports_as_its_ascii_twin() {
    let dir = tempfile::tempdir().unwrap();
    let wide = write(
        dir.path(),
        "wide.csv",
        format!(
            "{HEADER}\n张三,１３０１３１１９７５０３１２０１１０,Ｍ,１９７５－０３－１２,汉族,２０,１３０１３１２００２０１,００１,户主,２０１０／０１／０２\n"
        ),
    );
    let ascii = write(dir.path(), "ascii.csv", format!("{HEADER}\n张三,130131197503120110,M,1975-03-12,汉族,20,130131200201,001,户主,2010/01/02\n"));
    let (a, b) = (store().await, store().await);
    let s_wide = imported(&a, &[wide]).await;
    let s_ascii = imported(&b, std::slice::from_ref(&ascii)).await;
    assert_eq!((s_wide.persons, s_wide.households, s_wide.episodes), (1, 1, 1));
    assert_eq!(
        (s_wide.persons, s_wide.households, s_wide.episodes, &s_wide.warnings),
        (s_ascii.persons, s_ascii.households, s_ascii.episodes, &s_ascii.warnings),
        "no warning either: sex and birth date agree with the ID"
    );
    assert_eq!(
        rejected(&a, &[ascii]).await,
        vec!["ascii.csv:2:B列(公民身份号码): 公民身份号码 130131197503120110 已在数据库中 (citizen ID already stored)"],
        "the ID ００１… was stored as ASCII"
    );
    // The household number ００１ was stored as 001: a new person of 户号 001 joins that household.
    let more = write(dir.path(), "more.csv", format!("{HEADER}\n张小,130131201401050018,男,2014-01-05,汉族,10,130131200201,001,子,\n"));
    let s = imported(&a, &[more]).await;
    assert_eq!((s.persons, s.households), (1, 0));
}

fn xlsx(path: &Path, f: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    f(wb.add_worksheet());
    wb.save(path).unwrap();
}

fn header(ws: &mut rust_xlsxwriter::Worksheet, headers: &[&str]) {
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
}

/// 1980 typed into 出生日期 is a year, not a date: refused at that cell (it used to become
/// 1905-06-02, Excel day 1980). A date-formatted cell in the same column is a date.
#[tokio::test]
async fn a_plain_number_in_an_xlsx_date_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("years.xlsx");
    xlsx(&p, |ws| {
        header(ws, &["姓名", "公民身份号码", "出生日期", "户籍村/组"]);
        ws.write_string(1, 0, "张三").unwrap();
        ws.write_string(1, 1, "130131197503120110").unwrap();
        ws.write_number(1, 2, 1980.0).unwrap();
        ws.write_string(1, 3, "130131200201").unwrap();
        ws.write_string(2, 0, "李四").unwrap();
        ws.write_string(2, 1, "130131197708200229").unwrap();
        let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        ws.write_datetime_with_format(2, 2, rust_xlsxwriter::ExcelDateTime::from_ymd(1977, 8, 20).unwrap(), &date).unwrap();
        ws.write_string(2, 3, "130131200201").unwrap();
    });
    let store = store().await;
    assert_eq!(
        rejected(&store, std::slice::from_ref(&p)).await,
        vec!["years.xlsx:2:C列(出生日期): 日期列中的数字 1980 不是日期 (a number in a date column is not a date); 请填写 YYYY-MM-DD 或把单元格设为日期格式"]
    );
}

/// A formula cell is one row's problem: the sheet's other rows are still checked and their
/// errors reported in the same run.
#[tokio::test]
async fn a_formula_cell_does_not_hide_other_rows_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("formula.xlsx");
    xlsx(&p, |ws| {
        header(ws, &["姓名", "公民身份号码", "户籍村/组"]);
        ws.write_string(1, 0, "张三").unwrap();
        ws.write_string(1, 1, "130131197503120110").unwrap();
        ws.write_formula(1, 2, "=\"130131\"&\"200201\"").unwrap();
        ws.write_string(2, 0, "李四").unwrap();
        ws.write_string(2, 1, "130131197708200228").unwrap();
        ws.write_string(2, 2, "130131200201").unwrap();
        let fmt = rust_xlsxwriter::Format::new();
        ws.merge_range(3, 0, 4, 0, "王五", &fmt).unwrap();
        ws.write_string(3, 1, "130131198001010012").unwrap();
        ws.write_string(3, 2, "130131200201").unwrap();
        ws.write_string(5, 0, "赵六").unwrap();
        ws.write_string(5, 1, "130131198001010012").unwrap();
        ws.write_string(5, 2, "1301312002").unwrap();
    });
    let store = store().await;
    let got = rejected(&store, &[p]).await;
    assert_eq!(
        got[..3],
        [
            "formula.xlsx:2:C列(户籍村/组): 单元格是公式 =\"130131\"&\"200201\", 请复制后\"选择性粘贴-数值\"再导入 (formula cell: paste values instead)",
            "formula.xlsx:3:B列(公民身份号码): 公民身份号码 130131197708200228 校验码错误: 第18位应为 9, 实际为 8 (checksum: expected 9)",
            "formula.xlsx:4:A列(姓名): 合并单元格 A4:A5, 请取消合并并在每一行填写 (merged cells)",
        ],
        "{got:#?}"
    );
    assert_eq!(got.len(), 4, "and row 6's area: {got:#?}");
    assert!(got[3].starts_with("formula.xlsx:6:C列(户籍村/组): "), "{got:#?}");
}

/// Names with invisible characters (zero-width space, right-to-left override) or more than 50
/// characters are refused at their cell; 50 characters are fine.
#[tokio::test]
async fn names_with_invisible_characters_or_too_long_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let long = "阿".repeat(51);
    let p = write(
        dir.path(),
        "names.csv",
        format!(
            "{HEADER},配偶姓名\n\
             张\u{200B}三,130131197503120110,,,,,130131200201,,,,\n\
             \u{202E}四李,130131197708200229,,,,,130131200201,,,,\n\
             {long},130131198001010012,,,,,130131200201,,,,\n\
             王五,130131198001010020,,,,,130131200201,,,,赵\u{FEFF}六\n"
        ),
    );
    let store = store().await;
    assert_eq!(
        rejected(&store, &[p]).await,
        vec![
            "names.csv:2:A列(姓名): \"张\\u{200b}三\" 含有不可见字符 U+200B (name contains an invisible character)".to_string(),
            "names.csv:3:A列(姓名): \"\\u{202e}四李\" 含有不可见字符 U+202E (name contains an invisible character)".to_string(),
            format!("names.csv:4:A列(姓名): \"{}…\" 有 51 个字, 超过 50 个字 (name longer than 50 characters)", "阿".repeat(40)),
            "names.csv:5:K列(配偶姓名): \"赵\\u{feff}六\" 含有不可见字符 U+FEFF (name contains an invisible character)".to_string(),
        ]
    );
    let ok = write(dir.path(), "ok.csv", format!("{HEADER}\n{},130131197503120110,,,,,130131200201,,,\n", "阿".repeat(50)));
    assert_eq!(imported(&store, &[ok]).await.persons, 1);
}

/// A bad cell is quoted with at most 40 characters (then …), whatever the column.
#[tokio::test]
async fn a_long_bad_cell_is_quoted_with_at_most_40_characters() {
    let dir = tempfile::tempdir().unwrap();
    let junk = "很长的说明文字".repeat(20);
    let p =
        write(dir.path(), "long.csv", format!("{HEADER}\n张三,130131197503120110,{junk},{junk},,{junk},130131200201,,{junk},\n李四,{junk},,,,,{junk},,,\n"));
    let store = store().await;
    let got = rejected(&store, &[p]).await;
    assert_eq!(got.len(), 6, "{got:#?}");
    let clipped: String = junk.chars().take(40).collect();
    for line in &got {
        assert!(line.contains(&format!("{clipped}…")), "{line}");
        let longest_run = line.split(|c: char| !"很长的说明文字".contains(c)).map(|s| s.chars().count()).max().unwrap();
        assert_eq!(longest_run, 40, "{line}");
    }
}

/// A citizen ID in two files: the error names the other file and its row.
#[tokio::test]
async fn a_duplicate_across_files_names_the_other_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "村一.csv", format!("{HEADER}\n李四,130131197708200229,,,,,130131200201,,,\n张三,130131197503120110,,,,,130131200201,,,\n"));
    let b = write(dir.path(), "村二.csv", format!("{HEADER}\n张叁,130131197503120110,,,,,130131200202,,,\n"));
    let store = store().await;
    assert_eq!(
        rejected(&store, &[a, b]).await,
        vec!["村二.csv:2:B列(公民身份号码): 公民身份号码 130131197503120110 与村一.csv 第3行重复 (duplicate citizen ID in the files)"]
    );
}

/// Event and import dates lie in 1880 … 2200 like every other date: a date cell of 2201 is
/// refused (after the reference date too, but the range is checked first).
#[tokio::test]
async fn dates_after_2200_are_refused_in_cells() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "far.csv", format!("{HEADER}\n张三,130131197503120110,,,,,130131200201,,,2201-01-01\n"));
    let store = store().await;
    assert_eq!(rejected(&store, &[p]).await, vec!["far.csv:2:J列(户籍登记日期): 日期 2201-01-01 晚于2200年, 疑为录入错误 (date after 2200)"]);
}

/// The report CSV starts with the UTF-8 BOM, a name that Excel would run as a formula comes out
/// as text (`'=cmd…`), and negative figures stay numbers.
#[tokio::test]
async fn csv_export_has_a_bom_and_neutralises_formula_names() {
    let store = store().await;
    let village = AreaCode::parse("130131200201").unwrap();
    areas::add_group(&store, &village, 1, "=cmd|' /C calc'!A0", false).await.unwrap();
    let period = renkou_app::report::period(d(2013, 7, 1), d(2014, 6, 30)).unwrap();
    let r = renkou_app::report::build(&store, &renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap()), &village, &period)
        .await
        .unwrap();
    let csv = renkou_app::export::report_csv(&r).unwrap();
    assert_eq!(&csv[..3], b"\xEF\xBB\xBF");
    let text = std::str::from_utf8(&csv[3..]).unwrap();
    assert!(text.contains("\n130131200201001,'=cmd|' /C calc'!A0,2013-07-01/2014-06-30,"), "{text}");
    assert!(!text.contains(",=cmd"), "{text}");
}
