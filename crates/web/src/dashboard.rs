//! The dashboard (`GET /`): the figures of the user's area (or `?area=` inside it) for a period,
//! their comparison with the year before, the age pyramid and births and deaths by month, from
//! the figure cache ([`crate::cache`]).

use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::auth::Caller;
use renkou_app::report::{self};
use renkou_app::{export, persons};
use renkou_core::area::AreaCode;
use renkou_core::period::Period;
use renkou_core::stats::DEFINITIONS;

use crate::error::WebError;
use crate::query::{resolve, ReportQuery};
use crate::session::Auth;
use crate::view::{fig, fig_cell, header_of, json_script, page, period_form, report_qs, VILLAGE_COLUMNS};
use crate::AppState;

/// The feature's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

/// The dashboard's figures of `area` (authorized by the caller of [`resolve`]) for `period`,
/// from the cache when the register has not changed since they were computed.
pub async fn dashboard_figures(
    st: &AppState,
    caller: &Caller,
    area: &AreaCode,
    period: &Period,
) -> Result<std::sync::Arc<crate::cache::DashboardFigures>, WebError> {
    // Decided before the cache is read: cached figures are only for callers who may see them.
    report::admit_area(&st.store, caller, area, Utc::now()).await?;
    if let Some(f) = st.figures.get(area.as_str(), period.first, period.last) {
        return Ok(f);
    }
    let g = st.figures.generation();
    // The four parts run at once, each on its own database connection.
    let (report, year_before, pyramid, monthly) = tokio::try_join!(
        report::build(&st.store, caller, area, period),
        report::build_year_before(&st.store, caller, area, period),
        persons::pyramid(&st.store, caller, area, period),
        persons::monthly(&st.store, caller, area, period),
    )?;
    let f = std::sync::Arc::new(crate::cache::DashboardFigures { report, year_before, pyramid, monthly });
    st.figures.put(area.as_str(), period.first, period.last, g, f.clone());
    Ok(f)
}

/// `GET /`: the dashboard of the user's area (or `?area=` inside it) for a period.
pub async fn dashboard(State(st): State<AppState>, a: Auth, Query(q): Query<ReportQuery>) -> Result<Markup, WebError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let figs = dashboard_figures(&st, &a.caller, &area, &period).await?;
    let (r, ly, pyramid, monthly) = (&figs.report, &figs.year_before, &figs.pyramid, &figs.monthly);
    let link = renkou_app::gate::permissions(&a.caller).view_persons;
    let qs = report_qs(&area, &period);
    let charts = serde_json::json!({
        "pyramid": {
            "ages": pyramid.iter().map(|g| if g.from_age >= renkou_app::persons::PYRAMID_TOP { format!("{}+", g.from_age) } else { format!("{}-{}", g.from_age, g.from_age + 4) }).collect::<Vec<_>>(),
            "male": pyramid.iter().map(|g| g.male).collect::<Vec<_>>(),
            "female": pyramid.iter().map(|g| g.female).collect::<Vec<_>>(),
        },
        "monthly": {
            "months": monthly.iter().map(|m| m.month.clone()).collect::<Vec<_>>(),
            "births": monthly.iter().map(|m| m.births).collect::<Vec<_>>(),
            "deaths": monthly.iter().map(|m| m.deaths).collect::<Vec<_>>(),
        },
        "sexRatio": {
            "areas": r.children.iter().map(|c| c.area.name.clone()).collect::<Vec<_>>(),
            "values": r.children.iter().map(|c| c.figures.get("sex_ratio_at_birth").and_then(|f| f.exact).map(|x| (x * 10.0).round() / 10.0)).collect::<Vec<_>>(),
            "births": r.children.iter().map(|c| c.figures.counts.births).collect::<Vec<_>>(),
        },
    });
    let body = html! {
        h1 { (r.area.name) " 人口统计概览" }
        p.sub { (r.area_path) " · 期间 " (period.first) " 至 " (period.last) " (" (period.days()) " 天), 同期为 " (ly.period.first) " 至 " (ly.period.last) }
        (period_form("/", &area, &period, r, &a.caller))
        p.actions {
            a.button href={ "/report.xlsx?" (qs) } { "下载 Excel" }
            a.button href={ "/report.csv?" (qs) } { "下载 CSV" }
            a.button href={ "/report/print?" (qs) } target="_blank" { "打印报表" }
        }
        div.grid {
            section.figures {
                h2 { (crate::lang::t("主要指标")) }
                table.figs {
                    thead { tr { th { (crate::lang::t("指标")) } th { (crate::lang::t("本期")) } th { (crate::lang::t("上年同期")) } th { (crate::lang::t("单位")) } } }
                    tbody {
                        @for d in DEFINITIONS {
                            tr {
                                td title=(d.definition) { (crate::lang::figure_name(d)) }
                                (fig_cell(&r.total, d.key, &area, &period, link))
                                td.num.ly data-key=(d.key) { (fig(&ly.total, d.key)) }
                                td { (d.unit.suffix()) }
                            }
                        }
                    }
                }
                p.note { (export::DENOMINATOR_NOTE) }
            }
            section.charts {
                div #chart-pyramid .chart {}
                div #chart-monthly .chart {}
                div #chart-sexratio .chart {}
            }
        }
        @if !r.children.is_empty() {
            section {
                h2 { "分" (r.children[0].area.code.level().name_zh()) "统计" }
                div.scroll { table.villages {
                    thead { tr { th { "代码" } th { "名称" } @for k in VILLAGE_COLUMNS { th { (header_of(k)) } } } }
                    tbody {
                        @for c in &r.children {
                            tr {
                                td { (c.area.code.as_str()) }
                                td { a href={ "/?" (report_qs(&c.area.code, &period)) } { (c.area.name) } }
                                @for k in VILLAGE_COLUMNS { (fig_cell(&c.figures, k, &c.area.code, &period, link)) }
                            }
                        }
                    }
                } }
            }
        }
        script #chart-data type="application/json" { (json_script(&charts)) }
        script src="/assets/echarts.min.js" {}
        script src="/assets/app.js" {}
    };
    Ok(page("统计概览", Some((&a.caller.user, &a.csrf)), body))
}
