//! The English switch: `?lang=en` (or `?lang=zh`) on any page sets the `renkou_lang` cookie;
//! pages then show navigation, titles of the main pages and figure names in English. Chinese is
//! the default and the language of everything not in the small dictionary below.
//!
//! The language of a request is a task-local value set by [`middleware`], so that the page
//! frame ([`crate::view::page`]) can read it without every handler passing it along.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use renkou_core::stats::Definition;

/// Name of the language cookie.
pub const LANG_COOKIE: &str = "renkou_lang";

/// A user interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文 (default).
    Zh,
    /// English.
    En,
}

tokio::task_local! {
    static LANG: Lang;
}

/// The language of the current request (Chinese outside a request).
pub fn current() -> Lang {
    LANG.try_with(|l| *l).unwrap_or(Lang::Zh)
}

/// Chinese text → English, for the words in the dictionary; anything else stays Chinese.
const DICTIONARY: &[(&str, &str)] = &[
    ("人口计生信息系统", "Population register"),
    ("统计概览", "Dashboard"),
    ("村民小组", "Villager groups"),
    ("人员查询", "Persons"),
    ("事件登记", "Record events"),
    ("数据导入", "Import"),
    ("逻辑校验", "Checks"),
    ("审计日志", "Audit log"),
    ("用户管理", "Users"),
    ("退出", "Log out"),
    ("退出登录", "Log out"),
    ("我的账号", "My account"),
    ("修改密码", "Change password"),
    ("登录", "Log in"),
    ("用户名", "Username"),
    ("密码", "Password"),
    ("主要指标", "Main figures"),
    ("指标", "Figure"),
    ("本期", "This period"),
    ("上年同期", "Same period last year"),
    ("单位", "Unit"),
    ("查询", "Search"),
    ("下载 Excel", "Download Excel"),
    ("下载 CSV", "Download CSV"),
    ("打印报表", "Print report"),
    ("人口统计概览", "population dashboard"),
    ("错误", "Error"),
    ("返回首页", "Home"),
];

/// `zh` in the request's language.
pub fn t(zh: &'static str) -> &'static str {
    match current() {
        Lang::Zh => zh,
        Lang::En => DICTIONARY.iter().find(|(z, _)| *z == zh).map_or(zh, |(_, e)| e),
    }
}

/// A figure's name in the request's language (English from its key: `crude_birth_rate` →
/// `Crude birth rate`).
pub fn figure_name(d: &Definition) -> String {
    match current() {
        Lang::Zh => d.name_zh.to_string(),
        Lang::En => {
            let s = d.key.replace('_', " ");
            let mut c = s.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

/// The `lang` attribute of `<html>`.
pub fn html_lang() -> &'static str {
    match current() {
        Lang::Zh => "zh-CN",
        Lang::En => "en",
    }
}

fn from_query(q: &str) -> Option<Lang> {
    q.split('&').find_map(|kv| match kv {
        "lang=en" => Some(Lang::En),
        "lang=zh" => Some(Lang::Zh),
        _ => None,
    })
}

/// Sets the request's language from `?lang=` (remembered in the cookie) or the cookie.
pub async fn middleware(req: Request, next: Next) -> Response {
    let asked = req.uri().query().and_then(from_query);
    let lang = asked.unwrap_or_else(|| match crate::http::cookie(req.headers(), LANG_COOKIE).as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    });
    let mut resp = LANG.scope(lang, next.run(req)).await;
    if let Some(l) = asked {
        let v = if l == Lang::En { "en" } else { "zh" };
        if let Ok(h) = HeaderValue::from_str(&format!("{LANG_COOKIE}={v}; Path=/; SameSite=Lax; Max-Age=31536000")) {
            resp.headers_mut().append(header::SET_COOKIE, h);
        }
    }
    resp
}
