//! The import page (upload, progress, summary, per-row errors as CSV, refusals that leave the
//! register untouched), the correction form (validated, audited with old values and reason,
//! scoped), and forms that survive an expired session. Same fixture as `web.rs`, plus a
//! township staff user `staff`.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::*;
use renkou_app::auth::Role;
use renkou_app::Store;
use renkou_core::citizen_id::CitizenId;

/// The common fixture plus a township staff user `staff`.
async fn fixture() -> Fixture {
    common::fixture(&[("staff", Role::TownshipStaff, TOWNSHIP)]).await
}

// ------------------------------------------------------------------------------------------
// Import page.

const BOUNDARY: &str = "renkouTestBoundary7MA4YWxkTrZu0gW";

/// A multipart body: the CSRF field, then each `(file name, bytes)` as a `files` part.
fn multipart(csrf: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").as_bytes());
    for (name, bytes) in files {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn upload(router: &Router, cookie: &str, body: Vec<u8>) -> Resp {
    send(
        router,
        Request::post("/import")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Follows an upload's redirect to its job and waits until the job has finished; returns the
/// job page and the job id.
async fn finished_job(router: &Router, cookie: &str, r: &Resp) -> (Resp, String) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    let id = loc.rsplit('/').next().unwrap().to_string();
    for _ in 0..500 {
        let p = get(router, &format!("{loc}/progress"), cookie).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        if v["finished"] == true {
            return (get(router, &loc, cookie).await, id);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("import job did not finish");
}

fn persons_csv(rows: &[(&str, &str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from("姓名,公民身份号码,性别,出生日期,民族,婚姻状况,户籍村/组,户号,与户主关系\n");
    for (name, id, sex, birth, hh, rel) in rows {
        s.push_str(&format!("{name},{id},{sex},{birth},汉族,未婚,{V1},{hh},{rel}\n"));
    }
    s.into_bytes()
}

fn cid(birth: &str, seq: u16) -> String {
    CitizenId::from_parts("130131", d(birth), seq).unwrap().to_string()
}

#[tokio::test]
async fn staff_import_a_csv_and_see_the_summary_and_the_audit_entry() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "staff").await;
    let dash = format!("/?area={TOWNSHIP}&from=2024-01-01&to=2024-12-31");
    assert_eq!(figure(&get(&f.router, &dash, &cookie).await.body, "population_end", V1), "3");
    let form = get(&f.router, "/import", &cookie).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("enctype=\"multipart/form-data\"") && form.body.contains("/assets/import.js"));
    let (a, b) = (cid("1990-01-01", 11), cid("1992-02-02", 22));
    let csv = persons_csv(&[("赵一", &a, "男", "1990-01-01", "V1-100", "户主"), ("钱二", &b, "女", "1992-02-02", "V1-100", "配偶")]);
    let r = upload(&f.router, &cookie, multipart(&csrf, &[("新增人员.csv", &csv)])).await;
    let (page, id) = finished_job(&f.router, &cookie, &r).await;
    assert!(page.body.contains("data-state=\"done\""), "{}", page.body);
    assert!(page.body.contains("<td class=\"num\" data-key=\"persons\">2</td>"), "{}", page.body);
    assert!(page.body.contains("<td class=\"num\" data-key=\"households\">1</td>"));
    assert!(page.body.contains("新增人员.csv (2 行)"));
    assert_eq!(f.store.person_count().await.unwrap(), 6);
    // The dashboard (cached per area and period) shows them at once.
    assert_eq!(figure(&get(&f.router, &dash, &cookie).await.body, "population_end", V1), "5");
    // The new persons are searchable by pinyin initials at once.
    assert!(search(&f.router, &cookie, &csrf, "zy").await.body.contains("赵一"));
    let progress: serde_json::Value = serde_json::from_str(&get(&f.router, &format!("/import/jobs/{id}/progress"), &cookie).await.body).unwrap();
    assert_eq!(progress["state"], "done");
    assert_eq!(progress["percent"], 100);
    let (admin, _) = login(&f.router, "admin").await;
    let audit = get(&f.router, "/audit?action=import", &admin).await.body;
    assert!(audit.contains("<td>staff</td><td>import.upload</td>"), "{audit}");
    assert!(audit.contains("&quot;persons&quot;:2"), "{audit}");
    // Another user cannot see the job.
    assert_eq!(get(&f.router, &format!("/import/jobs/{id}"), &admin).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rejected_import_lists_each_row_and_offers_the_errors_as_csv() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let good = cid("1990-01-01", 11);
    let mut bad = cid("1992-02-02", 22);
    bad.replace_range(17.., if bad.ends_with('0') { "1" } else { "0" }); // wrong check character
    let csv = persons_csv(&[
        ("赵一", &good, "男", "1990-01-01", "V1-100", "户主"),
        ("钱二", &bad, "女", "1992-02-02", "V1-100", "配偶"),
        ("孙三", &good, "男", "1990-01-01", "V1-101", "户主"),
    ]);
    let r = upload(&f.router, &cookie, multipart(&csrf, &[("people.csv", &csv)])).await;
    let (page, id) = finished_job(&f.router, &cookie, &r).await;
    assert!(page.body.contains("data-state=\"rejected\""), "{}", page.body);
    assert!(page.body.contains("<span id=\"problem-count\">2</span>"), "{}", page.body);
    assert!(page.body.contains("<td>people.csv</td><td class=\"num\">3</td><td>B列(公民身份号码)</td>"), "{}", page.body);
    assert!(page.body.contains("<td>people.csv</td><td class=\"num\">4</td><td>B列(公民身份号码)</td>"), "{}", page.body);
    assert_eq!(f.store.person_count().await.unwrap(), 4, "nothing written");
    let csv = get(&f.router, &format!("/import/jobs/{id}/errors.csv"), &cookie).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap().contains("attachment"));
    let lines: Vec<&str> = csv.body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "文件,行,列,原因");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[1].starts_with("people.csv,3,B列(公民身份号码),") && lines[1].contains("校验码"), "{}", lines[1]);
    assert!(lines[2].starts_with("people.csv,4,B列(公民身份号码),") && lines[2].contains(&good), "{}", lines[2]);
    let (admin, _) = login(&f.router, "admin").await;
    assert!(get(&f.router, "/audit?action=import.rejected", &admin).await.body.contains("&quot;rejected&quot;:2"));
}

#[tokio::test]
async fn oversized_malformed_and_unsupported_uploads_are_refused_without_touching_the_register() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    // Declared too large: refused before reading.
    let r = send(
        &f.router,
        Request::post("/import")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .header(header::CONTENT_LENGTH, (60u64 << 20).to_string())
            .body(Body::from(multipart(&csrf, &[("a.csv", b"x")])))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("上传的文件过大") && r.body.contains("50.0 MiB"), "{}", r.body);
    // Really too large (no length declared): refused while streaming.
    let big = vec![b'a'; (renkou_web::import::MAX_UPLOAD + 1024) as usize];
    let r = upload(&f.router, &cookie, multipart(&csrf, &[("big.csv", &big)])).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("上传的文件过大"));
    // Malformed: not multipart, or a broken body.
    let r = post(&f.router, "/import", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("上传格式有误"), "{}", r.body);
    let mut broken = multipart(&csrf, &[("a.csv", b"abc")]);
    broken.truncate(broken.len() - 30);
    let r = upload(&f.router, &cookie, broken).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Unsupported type, empty file, no file, no CSRF token.
    let r = upload(&f.router, &cookie, multipart(&csrf, &[("old.xls", b"\xd0\xcf\x11\xe0")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("文件 old.xls: 只能导入 .csv、.txt 或 .xlsx 文件"), "{}", r.body);
    let r = upload(&f.router, &cookie, multipart(&csrf, &[("empty.csv", b"")])).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("文件 empty.csv 是空的"), "{}", r.body);
    let r = upload(&f.router, &cookie, multipart(&csrf, &[])).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("请选择要导入的文件"));
    let r = upload(&f.router, &cookie, multipart("wrong", &[("a.csv", b"x")])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A garbage .xlsx is read, rejected with its name, and writes nothing.
    let r = upload(&f.router, &cookie, multipart(&csrf, &[("book.xlsx", b"not a zip")])).await;
    let (page, _) = finished_job(&f.router, &cookie, &r).await;
    assert!(page.body.contains("data-state=\"rejected\"") && page.body.contains("book.xlsx"), "{}", page.body);
    assert_eq!(f.store.person_count().await.unwrap(), 4);
}

#[tokio::test]
async fn only_township_staff_and_admins_may_import() {
    let f = fixture().await;
    for user in ["spec1", "boss"] {
        let (cookie, csrf) = login(&f.router, user).await;
        assert_eq!(get(&f.router, "/import", &cookie).await.status, StatusCode::FORBIDDEN, "{user}");
        let r = upload(&f.router, &cookie, multipart(&csrf, &[("a.csv", b"x")])).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
        assert!(!get(&f.router, "/", &cookie).await.body.contains("href=\"/import\""), "{user} sees no import link");
    }
    let (cookie, _) = login(&f.router, "staff").await;
    assert!(get(&f.router, "/", &cookie).await.body.contains("href=\"/import\""));
}

#[test]
fn problems_split_into_file_row_column_and_reason() {
    use renkou_web::import::{problems_csv, safe_file_name, split_problem};
    let p = split_problem("a.csv:12:B列(公民身份号码): 校验码错误: 应为 X");
    assert_eq!((p.file.as_str(), p.row.as_str(), p.column.as_str(), p.reason.as_str()), ("a.csv", "12", "B列(公民身份号码)", "校验码错误: 应为 X"));
    let p = split_problem("数据冲突: 没有可结束的婚姻");
    assert_eq!((p.file.as_str(), p.row.as_str(), p.reason.as_str()), ("", "", "数据冲突: 没有可结束的婚姻"));
    assert_eq!(safe_file_name("C:\\Users\\x\\人员:1.csv"), "人员_1.csv");
    assert_eq!(safe_file_name("../../etc/passwd.csv"), "passwd.csv");
    let csv = String::from_utf8(problems_csv(&["a.csv:2:-: 空行, \"引号\"".into()])).unwrap();
    assert_eq!(csv, "\u{feff}文件,行,列,原因\na.csv,2,-,\"空行, \"\"引号\"\"\"\n");
}

// ------------------------------------------------------------------------------------------
// Correction form.

#[tokio::test]
async fn a_correction_changes_the_fields_and_audits_old_values_and_reason() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let form = get(&f.router, &format!("/persons/{}/correct", f.zhang_wei), &cookie).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"name\" value=\"张伟\"") && form.body.contains(&format!("value=\"{}\"", f.zhang_wei_id)), "{}", form.body);
    assert!(get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await.body.contains("/correct\""), "detail page links the form");
    // Birth date and citizen ID corrected together (the ID's date and sex must agree).
    let new_id = CitizenId::from_parts("130131", d("1980-01-02"), 11).unwrap().to_string();
    let uri = format!("/persons/{}/correct", f.zhang_wei);
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "张卫"),
        ("sex", "男"),
        ("birth_date", "1980-01-02"),
        ("ethnicity", "回族"),
        ("marital_status", "已婚"),
        ("citizen_id", &new_id),
        ("reason", "以户口簿为准"),
    ];
    let r = post(&f.router, &uri, &cookie, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await.body;
    assert!(page.contains("<h1>张卫") && page.contains(&new_id) && page.contains("1980-01-02") && page.contains("回族"), "{page}");
    // Found by the new name's initials, no longer by the old ID.
    assert!(search(&f.router, &cookie, &csrf, "zw").await.body.contains("张卫"));
    assert!(search(&f.router, &cookie, &csrf, &f.zhang_wei_id).await.body.contains("<span id=\"result-count\">0</span>"));
    let (admin, _) = login(&f.router, "admin").await;
    let audit = get(&f.router, "/audit?action=person.correct", &admin).await.body;
    assert!(audit.contains("<td>spec1</td><td>person.correct</td>"), "{audit}");
    let old = format!("{{&quot;birth_date&quot;:&quot;1980-01-01&quot;,&quot;citizen_id&quot;:&quot;{}&quot;,&quot;ethnicity&quot;:&quot;汉族&quot;,&quot;name&quot;:&quot;张伟&quot;}}", f.zhang_wei_id);
    assert!(audit.contains(&old), "old values: {audit}");
    assert!(audit.contains("&quot;reason&quot;:&quot;以户口簿为准&quot;"), "{audit}");
}

#[tokio::test]
async fn an_invalid_correction_comes_back_with_messages_per_field_and_changes_nothing() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let uri = format!("/persons/{}/correct", f.li_na);
    let mut bad_id = f.zhang_wei_id.clone();
    bad_id.replace_range(17.., if bad_id.ends_with('0') { "1" } else { "0" });
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", ""),
        ("sex", "未知"),
        ("birth_date", "1985-02-30"),
        ("ethnicity", "汉族"),
        ("marital_status", "同居"),
        ("citizen_id", &bad_id),
        ("reason", ""),
    ];
    let r = post(&f.router, &uri, &cookie, &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for (field, msg) in [
        ("name", "请填写姓名"),
        ("sex", "请选择性别"),
        ("birth_date", "日期格式应为 年-月-日"),
        ("marital_status", "婚姻状况应为"),
        ("citizen_id", "校验码错误"),
        ("reason", "请填写更正原因"),
    ] {
        assert!(r.body.contains(&format!("data-field=\"{field}\">{msg}")), "{field}: {}", r.body);
    }
    assert!(r.body.contains("value=\"1985-02-30\""), "input kept");
    // The ID of another person, an ID that disagrees with the birth date, and no change at all.
    let li_na_form = get(&f.router, &uri, &cookie).await.body;
    let li_na_id = li_na_form.split("name=\"citizen_id\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let base = |id: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.clone()),
            ("name", "李娜".into()),
            ("sex", "女".into()),
            ("birth_date", "1985-05-05".into()),
            ("ethnicity", "汉族".into()),
            ("marital_status", "已婚".into()),
            ("citizen_id", id.into()),
            ("reason", "核对".into()),
        ]
    };
    let taken: &'static str = Box::leak(f.zhang_wei_id.clone().into_boxed_str());
    let fields = base(taken);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&f.router, &uri, &cookie, &fields).await;
    assert!(r.body.contains("data-field=\"citizen_id\">身份号码中的出生日期 1980-01-01 与出生日期 1985-05-05 不符"), "{}", r.body);
    let same: &'static str = Box::leak(li_na_id.clone().into_boxed_str());
    let unchanged = base(same);
    let unchanged: Vec<(&str, &str)> = unchanged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&f.router, &uri, &cookie, &unchanged).await;
    assert!(r.body.contains("data-field=\"reason\">没有需要更正的内容"), "{}", r.body);
    let page = get(&f.router, &format!("/persons/{}", f.li_na), &cookie).await.body;
    assert!(page.contains("<h1>李娜") && page.contains(&li_na_id) && page.contains("1985-05-05"));
    let (admin, _) = login(&f.router, "admin").await;
    assert!(!get(&f.router, "/audit?action=person.correct", &admin).await.body.contains("person.correct</td>"));
}

#[tokio::test]
async fn a_specialist_cannot_correct_a_person_of_another_village_and_a_leader_cannot_correct() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let uri = format!("/persons/{}/correct", f.wang_fang);
    assert_eq!(get(&f.router, &uri, &cookie).await.status, StatusCode::NOT_FOUND);
    let r = post(
        &f.router,
        &uri,
        &cookie,
        &[("csrf", &csrf), ("name", "王芳芳"), ("sex", "女"), ("birth_date", "1990-02-02"), ("ethnicity", "汉族"), ("marital_status", "已婚"), ("reason", "x")],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (boss, boss_csrf) = login(&f.router, "boss").await;
    assert_eq!(get(&f.router, &format!("/persons/{}/correct", f.zhang_wei), &boss).await.status, StatusCode::FORBIDDEN);
    let r = post(&f.router, &format!("/persons/{}/correct", f.zhang_wei), &boss, &[("csrf", &boss_csrf), ("name", "x"), ("reason", "x")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (admin, _) = login(&f.router, "admin").await;
    let page = get(&f.router, &format!("/persons/{}", f.wang_fang), &admin).await.body;
    assert!(page.contains("<h1>王芳"));
}

// ------------------------------------------------------------------------------------------
// Expired sessions.

/// Expires every session (as if the 8 hours had passed).
async fn expire_sessions(store: &Store) {
    renkou_store::db::query("UPDATE session SET expires_at = '2000-01-01T00:00:00Z'").execute(&store).await.unwrap();
}

/// After a POST with an expired session: follows the redirect to the login page, logs in there
/// and follows the redirect back; returns the page shown and the new session cookie. No
/// `Location` header on the way may carry a value of the form (`values`): the input is kept
/// server-side and only a one-time token travels. `typed` are values that only the kept input
/// can bring back: a second visit of the same address must not show them (one use only).
async fn login_again(router: &Router, r: &Resp, user: &str, values: &[&str], typed: &[&str]) -> (Resp, String) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let login_uri = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert!(login_uri.starts_with("/login?next="), "{login_uri}");
    assert_no_values(&login_uri, values);
    // The cookie that binds the kept input to this browser.
    let form_cookie = format!("renkou_form={}", set_cookie_value(r, "renkou_form").expect("form cookie"));
    let page = get(router, &login_uri, &form_cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = set_cookie_value(&page, "renkou_login_csrf").unwrap();
    let next = page.body.split("name=\"next\" value=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert_no_values(&next, values);
    let r = post(
        router,
        "/login",
        &format!("renkou_login_csrf={token}; {form_cookie}"),
        &[("username", user), ("password", PASSWORD), ("csrf", &token), ("next", &next)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cookie = format!("renkou_session={}", set_cookie_value(&r, "renkou_session").unwrap());
    let back = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert_no_values(&back, values);
    assert!(back.contains("restore="), "{back}");
    let page = get(router, &back, &format!("{cookie}; {form_cookie}")).await;
    // One use only: the same address again shows the form without the kept input.
    let again = get(router, &back, &format!("{cookie}; {form_cookie}")).await;
    assert_eq!(again.status, StatusCode::OK);
    for v in typed {
        assert!(!again.body.contains(&format!("value=\"{}\"", v.replace('&', "&amp;"))), "{v} restored twice");
    }
    (page, cookie)
}

/// None of `values` appears in `location`, raw or percent-encoded.
fn assert_no_values(location: &str, values: &[&str]) {
    for v in values {
        assert!(!location.contains(v) && !location.contains(&urlencode(v)), "{v:?} in {location}");
    }
}

#[tokio::test]
async fn an_expired_session_returns_to_login_and_the_event_forms_input_is_kept() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    expire_sessions(&f.store).await;
    let mother = f.li_na.to_string();
    let fields = [("csrf", csrf.as_str()), ("mother_id", &mother), ("name", "张小&宝"), ("sex", "女"), ("birth_date", "2024-05-01"), ("policy", "政策内")];
    let r = post(&f.router, "/events/birth", &cookie, &fields).await;
    assert_eq!(f.store.person_count().await.unwrap(), 4, "nothing recorded without a session");
    let (form, cookie) = login_again(&f.router, &r, "admin", &["张小&宝", "2024-05-01", "政策内"], &["张小&宝", "2024-05-01"]).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(&format!("id=\"mother_id\" name=\"mother_id\" value=\"{mother}\"")), "{}", form.body);
    assert!(form.body.contains("id=\"name\" name=\"name\" value=\"张小&amp;宝\""), "{}", form.body);
    assert!(form.body.contains("id=\"birth_date\" name=\"birth_date\" value=\"2024-05-01\""));
    assert!(form.body.contains("<option value=\"女\" selected>女</option>"));
    assert!(form.body.contains("<option value=\"政策内\" selected>政策内</option>"));
    // The restored form submits with the new session's token.
    let csrf = csrf_of(&form.body);
    let fields = [("csrf", csrf.as_str()), ("mother_id", &mother), ("name", "张小&宝"), ("sex", "女"), ("birth_date", "2024-05-01"), ("policy", "政策内")];
    let r = post(&f.router, "/events/birth", &cookie, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(f.store.person_count().await.unwrap(), 5);
}

#[tokio::test]
async fn an_expired_session_keeps_the_correction_forms_input() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    expire_sessions(&f.store).await;
    let uri = format!("/persons/{}/correct", f.zhang_wei);
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "张卫"),
        ("sex", "男"),
        ("birth_date", "1980-01-01"),
        ("ethnicity", "汉族"),
        ("marital_status", "已婚"),
        ("citizen_id", &f.zhang_wei_id),
        ("reason", "户口簿为准"),
    ];
    let r = post(&f.router, &uri, &cookie, &fields).await;
    let (form, _) = login_again(&f.router, &r, "spec1", &[&f.zhang_wei_id, "张卫", "户口簿为准"], &["张卫", "户口簿为准"]).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("id=\"name\" name=\"name\" value=\"张卫\""), "{}", form.body);
    assert!(form.body.contains("name=\"reason\" value=\"户口簿为准\""), "{}", form.body);
    assert!(form.body.contains("原值: 张伟"), "the old value is shown beside the kept input");
}

// ------------------------------------------------------------------------------------------
// English switch.

#[tokio::test]
async fn lang_en_switches_navigation_and_figure_names_and_is_remembered() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "admin").await;
    let zh = get(&f.router, "/", &cookie).await;
    assert!(zh.body.contains("<html lang=\"zh-CN\">") && zh.body.contains(">统计概览</a>") && !zh.body.contains("Crude birth rate"));
    assert!(zh.body.contains("href=\"?lang=en\""));
    let en = get(&f.router, "/?lang=en", &cookie).await;
    assert!(en.headers.get_all(header::SET_COOKIE).iter().any(|v| v.to_str().unwrap().starts_with("renkou_lang=en;")));
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains(">Dashboard</a>") && en.body.contains(">Persons</a>"), "{}", en.body);
    assert!(en.body.contains(">Crude birth rate</td>") && en.body.contains(">Same period last year</th>"), "{}", en.body);
    // Remembered by the cookie; ?lang=zh goes back.
    let again = get(&f.router, "/persons", &format!("{cookie}; renkou_lang=en")).await;
    assert!(again.body.contains(">Dashboard</a>") && again.body.contains("href=\"?lang=zh\""));
    let back = get(&f.router, "/?lang=zh", &format!("{cookie}; renkou_lang=en")).await;
    assert!(back.body.contains(">统计概览</a>"));
}
