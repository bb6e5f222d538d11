//! Page layout and small rendering helpers (maud escapes every interpolated value).

use axum::http::StatusCode;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::lang::t;
use renkou_app::auth::{Caller, User};
use renkou_app::check::Violation;
use renkou_app::report::{self, Report};
use renkou_core::area::AreaCode;
use renkou_core::period::Period;
use renkou_core::rules::Importance;
use renkou_core::stats::{definition, Figures};

/// Percent-encodes a query-string component.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` text (a form body or a query string) into
/// its name/value pairs, in order (`+` is a space; invalid UTF-8 is replaced).
pub fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => match ((b[i + 1] as char).to_digit(16), (b[i + 2] as char).to_digit(16)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                },
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// JSON for a `<script type="application/json">` block: `<` is escaped so that no string in
/// the data can close the script element.
pub fn json_script(v: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(v.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026"))
}

/// The page frame: header with the user's name, role and area, navigation, content.
pub fn page(title: &str, user: Option<(&User, &str)>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(crate::lang::html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " - " (t("人口计生信息系统")) }
                link rel="stylesheet" href="/assets/app.css";
            }
            body {
                header.top {
                    a.brand href="/" { (t("人口计生信息系统")) }
                    @if let Some((u, csrf)) = user {
                        @let may = renkou_app::gate::permissions_of(u);
                        nav {
                            a href="/" { (t("统计概览")) }
                            @if may.view_persons {
                                a href="/persons" { (t("人员查询")) }
                            }
                            @if may.record_events {
                                a href="/events/birth" { (t("事件登记")) }
                            }
                            @if may.view_persons {
                                a href="/check" { (t("逻辑校验")) }
                            }
                            @if may.view_monthly {
                                a href="/monthly" { (t("月报")) }
                            }
                            @if may.manage_groups {
                                a href="/groups" { (t("村民小组")) }
                            }
                            @if may.import_files {
                                a href="/import" { (t("数据导入")) }
                            }
                            @if may.view_audit {
                                a href="/audit" { (t("审计日志")) }
                            }
                            @if may.manage_users {
                                a href="/users" { (t("用户管理")) }
                            }
                        }
                        a.who href="/account" title=(t("我的账号")) { (u.display_name) " · " (u.role.name_zh()) " · " (u.area.as_str()) }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { (t("退出")) }
                        }
                    }
                    @if crate::lang::current() == crate::lang::Lang::En {
                        a.lang href="?lang=zh" { "中文" }
                    } @else {
                        a.lang href="?lang=en" { "English" }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// An error page with the status and the message.
pub fn error_page(status: StatusCode, msg: &str) -> Markup {
    page(
        "错误",
        None,
        html! {
            section.error {
                h1 { (status.as_u16()) }
                p.message { (msg) }
                p { a href="/" { "返回首页" } }
            }
        },
    )
}

/// 男 / 女.
pub fn sex_zh(sex: renkou_core::register::Sex) -> &'static str {
    sex.name_zh()
}

/// 户籍 / 流入 / 流出.
pub fn kind_zh(kind: renkou_core::register::ResidenceKind) -> &'static str {
    kind.name_zh()
}

/// 政策内 / 政策外, or nothing when not recorded.
pub fn policy_zh(policy: Option<renkou_core::register::PolicyClass>) -> &'static str {
    policy.map_or("", |p| p.name_zh())
}

/// A date or an empty string.
pub fn opt_date(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

// ------------------------------------------------------------------------------------------
// Figures (dashboard, report print, drill-down pages).

pub(crate) fn report_qs(area: &AreaCode, p: &Period) -> String {
    format!("area={}&from={}&to={}", area.as_str(), p.first, p.last)
}

pub(crate) fn fig(f: &Figures, key: &str) -> String {
    f.get(key).and_then(|x| x.rounded.clone()).unwrap_or_else(|| "—".into())
}

pub(crate) const VILLAGE_COLUMNS: &[&str] = &[
    "population_end",
    "births",
    "births_male",
    "births_female",
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

pub(crate) fn header_of(key: &str) -> String {
    let d = definition(key).expect("known key");
    match d.unit.suffix() {
        "" | "人" => d.name_zh.to_string(),
        s => format!("{}({s})", d.name_zh),
    }
}

/// A figure value, linked to its records when the user may see them.
pub(crate) fn fig_cell(f: &Figures, key: &str, area: &AreaCode, p: &Period, link: bool) -> Markup {
    let v = fig(f, key);
    let explainable = link && report::explainable_keys().contains(&key);
    html! {
        td.num data-key=(key) data-area=(area.as_str()) {
            @if explainable { a href={ "/explain?key=" (key) "&" (report_qs(area, p)) } { (v) } } @else { (v) }
        }
    }
}

pub(crate) fn period_form(action: &str, area: &AreaCode, p: &Period, r: &Report, caller: &Caller) -> Markup {
    html! {
        form.period method="get" action=(action) {
            label { "地区 " select name="area" {
                option value=(caller.user.area.as_str()) selected[area == &caller.user.area] { "本级 " (caller.user.area.as_str()) }
                @if area != &caller.user.area { option value=(area.as_str()) selected { (r.area.name) } }
                @for c in &r.children { @if c.area.code != *area { option value=(c.area.code.as_str()) { (c.area.name) } } }
            } }
            label { "开始 " input type="date" name="from" value=(p.first); }
            label { "结束 " input type="date" name="to" value=(p.last); }
            button type="submit" { "查询" }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Logic-check findings (check page, warnings after a save).

pub(crate) fn importance_class(i: Importance) -> &'static str {
    match i {
        Importance::Error => "error",
        Importance::Warning => "warning",
    }
}

/// The record a violation names, linked to its page.
pub(crate) fn violation_record(v: &Violation) -> Markup {
    html! {
        @if let Some(p) = &v.person {
            a href={ "/persons/" (p.id) } { (p.name) }
            " " span.mono { (p.citizen_id_masked.clone().unwrap_or_default()) }
            " " span.sub { "编号 " (p.id) }
        } @else if let Some(h) = &v.household {
            a href={ "/households/" (h.id) } { "户号 " (h.household_no) }
        } @else {
            "汇总数 " (v.village)
        }
    }
}

pub(crate) fn violation_values(v: &Violation) -> Markup {
    html! { @for (k, x) in &v.values { span.value { b { (k) ": " } (x) } " " } }
}
