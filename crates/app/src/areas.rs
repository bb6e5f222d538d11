//! Areas (行政区划): the bundled division table, importing division files into a register,
//! villager groups (村民小组), and area names for the address codes of citizen identity numbers.
//!
//! Codes follow [`renkou_core::area`]: GB/T 2260 (province, prefecture, county), GB/T 10114 and
//! the NBS 12-digit statistical division codes (township, village), and renkou's 15-digit
//! villager-group codes.
//!
//! The bundled table (`crates/app/data/*.csv`, made by `scripts/fetch-areas.sh` from npm
//! `china-division` 2.7.0, the 2023 NBS statistical division codes) holds every province,
//! prefecture and county of the mainland, plus the townships and villages of 平山县 (130131),
//! the county of the demo township 西大吾乡 (130131200).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::NaiveDate;
use renkou_core::area::{Area, AreaCode, AreaLevel};
use renkou_core::citizen_id::{CitizenId, CitizenIdError, ParsedCitizenId};
use renkou_store::Store;

use crate::AppError;

/// Every province, prefecture and county (`code,name`, first line a `#` source comment).
const COUNTIES_CSV: &str = include_str!("../data/areas-counties.csv");
/// Townships and villages of 平山县 (130131).
const PINGSHAN_CSV: &str = include_str!("../data/areas-130131.csv");

/// Address codes of the residence permits for Hong Kong, Macao and Taiwan residents
/// (港澳台居民居住证, 《港澳台居民居住证申领发放办法》, 国务院办公厅 2018): the permit number has
/// the citizen-ID layout (GB 11643-1999) with these address codes. They are not areas of the
/// mainland division table, but a number carrying them is not an unknown place.
pub const RESIDENCE_PERMIT_CODES: [(&str, &str); 3] = [("810000", "香港特别行政区"), ("820000", "澳门特别行政区"), ("830000", "台湾地区")];

/// Placeholder names of the division table that say nothing about the place: the prefecture
/// "市辖区" of a municipality (1101), "县" (5002), and the roll-ups of province-administered
/// county-level units (4190, 6590). Full names skip them: `北京市东城区`, `河南省济源市`.
const FILLER_NAMES: [&str; 4] = ["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"];

/// The bundled areas: every province, prefecture and county of the mainland, and the townships
/// and villages of 平山县 (130131), sorted parents first (by level, then by code).
///
/// A county-level row that is the same area as its prefecture (东莞市 `441900` = `4419`, see
/// [`AreaCode::parse`]) appears once.
pub fn bundled_areas() -> Vec<Area> {
    let mut by_code: BTreeMap<(AreaLevel, AreaCode), String> = BTreeMap::new();
    for (file, text) in [("areas-counties.csv", COUNTIES_CSV), ("areas-130131.csv", PINGSHAN_CSV)] {
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') || line == "code,name" || line.trim().is_empty() {
                continue;
            }
            let (code, name) = line.split_once(',').unwrap_or_else(|| panic!("{file}:{}: not code,name", i + 1));
            let code = AreaCode::parse(code).unwrap_or_else(|e| panic!("{file}:{}:1: {e}", i + 1));
            by_code.entry((code.level(), code)).or_insert_with(|| name.to_string());
        }
    }
    by_code.into_iter().map(|((_, code), name)| Area { code, name }).collect()
}

/// Loads the bundled areas ([`bundled_areas`]) into the store; returns how many areas were
/// written. Existing areas with the same codes get the bundled names back.
///
/// Errors: [`AppError::Store`] when the database cannot be written.
pub async fn ensure_bundled_areas(store: &Store) -> Result<usize, AppError> {
    let areas = bundled_areas();
    store.upsert_areas(&areas).await?;
    Ok(areas.len())
}

/// The bundled table as a map from canonical code to name (built once).
fn bundled_names() -> &'static HashMap<String, String> {
    static NAMES: OnceLock<HashMap<String, String>> = OnceLock::new();
    NAMES.get_or_init(|| bundled_areas().into_iter().map(|a| (a.code.as_str().to_string(), a.name)).collect())
}

/// Joins the names from the province down to the area, skipping placeholder names
/// ([`FILLER_NAMES`]) of the ancestors: `河北省石家庄市平山县`, `北京市东城区`.
fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    let last = names.len().saturating_sub(1);
    names.iter().enumerate().filter(|(i, n)| *i == last || !FILLER_NAMES.contains(n)).map(|(_, n)| *n).collect()
}

fn residence_permit_name(address_code: &str) -> Option<String> {
    RESIDENCE_PERMIT_CODES.iter().find(|(c, _)| *c == address_code.trim()).map(|(_, n)| n.to_string())
}

/// Full name of the area of a citizen-ID address code (positions 1–6, GB/T 2260) from the
/// bundled table: `"130131"` → `河北省石家庄市平山县`, `"110101"` → `北京市东城区`,
/// `"810000"` → `香港特别行政区` ([`RESIDENCE_PERMIT_CODES`]).
///
/// Any code [`AreaCode::parse`] accepts is looked up (`441900` is 东莞市, `广东省东莞市`).
/// Returns `None` when the code is not an area code or not in the table: retired codes such as
/// `412723` (周口地区商水县 until 2000) are unknown to the 2023 table, so the caller should only
/// warn (research notes §1.4: the address code records the county when the number was issued).
pub fn county_name(address_code: &str) -> Option<String> {
    if let Some(name) = residence_permit_name(address_code) {
        return Some(name);
    }
    let code = AreaCode::parse(address_code).ok()?;
    let names = bundled_names();
    names.get(code.as_str())?;
    let chain = (1..=code.level() as u8)
        .filter_map(AreaLevel::from_number)
        .filter_map(|l| code.ancestor_at(l))
        .filter_map(|a| names.get(a.as_str()).map(String::as_str));
    Some(join_names(chain))
}

/// Like [`county_name`], but looks in the register's area table first (which may hold a newer
/// or fuller tree than the bundled one) and falls back to the bundled table.
///
/// Errors: [`AppError::Store`] when the database cannot be read.
pub async fn county_name_in(store: &Store, address_code: &str) -> Result<Option<String>, AppError> {
    if let Some(name) = residence_permit_name(address_code) {
        return Ok(Some(name));
    }
    let Ok(code) = AreaCode::parse(address_code) else {
        return Ok(None);
    };
    if store.area(&code).await?.is_some() {
        let chain = store.ancestors(&code).await?;
        return Ok(Some(join_names(chain.iter().map(|a| a.name.as_str()))));
    }
    Ok(county_name(address_code))
}

/// Verdict on one citizen identity number, with the names of `reference/citizen-ids.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdVerdict {
    /// Valid, and the address code is in the area table (`valid`).
    Valid,
    /// Valid, but the address code is not in the area table (`valid-warn-area`): a warning,
    /// never a rejection (codes are retired and re-used).
    ValidWarnArea,
    /// Rejected (`invalid-<part>`, part = length, format, date or checksum).
    Invalid(CitizenIdError),
}

impl IdVerdict {
    /// Machine name: `valid`, `valid-warn-area` or `invalid-<part>`.
    pub fn code(&self) -> String {
        match self {
            IdVerdict::Valid => "valid".into(),
            IdVerdict::ValidWarnArea => "valid-warn-area".into(),
            IdVerdict::Invalid(e) => format!("invalid-{}", e.part()),
        }
    }

    /// Chinese verdict for people: `有效`, `有效，地区码不在区划表中`, `无效: <reason>`.
    pub fn label_zh(&self) -> String {
        match self {
            IdVerdict::Valid => "有效".into(),
            IdVerdict::ValidWarnArea => "有效，地区码不在区划表中".into(),
            IdVerdict::Invalid(e) => format!("无效: {e}"),
        }
    }
}

/// The check of one input by [`check_citizen_ids`].
#[derive(Debug, Clone)]
pub struct IdCheck {
    /// The input as given.
    pub input: String,
    /// The verdict.
    pub verdict: IdVerdict,
    /// The parsed number when valid.
    pub parsed: Option<ParsedCitizenId>,
    /// Full area name of the address code, when known ([`county_name`]).
    pub area_name: Option<String>,
}

/// Checks citizen identity numbers (GB 11643-1999) against `today` and the area table: the
/// register's when `store` is given (falling back to the bundled table), the bundled one otherwise.
///
/// Errors: [`AppError::Store`] when the database cannot be read; invalid numbers are verdicts,
/// not errors.
pub async fn check_citizen_ids(store: Option<&Store>, inputs: &[String], today: NaiveDate) -> Result<Vec<IdCheck>, AppError> {
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        let check = match CitizenId::parse(input, today) {
            Err(e) => IdCheck { input: input.clone(), verdict: IdVerdict::Invalid(e), parsed: None, area_name: None },
            Ok(p) => {
                let code = p.id.address_code();
                let area_name = match store {
                    Some(s) => county_name_in(s, code).await?,
                    None => county_name(code),
                };
                let verdict = if area_name.is_some() { IdVerdict::Valid } else { IdVerdict::ValidWarnArea };
                IdCheck { input: input.clone(), verdict, parsed: Some(p), area_name }
            }
        };
        out.push(check);
    }
    Ok(out)
}

/// Adds the villager group (村民小组) number `number` (1–999) of a village: its code is the
/// village's 12 digits and the 3-digit number ([`AreaCode::group`]), e.g.
/// `130131200201` + 3 → `130131200201003`. A group that exists keeps its name unless `rename`
/// (adding it again with the same name changes nothing).
///
/// Errors: [`AppError::Invalid`] when `village` is not a 12-digit village code, the number is
/// outside 1–999, the name is empty or has control characters, the village is not in the
/// register, or the group exists with another name and `rename` is false; [`AppError::Store`].
pub async fn add_group(store: &Store, village: &AreaCode, number: u16, name: &str, rename: bool) -> Result<Area, AppError> {
    if village.level() != AreaLevel::Village {
        return Err(AppError::Invalid(format!("区划 {village} 是{}, 不是行政村 (not a village: a village code has 12 digits)", village.level().name_zh())));
    }
    let code = AreaCode::group(village, number).ok_or_else(|| AppError::Invalid(format!("组号 {number} 超出范围 1-999 (group number must be 1-999)")))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid("村民小组名称不能为空 (group name is empty)".into()));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::Invalid("村民小组名称含有控制字符 (换行、制表符等) (group name has control characters)".into()));
    }
    if store.area(village).await?.is_none() {
        return Err(AppError::Invalid(format!("行政村 {village} 不在数据库中, 请先导入区划 (village not found: import the areas first)")));
    }
    if let Some(old) = store.area(&code).await? {
        if old.name == name {
            return Ok(old);
        }
        if !rename {
            return Err(AppError::Invalid(format!(
                "村民小组 {code} 已存在, 名称为 {}; 如要改名为 {name}, 请选择改名 (命令行: --rename) (group exists: choose rename)",
                old.name
            )));
        }
    }
    let area = Area { code, name: name.to_string() };
    store.upsert_areas(std::slice::from_ref(&area)).await?;
    Ok(area)
}

/// The china-division files of a directory, in the order parents come first.
pub const CHINA_DIVISION_FILES: [&str; 5] = ["provinces", "cities", "areas", "streets", "villages"];

/// Imports division files into the register; returns the number of areas written.
///
/// Accepted files:
/// - the china-division 2.7.0 `dist` files (`provinces`, `cities`, `areas`, `streets`,
///   `villages`, as `.csv` or `.json`); a directory stands for the five files in it (`.csv`
///   preferred over `.json`);
/// - any CSV (UTF-8 or GBK) with a `code,name` header (also `代码`/`区划代码`, `名称`/`区划名称`)
///   or no header and the code and name as the first two columns; lines starting with `#` are
///   comments;
/// - any JSON array of objects with `code` and `name`.
///
/// Codes may be canonical or 12-digit statistical codes ([`AreaCode::parse`]).
///
/// All-or-nothing: every row is checked first (a valid code, a non-empty name, no second row
/// with the same code and another name, the parent area present in the files or in the
/// register). On any problem nothing is written and [`AppError::Rejected`] lists every bad row as
/// `file:row:column: reason` (for JSON, the row is the array element number, from 1, and the
/// column the field name). Then the areas are written parents first, in transactions of
/// [`WRITE_CHUNK`] areas: should the disk fail half-way, the register holds a parent-closed part
/// of the tree and running the import again completes it.
///
/// `progress(done, total)` is called while reading (bytes of all files) and then while
/// writing (areas written of all areas); `total` changes between the two phases.
///
/// Errors: [`AppError::Io`] for unreadable files, [`AppError::Rejected`], [`AppError::Invalid`]
/// for a directory without china-division files, [`AppError::Store`].
pub async fn import_area_files(store: &Store, paths: &[PathBuf], progress: &dyn Fn(u64, u64)) -> Result<usize, AppError> {
    let files = expand_paths(paths)?;
    let total_bytes: u64 = files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum();
    let mut collector = Collector::default();
    let mut done_before = 0u64;
    for path in &files {
        let display = path.display().to_string();
        let report = |pos: u64| progress(done_before + pos, total_bytes);
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            read_json(path, &display, &mut collector, &report)?;
        } else {
            read_csv(path, &display, &mut collector, &report)?;
        }
        done_before += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        progress(done_before, total_bytes);
    }

    // Parents: in the files, else in the register (one query per distinct missing parent).
    let mut in_store: HashMap<AreaCode, bool> = HashMap::new();
    let mut missing: Vec<(&Origin, AreaCode, AreaCode)> = Vec::new();
    for (code, origin) in &collector.areas {
        if let Some(parent) = code.parent() {
            if !collector.areas.contains_key(&parent) {
                missing.push((origin, code.clone(), parent));
            }
        }
    }
    for (origin, code, parent) in missing {
        let found = match in_store.get(&parent) {
            Some(&f) => f,
            None => {
                let f = store.area(&parent).await?.is_some();
                in_store.insert(parent.clone(), f);
                f
            }
        };
        if !found {
            collector.errors.push((
                origin.file,
                origin.row,
                format!(
                    "{}:{}:{}: 区划 {code} 的上级区划 {parent} 既不在导入文件中也不在数据库中 (parent area not found)",
                    collector.files[origin.file], origin.row, origin.code_column
                ),
            ));
        }
    }
    if !collector.errors.is_empty() {
        collector.errors.sort_by_key(|e| (e.0, e.1));
        return Err(AppError::Rejected(collector.errors.into_iter().map(|e| e.2).collect()));
    }

    let mut areas: Vec<Area> = collector.areas.into_iter().map(|(code, origin)| Area { code, name: origin.name }).collect();
    areas.sort_unstable_by(|a, b| (a.code.level(), &a.code).cmp(&(b.code.level(), &b.code)));
    let total = areas.len() as u64;
    progress(0, total);
    let mut written = 0u64;
    for chunk in areas.chunks(WRITE_CHUNK) {
        store.upsert_areas(chunk).await?;
        written += chunk.len() as u64;
        progress(written, total);
    }
    Ok(areas.len())
}

/// Areas per write transaction of [`import_area_files`].
pub const WRITE_CHUNK: usize = 50_000;

/// Expands directories into their china-division files.
fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, AppError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = out.len();
            for stem in CHINA_DIVISION_FILES {
                let csv = path.join(format!("{stem}.csv"));
                let json = path.join(format!("{stem}.json"));
                if csv.is_file() {
                    out.push(csv);
                } else if json.is_file() {
                    out.push(json);
                }
            }
            if out.len() == before {
                return Err(AppError::Invalid(format!(
                    "目录 {} 中没有 china-division 文件 (no provinces/cities/areas/streets/villages .csv or .json in the directory)",
                    path.display()
                )));
            }
        } else {
            // Opening fails later with the path named; check here to fail before reading.
            File::open(path).map_err(|source| AppError::Io { path: path.display().to_string(), source })?;
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Where an area came from, for error messages, and its name.
#[derive(Debug)]
struct Origin {
    file: usize,
    row: u64,
    code_column: String,
    name: String,
}

/// Rows read so far: the areas by code and the problems found.
#[derive(Default)]
struct Collector {
    files: Vec<String>,
    areas: HashMap<AreaCode, Origin>,
    /// (file index, row, message), sorted before they are returned.
    errors: Vec<(usize, u64, String)>,
}

impl Collector {
    fn file(&mut self, display: &str) -> usize {
        self.files.push(display.to_string());
        self.files.len() - 1
    }

    /// Checks one row; `code_column` and `name_column` are how the error messages name them.
    fn add(&mut self, file: usize, row: u64, code_column: &str, name_column: &str, code: &str, name: &str) {
        let at = |col: &str| format!("{}:{row}:{col}", self.files[file]);
        let code = match AreaCode::parse(code) {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("{}: {e}", at(code_column));
                self.errors.push((file, row, msg));
                return;
            }
        };
        let name = name.trim();
        if name.is_empty() {
            let msg = format!("{}: 区划 {code} 的名称为空 (name is empty)", at(name_column));
            self.errors.push((file, row, msg));
            return;
        }
        match self.areas.get(&code) {
            // The same area twice (东莞市 as prefecture 4419 and as county 441900): fine.
            Some(first) if first.name == name => {}
            Some(first) => {
                let msg = format!(
                    "{}: 区划 {code} 重复, 名称 {name:?} 与 {}:{} 的 {:?} 不同 (duplicate code with another name)",
                    at(code_column),
                    self.files[first.file],
                    first.row,
                    first.name
                );
                self.errors.push((file, row, msg));
            }
            None => {
                let origin = Origin { file, row, code_column: code_column.to_string(), name: name.to_string() };
                self.areas.insert(code, origin);
            }
        }
    }
}

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 16_384;

/// Header names of the code and name columns.
const CODE_HEADERS: [&str; 4] = ["code", "代码", "区划代码", "统计用区划代码"];
const NAME_HEADERS: [&str; 3] = ["name", "名称", "区划名称"];

fn read_csv(path: &Path, display: &str, c: &mut Collector, report: &dyn Fn(u64)) -> Result<(), AppError> {
    let io = |source| AppError::Io { path: display.to_string(), source };
    let mut file = File::open(path).map_err(io)?;
    // UTF-8 is streamed; anything else is taken as GBK (Excel on Chinese Windows) and decoded
    // in memory (such files are small).
    const SAMPLE: usize = 64 * 1024;
    let mut head = vec![0u8; SAMPLE];
    let n = read_full(&mut file, &mut head).map_err(io)?;
    head.truncate(n);
    let utf8 = match std::str::from_utf8(&head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sample is still UTF-8.
        Err(e) => e.error_len().is_none() && n == SAMPLE,
    };
    let reader: Box<dyn Read> = if utf8 {
        Box::new(std::io::Cursor::new(head).chain(file))
    } else {
        let mut all = head;
        file.read_to_end(&mut all).map_err(io)?;
        let (text, _, _) = encoding_rs::GBK.decode(&all);
        Box::new(std::io::Cursor::new(text.into_owned().into_bytes()))
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(BufReader::with_capacity(256 * 1024, reader));

    let file_ix = c.file(display);
    let mut record = csv::StringRecord::new();
    // The column indexes, and how messages name them: `A列(code)` (letter and header), or `A列`.
    let mut columns: Option<(usize, usize)> = None;
    let mut labels = (String::new(), String::new());
    let mut rows = 0u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                let msg = format!("{display}:{line}:-: CSV 格式错误: {e} (malformed CSV)");
                c.errors.push((file_ix, line, msg));
                // A UTF-8 error in one row is local; other errors (I/O) end the file.
                if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    continue;
                }
                break;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let (code_ix, name_ix) = match columns {
            Some(cols) => cols,
            None => {
                let field = |s: &str| s.trim_start_matches('\u{feff}').trim().to_lowercase();
                let code_ix = record.iter().position(|f| CODE_HEADERS.contains(&field(f).as_str()));
                let name_ix = record.iter().position(|f| NAME_HEADERS.contains(&field(f).as_str()));
                match (code_ix, name_ix) {
                    (Some(ci), Some(ni)) => {
                        columns = Some((ci, ni));
                        let label = |i: usize| format!("{}列({})", column_letters(i), field(&record[i]));
                        labels = (label(ci), label(ni));
                        continue;
                    }
                    (Some(_), None) => {
                        let msg = format!("{display}:{line}:-: 缺少名称列 name (header has no name column)");
                        c.errors.push((file_ix, line, msg));
                        return Ok(());
                    }
                    _ if record.get(0).is_some_and(|f| f.bytes().all(|b| b.is_ascii_digit())) => {
                        columns = Some((0, 1));
                        labels = ("A列".to_string(), "B列".to_string());
                        (0, 1)
                    }
                    _ => {
                        let msg = format!("{display}:{line}:-: 无法识别的表头, 应为 code,name (header must be code,name)");
                        c.errors.push((file_ix, line, msg));
                        return Ok(());
                    }
                }
            }
        };
        let code = record.get(code_ix).unwrap_or("");
        let name = record.get(name_ix).unwrap_or("");
        c.add(file_ix, line, &labels.0, &labels.1, code, name);
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            report(record.position().map(|p| p.byte()).unwrap_or(0));
        }
    }
    Ok(())
}

/// Excel column letters of a 0-based index: 0 → `A`, 25 → `Z`, 26 → `AA`.
fn column_letters(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII")
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A reader that counts the bytes read (for progress).
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// One element of a JSON file: `code` as a string or a number, `name` a string.
#[derive(serde::Deserialize)]
struct JsonArea {
    code: Option<JsonCode>,
    name: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum JsonCode {
    Text(String),
    Number(u64),
}

fn read_json(path: &Path, display: &str, c: &mut Collector, report: &dyn Fn(u64)) -> Result<(), AppError> {
    use serde::de::{DeserializeSeed, SeqAccess, Visitor};

    let file = File::open(path).map_err(|source| AppError::Io { path: display.to_string(), source })?;
    let count = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let reader = Counting { inner: file, count: count.clone() };
    let file_ix = c.file(display);

    /// Visits the top-level array element by element, so a large file is never held whole.
    struct Elements<'a> {
        c: &'a mut Collector,
        file_ix: usize,
        count: &'a std::cell::Cell<u64>,
        report: &'a dyn Fn(u64),
    }
    impl<'de> DeserializeSeed<'de> for Elements<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Elements<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of {\"code\": …, \"name\": …} objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut row = 0u64;
            while let Some(el) = seq.next_element::<JsonArea>()? {
                row += 1;
                let code = match el.code {
                    Some(JsonCode::Text(s)) => s,
                    Some(JsonCode::Number(n)) => n.to_string(),
                    None => String::new(),
                };
                self.c.add(self.file_ix, row, "code", "name", &code, el.name.as_deref().unwrap_or(""));
                if row.is_multiple_of(PROGRESS_EVERY) {
                    (self.report)(self.count.get());
                }
            }
            Ok(())
        }
    }

    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(256 * 1024, reader));
    let result = Elements { c, file_ix, count: &count, report }.deserialize(&mut de).and_then(|()| de.end());
    if let Err(e) = result {
        let (line, column) = (e.line() as u64, e.column());
        let msg = format!("{display}:{line}:{column}: JSON 格式错误: {e} (malformed JSON)");
        c.errors.push((file_ix, u64::MAX, msg));
    }
    Ok(())
}

/// A village with its villager groups, for the groups page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VillageGroups {
    /// The village.
    pub village: Area,
    /// Its groups, by code.
    pub groups: Vec<Area>,
}

/// The villages inside the caller's area (or the caller's own village or group's village) with
/// their villager groups.
///
/// Errors: [`AppError::Forbidden`] for roles that may not see persons; [`AppError::Store`].
pub async fn groups_of(store: &Store, caller: &crate::auth::Caller) -> Result<Vec<VillageGroups>, AppError> {
    crate::auth::authorize(&caller.user, crate::auth::Action::ViewPersons, None)?;
    let scope = &caller.user.area;
    let villages: Vec<Area> = match scope.level() {
        AreaLevel::Village => store.area(scope).await?.into_iter().collect(),
        AreaLevel::Group => store.area(&scope.ancestor_at(AreaLevel::Village).expect("group has a village")).await?.into_iter().collect(),
        AreaLevel::Township => store.children(scope).await?,
        _ => {
            let mut out = Vec::new();
            for t in store.children(scope).await? {
                if t.code.level() == AreaLevel::Township {
                    out.extend(store.children(&t.code).await?);
                }
            }
            out
        }
    };
    let mut out = Vec::with_capacity(villages.len());
    for v in villages.into_iter().filter(|v| v.code.level() == AreaLevel::Village) {
        let groups = store.children(&v.code).await?;
        out.push(VillageGroups { village: v, groups });
    }
    Ok(out)
}

/// Adds or renames a villager group for `caller` (township admin or staff for villages of their
/// township, village specialist for their own village), audited as `group.add` / `group.rename`
/// with the old name. See [`add_group`].
///
/// Errors: [`AppError::Forbidden`] for other roles and villages outside the caller's area;
/// [`AppError::Invalid`] as [`add_group`].
pub async fn add_group_for(
    store: &Store,
    caller: &crate::auth::Caller,
    village: &AreaCode,
    number: u16,
    name: &str,
    rename: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Area, AppError> {
    crate::gate::authorize(&caller.user, crate::gate::Action::ManageGroups, Some(village))?;
    let old = match AreaCode::group(village, number) {
        Some(c) => store.area(&c).await?,
        None => None,
    };
    let area = add_group(store, village, number, name, rename).await?;
    let (action, old_value) = match &old {
        Some(o) if o.name != area.name => (crate::audit::AuditAction::GroupRename, Some(serde_json::json!({"name": o.name}).to_string())),
        Some(_) => return Ok(area),
        None => (crate::audit::AuditAction::GroupAdd, None),
    };
    crate::audit::record(
        store,
        caller,
        action,
        "area",
        Some(area.code.as_str().to_string()),
        Some(area.code.as_str()),
        old_value,
        Some(serde_json::json!({"name": area.name}).to_string()),
        now,
    )
    .await?;
    Ok(area)
}
