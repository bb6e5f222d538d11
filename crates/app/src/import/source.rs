//! Reading import files: encoding detection (UTF-8 with or without BOM, else GBK), CSV records
//! and XLSX sheets, the header row, and the checks that concern the file rather than a value
//! (empty file, header only, truncated rows, formula cells, merged cells).

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use renkou_core::text::clip;

use super::fields::{column_letters, excel_serial_date, normalize_header, Cell, Field, FileKind, N_FIELDS};
use super::ImportProgress;

/// Where in a sheet a problem is: the column of a field, a raw column, or no column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Col {
    None,
    Index(u32),
    Field(Field),
}

/// A problem found in an input, before it is formatted as `file:row:column: reason`.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub sheet: u32,
    pub row: u32,
    pub col: Col,
    pub reason: String,
}

/// One sheet (a CSV file, or a sheet of a workbook) after its header row was read.
#[derive(Debug, Clone)]
pub(crate) struct SheetInfo {
    /// Display name: the file name, `book.xlsx[事件]` when a workbook gives several sheets.
    pub name: String,
    /// Persons or events.
    pub kind: FileKind,
    /// Headers as written (normalized), by column index.
    pub headers: Vec<String>,
    /// Column index of each field present.
    pub cols: [Option<u32>; N_FIELDS],
    /// Number of data rows read.
    pub rows: u64,
}

impl SheetInfo {
    /// `B列(公民身份号码)` for a column index.
    pub(crate) fn col_label(&self, i: u32) -> String {
        match self.headers.get(i as usize).filter(|h| !h.is_empty()) {
            Some(h) => format!("{}列({h})", column_letters(i as usize)),
            None => format!("{}列", column_letters(i as usize)),
        }
    }

    /// Formats a column reference.
    pub(crate) fn col_text(&self, c: Col) -> String {
        match c {
            Col::None => "-".to_string(),
            Col::Index(i) => self.col_label(i),
            Col::Field(f) => match self.cols[f as usize] {
                Some(i) => self.col_label(i),
                None => format!("-({})", f.header(self.kind)),
            },
        }
    }
}

/// The cells of one data row.
pub(crate) enum Row<'a> {
    Csv(&'a csv::ByteRecord),
    Xlsx(&'a [Data], bool),
}

impl<'a> Row<'a> {
    /// The cell at column `i` (empty when the row is shorter).
    pub(crate) fn get(&self, i: u32) -> Cell<'a> {
        match *self {
            Row::Csv(r) => match r.get(i as usize) {
                // The whole file was checked to be UTF-8 and CSV splits at ASCII bytes.
                Some(b) => Cell::text(std::str::from_utf8(b).unwrap_or("")),
                None => Cell::Empty,
            },
            Row::Xlsx(cells, is_1904) => match cells.get(i as usize) {
                None | Some(Data::Empty) => Cell::Empty,
                Some(Data::String(s)) | Some(Data::DateTimeIso(s)) | Some(Data::DurationIso(s)) => Cell::text(s),
                Some(Data::Int(n)) => Cell::Number(*n as f64),
                Some(Data::Float(f)) => Cell::Number(*f),
                Some(Data::Bool(b)) => Cell::Text(if *b { "TRUE" } else { "FALSE" }),
                Some(Data::DateTime(dt)) => match excel_serial_date(dt.as_f64(), is_1904) {
                    Some(d) => Cell::Date(d),
                    None => Cell::Number(dt.as_f64()),
                },
                Some(Data::Error(_)) => Cell::Text("#ERROR"),
            },
        }
    }

    /// The cell of `field` in a sheet (empty when the sheet has no such column).
    pub(crate) fn field(&self, info: &SheetInfo, field: Field) -> Cell<'a> {
        match info.cols[field as usize] {
            Some(i) => self.get(i),
            None => Cell::Empty,
        }
    }

    fn is_blank(&self) -> bool {
        match *self {
            Row::Csv(r) => r.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)),
            Row::Xlsx(cells, _) => cells.iter().all(|c| match c {
                Data::Empty => true,
                Data::String(s) => s.trim().is_empty(),
                _ => false,
            }),
        }
    }
}

/// The row callback: sheet, sheet index, Excel row number, cells, problem list.
pub(crate) type OnRow<'s> = &'s mut dyn FnMut(&SheetInfo, u32, u32, &Row<'_>, &mut Vec<Problem>);

/// What [`read_path`] calls back with.
pub(crate) struct Sink<'s> {
    /// Sheets read so far (a problem's `sheet` indexes this).
    pub sheets: Vec<SheetInfo>,
    /// Problems found so far.
    pub problems: Vec<Problem>,
    /// Warnings (already formatted).
    pub warnings: Vec<String>,
    /// Called for each non-blank data row: sheet index, Excel row number, cells.
    pub on_row: OnRow<'s>,
}

impl Sink<'_> {
    fn problem(&mut self, sheet: u32, row: u32, col: Col, reason: impl Into<String>) {
        self.problems.push(Problem { sheet, row, col, reason: reason.into() });
    }
}

/// Reads one file (CSV or XLSX) and feeds its rows to the sink.
///
/// Errors of the file itself go to `sink.problems`; `Err` is only for I/O errors.
pub(crate) fn read_path(path: &Path, sink: &mut Sink<'_>, progress: &(dyn Fn(ImportProgress<'_>) + Sync)) -> Result<(), std::io::Error> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "xlsx" | "xlsm" => read_xlsx(path, &name, sink, progress),
        "xls" | "et" => {
            let sheet = new_sheet(sink, &name, FileKind::Persons, Vec::new());
            sink.problem(sheet, 1, Col::None, "不支持旧版 .xls 文件, 请在 Excel/WPS 中另存为 .xlsx (legacy .xls is not supported: save as .xlsx)");
            Ok(())
        }
        _ => {
            let bytes = std::fs::read(path)?;
            read_csv_bytes(&name, &bytes, sink, progress);
            Ok(())
        }
    }
}

fn new_sheet(sink: &mut Sink<'_>, name: &str, kind: FileKind, headers: Vec<String>) -> u32 {
    sink.sheets.push(SheetInfo { name: name.to_string(), kind, headers, cols: [None; N_FIELDS], rows: 0 });
    (sink.sheets.len() - 1) as u32
}

/// Line number (1-based) of byte offset `pos`.
fn line_of(bytes: &[u8], pos: usize) -> u32 {
    bytes[..pos.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() as u32 + 1
}

/// Decodes a CSV file: UTF-8 (BOM optional), else GBK. `Err((line, reason))` when neither fits.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, (u32, String)> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err((1, "文件是 UTF-16 编码, 请另存为 UTF-8 或 GBK 的 CSV (UTF-16 is not supported)".into()));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let utf8_fail = match std::str::from_utf8(body) {
        Ok(s) => return check_text(s).map(Cow::Borrowed).map_err(|pos| (line_of(body, pos), binary_reason())),
        Err(e) => e.valid_up_to(),
    };
    if body.len() != bytes.len() {
        // A UTF-8 BOM promises UTF-8.
        return Err((line_of(body, utf8_fail), "文件以 UTF-8 BOM 开头, 但含有无效的 UTF-8 字节 (invalid UTF-8 after a UTF-8 BOM)".into()));
    }
    let mut decoder = encoding_rs::GBK.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(body.len() * 3 / 2 + 16);
    let (res, read) = decoder.decode_to_string_without_replacement(body, &mut out, true);
    match res {
        encoding_rs::DecoderResult::InputEmpty => {
            check_text(&out).map_err(|_| (line_of(body, read), binary_reason()))?;
            Ok(Cow::Owned(out))
        }
        encoding_rs::DecoderResult::Malformed(..) | encoding_rs::DecoderResult::OutputFull => {
            let pos = read.max(utf8_fail);
            let line = line_of(body, pos.saturating_sub(1));
            Err((
                line,
                format!(
                    "文件编码无法识别: 既不是 UTF-8 也不是 GBK, 第{line}行有无法解码的字节; 请另存为 UTF-8 或 GBK 的 CSV (encoding: neither UTF-8 nor GBK)"
                ),
            ))
        }
    }
}

fn binary_reason() -> String {
    "文件含有控制字符, 不是文本 CSV (binary data: not a text CSV); 请另存为 UTF-8 或 GBK 的 CSV".into()
}

/// Rejects NUL and other control characters (a binary file that happens to decode).
fn check_text(s: &str) -> Result<&str, usize> {
    match s.bytes().position(|b| b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') {
        Some(pos) => Err(pos),
        None => Ok(s),
    }
}

/// Reads the header row: kind, column map, warnings for ignored columns, problems for missing
/// required or duplicate columns. Returns false when the sheet cannot be read further.
fn read_header(sink: &mut Sink<'_>, sheet: u32, header_row: u32, raw: &[String], forced: Option<FileKind>) -> bool {
    let headers: Vec<String> = raw.iter().map(|h| normalize_header(h)).collect();
    let kind =
        forced.unwrap_or_else(|| if headers.iter().any(|h| Field::from_header(h) == Some(Field::EventType)) { FileKind::Events } else { FileKind::Persons });
    let mut cols = [None; N_FIELDS];
    let mut ignored = Vec::new();
    let mut ok = true;
    let info_name = sink.sheets[sheet as usize].name.clone();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        match Field::from_header(h).filter(|f| f.used_in(kind)) {
            Some(f) => {
                if let Some(first) = cols[f as usize] {
                    sink.problems.push(Problem {
                        sheet,
                        row: header_row,
                        col: Col::Index(i as u32),
                        reason: format!("列 {h} 与 {}列 重复 (duplicate column)", column_letters(first as usize)),
                    });
                    ok = false;
                } else {
                    cols[f as usize] = Some(i as u32);
                }
            }
            None => ignored.push(format!("{}列({h})", column_letters(i))),
        }
    }
    {
        let s = &mut sink.sheets[sheet as usize];
        s.kind = kind;
        s.headers = headers;
        s.cols = cols;
    }
    for f in Field::required(kind) {
        if cols[*f as usize].is_none() {
            sink.problems.push(Problem {
                sheet,
                row: header_row,
                col: Col::None,
                reason: format!("{}表缺少必需的列 {} (missing required column {})", kind.name_zh(), f.header(kind), f.header(kind)),
            });
            ok = false;
        }
    }
    if !ignored.is_empty() {
        sink.warnings.push(format!("{info_name}:{header_row}:-: 忽略无法识别的列 (ignored columns): {}", ignored.join(", ")));
    }
    ok
}

/// Reads a CSV file from its bytes (UTF-8 or GBK; comma- or tab-separated).
pub(crate) fn read_csv_bytes(name: &str, bytes: &[u8], sink: &mut Sink<'_>, progress: &(dyn Fn(ImportProgress<'_>) + Sync)) {
    let sheet = new_sheet(sink, name, FileKind::Persons, Vec::new());
    let text = match decode(bytes) {
        Ok(t) => t,
        Err((line, reason)) => {
            sink.problem(sheet, line, Col::None, reason);
            return;
        }
    };
    let text = text.as_ref();
    if text.trim().is_empty() {
        sink.problem(sheet, 1, Col::None, "文件为空 (empty file)");
        return;
    }
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if !first_line.contains(',') && first_line.contains('\t') { b'\t' } else { b',' };
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut rec = csv::ByteRecord::new();
    let total = text.len() as u64;
    // Header row.
    let header_line;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) if Row::Csv(&rec).is_blank() => continue,
            Ok(true) => {
                let start = rec.position().map_or(0, |p| p.byte() as usize);
                header_line = text.as_bytes()[..start].iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                break;
            }
            Ok(false) => {
                sink.problem(sheet, 1, Col::None, "文件为空 (empty file)");
                return;
            }
            Err(e) => {
                sink.problem(sheet, csv_line(&e), Col::None, format!("CSV 格式错误 (malformed CSV): {e}"));
                return;
            }
        }
    }
    let raw: Vec<String> = rec.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
    if !read_header(sink, sheet, header_line, &raw, None) {
        return;
    }
    let width = sink.sheets[sheet as usize].headers.iter().rposition(|h| !h.is_empty()).map_or(0, |i| i + 1);
    let mut rows = 0u64;
    let bytes = text.as_bytes();
    let mut counted_to = rec.position().map_or(0, |p| p.byte() as usize);
    let mut line = header_line;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                sink.problem(sheet, csv_line(&e), Col::None, format!("CSV 格式错误 (malformed CSV): {e}"));
                break;
            }
        }
        // Line of the record's first byte, counted here: csv's own line count lags by one
        // after a CRLF terminator (Excel's CSV).
        let mut start = rec.position().map_or(counted_to, |p| p.byte() as usize).max(counted_to);
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        line += bytes[counted_to..start].iter().filter(|&&b| b == b'\n').count() as u32;
        counted_to = start;
        let row = Row::Csv(&rec);
        if row.is_blank() {
            continue;
        }
        rows += 1;
        let info = &sink.sheets[sheet as usize];
        if rec.len() < width {
            let missing = rec.len() as u32;
            sink.problems.push(Problem {
                sheet,
                row: line,
                col: Col::Index(missing),
                reason: format!("此行只有 {} 列, 表头有 {width} 列, 缺少 {} 及以后的列 (truncated row)", rec.len(), info.col_label(missing)),
            });
            continue;
        }
        (sink.on_row)(info, sheet, line, &row, &mut sink.problems);
        if rows.is_multiple_of(16384) {
            let done = rec.position().map_or(0, |p| p.byte());
            progress(ImportProgress::Reading { file: name, done, total });
        }
    }
    sink.sheets[sheet as usize].rows = rows;
    progress(ImportProgress::Reading { file: name, done: total, total });
    if rows == 0 {
        sink.problem(sheet, header_line + 1, Col::None, "只有表头, 没有数据行 (header only: no data rows)");
    }
}

fn csv_line(e: &csv::Error) -> u32 {
    e.position().map_or(1, |p| p.line() as u32)
}

/// Reads the 人员/事件 sheets of a workbook, or its first sheet.
fn read_xlsx(path: &Path, name: &str, sink: &mut Sink<'_>, progress: &(dyn Fn(ImportProgress<'_>) + Sync)) -> Result<(), std::io::Error> {
    let mut wb: Xlsx<_> = match calamine::open_workbook(path) {
        Ok(wb) => wb,
        Err(calamine::XlsxError::Io(e)) => return Err(e),
        Err(e) => {
            let sheet = new_sheet(sink, name, FileKind::Persons, Vec::new());
            sink.problem(sheet, 1, Col::None, format!("无法读取 Excel 文件 (cannot read the workbook): {e}"));
            return Ok(());
        }
    };
    let is_1904 = wb.has_1904_epoch();
    let names = wb.sheet_names();
    let named: Vec<(String, FileKind)> = names
        .iter()
        .filter_map(|n| match n.trim() {
            "人员" => Some((n.clone(), FileKind::Persons)),
            "事件" => Some((n.clone(), FileKind::Events)),
            _ => None,
        })
        .collect();
    let chosen: Vec<(String, Option<FileKind>)> = if named.is_empty() {
        names.first().map(|n| vec![(n.clone(), None)]).unwrap_or_default()
    } else {
        named.into_iter().map(|(n, k)| (n, Some(k))).collect()
    };
    if chosen.is_empty() {
        let sheet = new_sheet(sink, name, FileKind::Persons, Vec::new());
        sink.problem(sheet, 1, Col::None, "工作簿没有工作表 (workbook has no sheets)");
        return Ok(());
    }
    let several = chosen.len() > 1;
    for (sheet_name, forced) in chosen {
        let display = if several { format!("{name}[{sheet_name}]") } else { name.to_string() };
        let sheet = new_sheet(sink, &display, forced.unwrap_or(FileKind::Persons), Vec::new());
        let (range, formulas, merges) = match (wb.worksheet_range(&sheet_name), wb.worksheet_formula(&sheet_name), wb.merge_cells_by_sheet_name(&sheet_name)) {
            (Ok(r), Ok(f), Ok(m)) => (r, f, m),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                sink.problem(sheet, 1, Col::None, format!("无法读取工作表 {sheet_name} (cannot read the sheet): {e}"));
                continue;
            }
        };
        let Some((r0, c0)) = range.start() else {
            sink.problem(sheet, 1, Col::None, "文件为空 (empty file)");
            continue;
        };
        let rows: Vec<&[Data]> = range.rows().collect();
        let Some(h) = rows.iter().position(|r| !Row::Xlsx(r, is_1904).is_blank()) else {
            sink.problem(sheet, 1, Col::None, "文件为空 (empty file)");
            continue;
        };
        let header_row = r0 + h as u32 + 1;
        // Column indices are absolute (A = 0); pad the left when the used range starts later.
        let pad = c0 as usize;
        let mut raw: Vec<String> = vec![String::new(); pad];
        raw.extend(rows[h].iter().map(|c| match c {
            Data::String(s) => s.clone(),
            Data::Empty => String::new(),
            other => other.to_string(),
        }));
        let header_ok = read_header(sink, sheet, header_row, &raw, forced);
        // Merged and formula cells: refused in the header row and in the columns that are read.
        // Each is a problem of its row; the other rows are still checked, so one formula does
        // not hide the sheet's other errors. Only a bad header stops the sheet.
        let used: Vec<u32> = sink.sheets[sheet as usize].cols.iter().flatten().copied().collect();
        let mut header_bad = false;
        let mut bad_rows: HashSet<u32> = HashSet::new();
        for m in &merges {
            let (top, left) = m.start;
            let (bottom, right) = m.end;
            let a1 = format!("{}{}:{}{}", column_letters(left as usize), top + 1, column_letters(right as usize), bottom + 1);
            let in_header = top < header_row && bottom + 1 >= header_row;
            if in_header {
                sink.problem(sheet, header_row, Col::Index(left), format!("表头含合并单元格 {a1}, 请取消合并, 每列一个表头 (merged header cells)"));
                header_bad = true;
            } else if bottom + 1 > header_row && used.iter().any(|&c| c >= left && c <= right) {
                sink.problem(sheet, top + 1, Col::Index(left), format!("合并单元格 {a1}, 请取消合并并在每一行填写 (merged cells)"));
                // The merged rows hold a value in the top-left cell only: not checked further.
                bad_rows.extend((top + 1).max(header_row + 1)..=bottom + 1);
            }
        }
        // Formula cells: refused in the header row and in the columns that are read.
        if let Some((fr0, fc0)) = formulas.start() {
            for (r, c, f) in formulas.used_cells() {
                let (row, col) = (fr0 + r as u32 + 1, fc0 + c as u32);
                if f.is_empty() || row < header_row || (row > header_row && !used.contains(&col)) {
                    continue;
                }
                sink.problem(
                    sheet,
                    row,
                    Col::Index(col),
                    format!("单元格是公式 ={}, 请复制后\"选择性粘贴-数值\"再导入 (formula cell: paste values instead)", clip(f)),
                );
                if row == header_row {
                    header_bad = true;
                } else {
                    bad_rows.insert(row);
                }
            }
        }
        if !header_ok || header_bad {
            continue;
        }
        let total = (rows.len() - h - 1) as u64;
        let mut n = 0u64;
        let mut padded: Vec<Data> = Vec::new();
        for (i, r) in rows.iter().enumerate().skip(h + 1) {
            let excel_row = r0 + i as u32 + 1;
            let cells: &[Data] = if pad == 0 {
                r
            } else {
                padded.clear();
                padded.resize(pad, Data::Empty);
                padded.extend_from_slice(r);
                &padded
            };
            let row = Row::Xlsx(cells, is_1904);
            if row.is_blank() {
                continue;
            }
            n += 1;
            if bad_rows.contains(&excel_row) {
                continue;
            }
            let info = &sink.sheets[sheet as usize];
            (sink.on_row)(info, sheet, excel_row, &row, &mut sink.problems);
            if n.is_multiple_of(16384) {
                progress(ImportProgress::Reading { file: &display, done: (i - h) as u64, total });
            }
        }
        sink.sheets[sheet as usize].rows = n;
        progress(ImportProgress::Reading { file: &display, done: total, total });
        if n == 0 {
            sink.problem(sheet, header_row + 1, Col::None, "只有表头, 没有数据行 (header only: no data rows)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_gbk_and_garbage() {
        assert_eq!(decode("姓名,公民身份号码\n".as_bytes()).unwrap(), "姓名,公民身份号码\n");
        assert_eq!(decode("\u{feff}姓名\n".as_bytes()).unwrap(), "姓名\n");
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,户号\n张三,1\n");
        assert_eq!(decode(&gbk).unwrap(), "姓名,户号\n张三,1\n");
        let (line, reason) = decode(b"a,b\nc,d\n\xff\xfe\x00\x81").unwrap_err();
        assert_eq!(line, 3);
        assert!(reason.contains("既不是 UTF-8 也不是 GBK"), "{reason}");
        assert!(decode(b"\xff\xfea\x00").unwrap_err().1.contains("UTF-16"));
        assert!(decode(b"a,b\n\x00\x01").unwrap_err().1.contains("控制字符"));
    }
}
