//! Report exports: JSON (keyed by the snake_case names of DESIGN.md §Definitions), CSV and XLSX.
//! Every export states the period, the denominators and the rounding rule.

use renkou_core::stats::{definition, Figures, Unit, DEFINITIONS};
pub use renkou_core::text::{csv_text_cell, CSV_BOM};
use rust_xlsxwriter::{Format, Workbook};
use serde_json::{json, Map, Value};

use crate::report::Report;
use crate::AppError;

/// The rounding rule every export states.
pub const ROUNDING_NOTE: &str =
    "比率按精确分数计算, 仅在显示时按各指标精度四舍五入(远离零) (rates are exact fractions, rounded half away from zero only for display)";

/// The denominator note every export states.
pub const DENOMINATOR_NOTE: &str =
    "出生率、死亡率、自然增长率的分母为平均人口 = (期初人口 + 期末人口) / 2 (NBS); 性别比分母为女婴数; 符合政策生育率分母为出生人数";

fn unit_code(u: Unit) -> &'static str {
    match u {
        Unit::Persons => "persons",
        Unit::PerMille => "per_mille",
        Unit::Percent => "percent",
        Unit::Per100Girls => "per_100_girls",
    }
}

/// Figures as a JSON object keyed by definition key. Counts are
/// `{"value": n, "rounded": "n"}`; rates and the average are
/// `{"exact": f64, "rounded": "11.1", "numerator": n, "denominator": d, "precision": p, "unit": …}`
/// where `exact = numerator / denominator`; an undefined rate (denominator 0) has nulls.
pub fn figures_json(f: &Figures) -> Value {
    let mut map = Map::new();
    for fig in &f.figures {
        let d = definition(fig.key).expect("figure keys come from DEFINITIONS");
        let v = match (d.unit, d.precision, fig.ratio) {
            (Unit::Persons, 0, Some(r)) => json!({ "value": r.numerator as i64, "rounded": fig.rounded }),
            (_, _, r) => json!({
                "exact": fig.exact,
                "rounded": fig.rounded,
                "numerator": r.map(|r| r.numerator as i64),
                "denominator": r.map(|r| r.denominator as i64),
                "precision": d.precision,
                "unit": unit_code(d.unit),
            }),
        };
        map.insert(fig.key.to_string(), v);
    }
    Value::Object(map)
}

/// The whole report as JSON: area, period, notes, `figures` (see [`figures_json`]) and
/// `children` (one object per child area with its own `figures`).
pub fn report_json(r: &Report) -> Value {
    json!({
        "area": { "code": r.area.code.as_str(), "name": r.area.name, "path": r.area_path, "level": r.area.code.level() },
        "period": { "from": r.period.first, "to": r.period.last, "days": r.period.days() },
        "rounding": ROUNDING_NOTE,
        "denominators": DENOMINATOR_NOTE,
        "figures": figures_json(&r.total),
        "children": r.children.iter().map(|c| json!({
            "code": c.area.code.as_str(),
            "name": c.area.name,
            "figures": figures_json(&c.figures),
        })).collect::<Vec<_>>(),
    })
}

/// Column header of a definition: Chinese name, unit and key, e.g. `人口出生率(‰) crude_birth_rate`.
fn header(key: &str) -> String {
    let d = definition(key).expect("known key");
    match d.unit.suffix() {
        "" | "人" => format!("{} {}", d.name_zh, d.key),
        s => format!("{}({s}) {}", d.name_zh, d.key),
    }
}

/// A CSV writer into memory that has already written the UTF-8 BOM ([`CSV_BOM`]): Excel on
/// Chinese Windows then reads the file as UTF-8 instead of GBK. Every CSV export starts here.
pub fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(CSV_BOM.to_vec())
}

/// A CSV of text cells (a header row, then `rows`), with the BOM, every cell passed through
/// [`csv_text_cell`] so that a name like `=cmd|' /C calc'!A0` opens in Excel as text, not as a
/// formula. For lists whose cells are all text or our own codes (problem lists, record lists).
pub fn text_csv<R, C>(header: &[&str], rows: R) -> Result<Vec<u8>, AppError>
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let err = |e: csv::Error| AppError::Export(e.to_string());
    let mut w = csv_writer();
    w.write_record(header.iter().map(|h| csv_text_cell(h).into_owned())).map_err(err)?;
    for row in rows {
        let cells: Vec<String> = row.into_iter().map(|c| csv_text_cell(c.as_ref()).into_owned()).collect();
        w.write_record(&cells).map_err(err)?;
    }
    w.into_inner().map_err(|e| AppError::Export(e.to_string()))
}

/// The report as CSV (UTF-8 with BOM so that Excel on Chinese Windows opens it correctly):
/// one row for the whole area, then one per child area; one column per definition, rounded.
/// Area names are text cells ([`csv_text_cell`]); the figures are numbers we computed and stay
/// as they are (a natural growth rate of `-1.5` is a number, not a formula).
pub fn report_csv(r: &Report) -> Result<Vec<u8>, AppError> {
    let mut w = csv_writer();
    let mut head = vec!["地区代码 area_code".to_string(), "地区名称 area_name".to_string(), "期间 period".to_string()];
    head.extend(DEFINITIONS.iter().map(|d| header(d.key)));
    w.write_record(&head).map_err(|e| AppError::Export(e.to_string()))?;
    let period = format!("{}/{}", r.period.first, r.period.last);
    let rows = std::iter::once((&r.area, &r.total)).chain(r.children.iter().map(|c| (&c.area, &c.figures)));
    for (area, f) in rows {
        let mut rec = vec![csv_text_cell(area.code.as_str()).into_owned(), csv_text_cell(&area.name).into_owned(), period.clone()];
        rec.extend(f.figures.iter().map(|x| x.rounded.clone().unwrap_or_default()));
        w.write_record(&rec).map_err(|e| AppError::Export(e.to_string()))?;
    }
    w.into_inner().map_err(|e| AppError::Export(e.to_string()))
}

/// The report as an XLSX workbook: sheet 汇总 (one line per figure with name, key, value, unit
/// and definition, plus period and notes) and sheet 分村 (one row per child area). Rates are
/// written as numbers rounded at their precision with a matching number format.
pub fn report_xlsx(r: &Report) -> Result<Vec<u8>, AppError> {
    let e = |e: rust_xlsxwriter::XlsxError| AppError::Export(e.to_string());
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let fmt_for = |p: u32| if p == 0 { Format::new().set_num_format("0") } else { Format::new().set_num_format(format!("0.{}", "0".repeat(p as usize))) };

    let s = wb.add_worksheet().set_name("汇总").map_err(e)?;
    s.write_string_with_format(0, 0, format!("{} ({}) 人口统计报表", r.area.name, r.area.code), &bold).map_err(e)?;
    s.write_string(1, 0, format!("地区: {}", r.area_path)).map_err(e)?;
    s.write_string(2, 0, format!("期间: {} 至 {} ({} 天)", r.period.first, r.period.last, r.period.days())).map_err(e)?;
    for (col, h) in ["指标", "代码 key", "数值", "单位", "定义"].iter().enumerate() {
        s.write_string_with_format(4, col as u16, *h, &bold).map_err(e)?;
    }
    for (i, fig) in r.total.figures.iter().enumerate() {
        let d = definition(fig.key).expect("known key");
        let row = 5 + i as u32;
        s.write_string(row, 0, d.name_zh).map_err(e)?;
        s.write_string(row, 1, d.key).map_err(e)?;
        if let Some(v) = &fig.rounded {
            s.write_number_with_format(row, 2, v.parse::<f64>().unwrap_or(f64::NAN), &fmt_for(d.precision)).map_err(e)?;
        } else {
            s.write_string(row, 2, "—").map_err(e)?;
        }
        s.write_string(row, 3, d.unit.suffix()).map_err(e)?;
        s.write_string(row, 4, d.definition).map_err(e)?;
    }
    let notes = 6 + r.total.figures.len() as u32;
    s.write_string(notes, 0, DENOMINATOR_NOTE).map_err(e)?;
    s.write_string(notes + 1, 0, ROUNDING_NOTE).map_err(e)?;
    s.set_column_width(0, 16).map_err(e)?;
    s.set_column_width(1, 34).map_err(e)?;
    s.set_column_width(2, 12).map_err(e)?;
    s.set_column_width(4, 60).map_err(e)?;

    let v = wb.add_worksheet().set_name("分村").map_err(e)?;
    v.write_string_with_format(0, 0, "地区代码", &bold).map_err(e)?;
    v.write_string_with_format(0, 1, "地区名称", &bold).map_err(e)?;
    for (j, d) in DEFINITIONS.iter().enumerate() {
        v.write_string_with_format(0, 2 + j as u16, header(d.key), &bold).map_err(e)?;
    }
    let rows = r.children.iter().map(|c| (&c.area, &c.figures)).chain(std::iter::once((&r.area, &r.total)));
    for (i, (area, f)) in rows.enumerate() {
        let row = 1 + i as u32;
        v.write_string(row, 0, area.code.as_str()).map_err(e)?;
        v.write_string(row, 1, if area.code == r.area.code { format!("{} 合计", area.name) } else { area.name.clone() }).map_err(e)?;
        for (j, fig) in f.figures.iter().enumerate() {
            let d = definition(fig.key).expect("known key");
            match &fig.rounded {
                Some(x) => v.write_number_with_format(row, 2 + j as u16, x.parse::<f64>().unwrap_or(f64::NAN), &fmt_for(d.precision)).map_err(e)?,
                None => v.write_string(row, 2 + j as u16, "—").map_err(e)?,
            };
        }
    }
    v.set_column_width(0, 16).map_err(e)?;
    v.set_column_width(1, 22).map_err(e)?;
    v.set_freeze_panes(1, 2).map_err(e)?;
    wb.save_to_buffer().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_csv_has_a_bom_and_neutral_cells() {
        let csv = text_csv(&["姓名", "说明"], [vec!["=cmd|' /C calc'!A0", "-1"], vec!["张三", "a=b"]]).unwrap();
        assert_eq!(&csv[..3], b"\xEF\xBB\xBF");
        let text = std::str::from_utf8(&csv[3..]).unwrap();
        assert_eq!(text, "姓名,说明\n'=cmd|' /C calc'!A0,'-1\n张三,a=b\n");
    }
}
