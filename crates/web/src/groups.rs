//! Villager groups (村民小组) page: the villages of the user's area with their groups, a form to
//! add a group or rename one, and the way to assign persons or households to a group (the
//! `group` event form). The app decides who may do what ([`renkou_app::areas::add_group_for`]).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::areas::{self, VillageGroups};
use renkou_app::AppError;
use renkou_core::area::AreaCode;

use crate::error::WebError;
use crate::session::{Auth, CsrfForm};
use crate::view::page;
use crate::AppState;

/// The feature's routes.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route("/groups", get(groups).post(groups_submit))
}

fn groups_page(a: &Auth, list: &[VillageGroups], values: &BTreeMap<String, String>, errors: &[(String, String)]) -> Markup {
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let body = html! {
        h1 { "村民小组" }
        p.sub { "每个行政村的村民小组 (组代码 = 村的12位代码 + 3位组号)。把人员或整户分到小组: 在人员页点 " a href="/events/group" { "分配小组" } "。" }
        @if !errors.is_empty() { p.error #form-errors { @for (_, m) in errors { (m) br; } } }
        form.event #group-form method="post" action="/groups" {
            input type="hidden" name="csrf" value=(a.csrf);
            div.field { label for="village" { "行政村" }
                select #village name="village" { @for vg in list { option value=(vg.village.code.as_str()) selected[v("village") == vg.village.code.as_str()] { (vg.village.name) " " (vg.village.code.as_str()) } } } }
            div.field { label for="number" { "组号" } input #number type="text" inputmode="numeric" name="number" value=(v("number")); span.hint { "1-999" } }
            div.field { label for="name" { "名称" } input #name type="text" name="name" value=(v("name")); span.hint { "如 一组" } }
            div.field { label for="rename" { "已有小组" } select #rename name="rename" { option value="" { "不改名" } option value="1" selected[v("rename") == "1"] { "改名" } } }
            button type="submit" { "保存" }
        }
        div.scroll {
            table.list #groups {
                thead { tr { th { "行政村" } th { "村民小组" } } }
                tbody { @for vg in list { tr {
                    td { (vg.village.name) br; span.mono { (vg.village.code.as_str()) } }
                    td { @for g in &vg.groups { span.tag data-code=(g.code.as_str()) { (g.name) " " (g.code.as_str()) } " " } @if vg.groups.is_empty() { "(无)" } }
                } } }
            }
        }
    };
    page("村民小组", Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /groups`.
pub async fn groups(State(st): State<AppState>, a: Auth) -> Result<Markup, WebError> {
    let list = areas::groups_of(&st.store, &a.caller).await?;
    Ok(groups_page(&a, &list, &BTreeMap::new(), &[]))
}

/// `POST /groups`: adds or renames a group; errors come back on the page (422).
pub async fn groups_submit(State(st): State<AppState>, CsrfForm(a, values): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    let field = |k: &str| values.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut errors = Vec::new();
    let village = AreaCode::parse(&field("village")).map_err(|e| errors.push(("village".to_string(), e.to_string()))).ok();
    let number = field("number").parse::<u16>().map_err(|_| errors.push(("number".to_string(), "组号应为 1-999 的整数".to_string()))).ok();
    if errors.is_empty() {
        let (village, number) = (village.expect("checked"), number.expect("checked"));
        match areas::add_group_for(&st.store, &a.caller, &village, number, &field("name"), field("rename") == "1", Utc::now()).await {
            Ok(_) => {
                st.figures_changed();
                return Ok(Redirect::to("/groups").into_response());
            }
            Err(AppError::Invalid(m)) => errors.push(("name".into(), m)),
            Err(e) => return Err(e.into()),
        }
    }
    let list = areas::groups_of(&st.store, &a.caller).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, groups_page(&a, &list, &values, &errors)).into_response())
}
