//! `renkou id` and `renkou area` as a user runs them: exit codes and output.
//! Numbers from reference/citizen-ids.toml (copied into renkou-core's tests/data).

mod common;

use common::*;

use std::process::Output;

use serde_json::Value;

/// The reference date of the vectors.
const TODAY: &str = "2026-11-29";

fn id_json(numbers: &[&str]) -> (Output, Vec<Value>) {
    let mut args = vec!["id", "--format", "json", "--today", TODAY];
    args.extend_from_slice(numbers);
    let out = renkou(&args);
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    (out, rows.as_array().unwrap().clone())
}

#[test]
fn valid_and_warn_area_numbers_exit_0_with_all_fields() {
    let (out, rows) = id_json(&["130131195803010010", "990426199112010074", "610104620927690", "44011320141005001x"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rows.len(), 4);

    let v = &rows[0];
    assert_eq!(v["input"], "130131195803010010");
    assert_eq!(v["valid"], true);
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["normalized"], "130131195803010010");
    assert_eq!(v["legacy_15"], false);
    assert_eq!(v["sex"], "male");
    assert_eq!(v["birth_date"], "1958-03-01");
    assert_eq!(v["address_code"], "130131");
    assert_eq!(v["area_name"], "河北省石家庄市平山县");

    let w = &rows[1];
    assert_eq!(w["valid"], true);
    assert_eq!(w["verdict"], "valid-warn-area");
    assert_eq!(w["normalized"], "990426199112010074");
    assert_eq!(w["birth_date"], "1991-12-01");
    assert_eq!(w["sex"], "male");
    assert_eq!(w["address_code"], "990426");
    assert_eq!(w["area_name"], Value::Null);

    let legacy = &rows[2];
    assert_eq!(legacy["verdict"], "valid");
    assert_eq!(legacy["legacy_15"], true);
    assert_eq!(legacy["normalized"], "610104196209276908");
    assert_eq!(legacy["sex"], "female");
    assert_eq!(legacy["area_name"], "陕西省西安市莲湖区");

    assert_eq!(rows[3]["normalized"], "44011320141005001X");
    assert_eq!(rows[3]["area_name"], "广东省广州市番禺区");
}

#[test]
fn any_invalid_number_exits_1_and_names_the_part() {
    let (out, rows) = id_json(&["130131196007150025", "36042619910102009X", "44030819990110", "360426199113010079"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rows[0]["verdict"], "valid");
    assert_eq!(rows[0]["sex"], "female");
    let bad = &rows[1];
    assert_eq!(bad["input"], "36042619910102009X");
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["verdict"], "invalid-checksum");
    assert_eq!(bad["error"], "校验码错误: 第18位应为 3, 实际为 X (checksum: expected 3)");
    for field in ["normalized", "legacy_15", "sex", "birth_date", "address_code", "area_name"] {
        assert_eq!(bad[field], Value::Null, "{field}");
    }
    assert_eq!(rows[2]["verdict"], "invalid-length");
    assert_eq!(rows[3]["verdict"], "invalid-date");
}

#[test]
fn a_birth_date_after_today_is_invalid() {
    // 130131202101010035 (research notes §1.5) is born 2021-01-01.
    let (out, rows) = id_json(&["130131202101010035"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(rows[0]["verdict"], "valid");
    let out = renkou(&["id", "--format", "json", "--today", "2020-12-31", "130131202101010035"]);
    assert_eq!(out.status.code(), Some(1));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows[0]["verdict"], "invalid-date");
}

#[test]
fn the_table_speaks_chinese() {
    let out = renkou(&["id", "--today", TODAY, "13013119850101006X", "990426199112010074", "T60426199101010078"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for expected in ["有效", "有效，地区码不在区划表中", "无效: 格式错误", "女", "男", "1985-01-01", "河北省石家庄市平山县", "990426 (未知)"]
    {
        assert!(text.contains(expected), "{expected:?} missing in\n{text}");
    }
}

#[test]
fn area_commands_build_and_show_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let db = db.to_str().unwrap();
    let csv = dir.path().join("new.csv");
    std::fs::write(&csv, "code,name\n130131200224,新村民委员会\n").unwrap();

    // A fresh database gets the bundled table (4,110 areas) and then the file.
    let out = renkou(&["area", "import", "--db", db, csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("已导入 1 个区划"), "{}", stdout(&out));
    assert!(stdout(&out).contains("数据库中共有 4111 个区划"), "{}", stdout(&out));

    let out = renkou(&["area", "add-group", "--db", db, "--village", "130131200201", "--number", "2", "--name", "二组"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("130131200201002 河北省石家庄市平山县西大吾乡西大吾村民委员会二组"), "{}", stdout(&out));

    let out = renkou(&["area", "list", "--db", db, "130131200000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("130131200 河北省石家庄市平山县西大吾乡: 下级区划 24 个"), "{text}");
    assert!(text.contains("冀家沟村民委员会") && text.contains("新村民委员会"), "{text}");

    // With --db, the ID's area name comes from the database.
    let out = renkou(&["id", "--format", "json", "--db", db, "--today", TODAY, "130131195803010010"]);
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows[0]["area_name"], "河北省石家庄市平山县");

    // A bad row: rejected with file:row:column, nothing written, exit 1.
    std::fs::write(&csv, "code,name\n130131200225,\n").unwrap();
    let out = renkou(&["area", "import", "--db", db, csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2:B列(name): 区划 130131200225 的名称为空", csv.display())), "{err}");

    let out = renkou(&["area", "add-group", "--db", db, "--village", "130131200", "--number", "1", "--name", "一组"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("不是行政村"), "{}", stderr(&out));
}
