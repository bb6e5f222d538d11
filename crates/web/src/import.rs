//! The import page (数据导入): upload CSV/XLSX files (multipart, at most [`MAX_UPLOAD`] bytes in
//! all), import them in the background with [`renkou_app::persons::import_upload`] (all or
//! nothing), follow the progress (`/import/jobs/{id}/progress`, JSON), and read the summary or
//! the per-row errors (also as a CSV download `文件,行,列,原因`).
//!
//! An upload that is too large, malformed, or of an unsupported file type is refused before
//! the import starts, so it never touches the register. Jobs are kept in memory for
//! [`JOB_TTL`] and are visible only to the user who started them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Json;
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::import::{ImportProgress, ImportSummary};
use renkou_app::{persons, AppError};
use serde::Serialize;

use crate::error::WebError;
use crate::session::Auth;
use crate::view::page;
use crate::AppState;

/// Largest upload accepted (all files of one request together): 50 MiB.
pub const MAX_UPLOAD: u64 = 50 * 1024 * 1024;
/// How long a finished job's result stays readable.
pub const JOB_TTL: Duration = Duration::from_secs(3600);

/// The import feature's state: the application's, and the jobs of this server.
#[derive(Debug, Clone)]
pub struct ImportState {
    app: AppState,
    jobs: Arc<Jobs>,
}

impl axum::extract::FromRef<ImportState> for AppState {
    fn from_ref(s: &ImportState) -> AppState {
        s.app.clone()
    }
}

/// The feature's routes, with a job table of their own.
pub fn router(app: AppState) -> Router<AppState> {
    let st = ImportState { app, jobs: Arc::default() };
    Router::new()
        .route("/import", get(import_page).post(import_submit).layer(DefaultBodyLimit::max(MAX_UPLOAD as usize + (1 << 20))))
        .route("/import/jobs/{id}", get(job_page))
        .route("/import/jobs/{id}/progress", get(job_progress))
        .route("/import/jobs/{id}/errors.csv", get(job_errors_csv))
        .with_state(st)
}

/// State of an import job.
#[derive(Debug, Clone)]
enum JobState {
    Queued { ahead: usize },
    Reading { file: String, done: u64, total: u64 },
    Checking,
    Writing { done: u64, total: u64 },
    Done(ImportSummary),
    Rejected(Vec<String>),
    Failed(String),
}

#[derive(Debug, Clone)]
struct Job {
    owner: i64,
    files: Vec<String>,
    bytes: u64,
    started: Instant,
    finished: Option<Instant>,
    state: JobState,
}

/// The import jobs of the running server (in memory).
///
/// Memory bound: uploads stream to temporary files, each user has at most one unfinished job,
/// and jobs run one at a time on one long-lived thread (the others wait as 排队中), so the
/// server holds at most one import's rows in memory however many are uploaded at once. One
/// thread, not a new blocking thread per job: the allocator then reuses the same memory for
/// every import (with a thread per job, glibc keeps each thread's freed arena, and four
/// imports one after another left the server at 2.1 GB).
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
    worker: Mutex<Option<std::sync::mpsc::Sender<Task>>>,
}

/// Work for the import thread.
type Task = Box<dyn FnOnce() + Send>;

impl Jobs {
    /// Queues `task` on the import thread, starting it on first use (and again should it ever
    /// have ended).
    fn run(&self, task: Task) {
        let mut worker = self.worker.lock().expect("worker lock");
        let task = match worker.as_ref() {
            Some(w) => match w.send(task) {
                Ok(()) => return,
                Err(std::sync::mpsc::SendError(t)) => t,
            },
            None => task,
        };
        let (tx, rx) = std::sync::mpsc::channel::<Task>();
        std::thread::Builder::new()
            .name("renkou-import".into())
            .spawn(move || {
                for t in rx {
                    t();
                }
            })
            .expect("cannot start the import thread");
        tx.send(task).expect("the new import thread receives");
        *worker = Some(tx);
    }

    /// Whether `user` has a job that has not finished.
    fn busy(&self, user: i64) -> bool {
        self.jobs.lock().expect("jobs lock").values().any(|j| j.owner == user && j.finished.is_none())
    }

    /// Adds `job` as `id` unless its owner has an unfinished job (checked and added under one
    /// lock: two uploads of one user at once cannot both start).
    fn add(&self, id: &str, job: Job) -> bool {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        if jobs.values().any(|j| j.owner == job.owner && j.finished.is_none()) {
            return false;
        }
        jobs.insert(id.to_string(), job);
        true
    }

    /// Unfinished jobs started before `id` (the queue in front of it).
    fn ahead_of(&self, id: &str) -> usize {
        let jobs = self.jobs.lock().expect("jobs lock");
        let Some(me) = jobs.get(id) else { return 0 };
        jobs.values().filter(|j| j.finished.is_none() && j.started < me.started).count()
    }

    fn set(&self, id: &str, state: JobState) {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        if let Some(j) = jobs.get_mut(id) {
            if matches!(state, JobState::Done(_) | JobState::Rejected(_) | JobState::Failed(_)) {
                j.finished = Some(Instant::now());
            }
            j.state = state;
        }
    }

    /// A copy of the job `id` if it belongs to `user`.
    fn get(&self, id: &str, user: i64) -> Option<Job> {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        jobs.retain(|_, j| j.finished.is_none_or(|f| f.elapsed() < JOB_TTL));
        jobs.get(id).filter(|j| j.owner == user).cloned()
    }
}

/// Progress of a job as JSON (`GET /import/jobs/{id}/progress`).
#[derive(Debug, Clone, Serialize)]
pub struct JobProgress {
    /// Job id.
    pub id: String,
    /// `queued`, `reading`, `checking`, `writing`, `done`, `rejected` or `failed`.
    pub state: &'static str,
    /// What is happening, in Chinese.
    pub message: String,
    /// Percent of the current phase, when known.
    pub percent: Option<u32>,
    /// True when the job has ended (done, rejected or failed).
    pub finished: bool,
    /// Seconds since the job started.
    pub seconds: f64,
    /// Number of rejected rows' problems (when rejected).
    pub problems: usize,
    /// The page with the result.
    pub url: String,
}

fn pct(done: u64, total: u64) -> Option<u32> {
    (total > 0).then(|| ((done.min(total) * 100) / total) as u32)
}

fn progress_of(id: &str, j: &Job) -> JobProgress {
    let (state, message, percent) = match &j.state {
        JobState::Queued { ahead: 0 } => ("queued", "等待开始".to_string(), None),
        JobState::Queued { ahead } => ("queued", format!("排队中: 前面还有 {ahead} 个导入 (queued behind {ahead} imports)"), None),
        JobState::Reading { file, done, total } => ("reading", format!("正在读取 {file}"), pct(*done, *total)),
        JobState::Checking => ("checking", "正在核对(身份号码、户号、地区、事件顺序)".to_string(), None),
        JobState::Writing { done, total } => ("writing", format!("正在写入 {done}/{total} 条记录"), pct(*done, *total)),
        JobState::Done(s) => ("done", format!("导入完成: 新增 {} 人", s.persons), Some(100)),
        JobState::Rejected(p) => ("rejected", format!("导入被拒绝: {} 处错误, 未写入任何数据", p.len()), None),
        JobState::Failed(m) => ("failed", m.clone(), None),
    };
    let end = j.finished.unwrap_or_else(Instant::now);
    JobProgress {
        id: id.to_string(),
        state,
        message,
        percent,
        finished: j.finished.is_some(),
        seconds: end.duration_since(j.started).as_secs_f64(),
        problems: if let JobState::Rejected(p) = &j.state { p.len() } else { 0 },
        url: format!("/import/jobs/{id}"),
    }
}

/// One problem of a rejected import, split into the CSV columns 文件, 行, 列, 原因.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemRow {
    /// File (or `book.xlsx[事件]`); empty for a problem of the whole import.
    pub file: String,
    /// Row as Excel shows it (header = 1); empty when none applies.
    pub row: String,
    /// Column, e.g. `B列(公民身份号码)`, or `-`.
    pub column: String,
    /// Reason.
    pub reason: String,
}

/// Splits `file:row:column: reason` (file names are sanitized on upload, so they hold no `:`).
pub fn split_problem(p: &str) -> ProblemRow {
    let mut parts = p.splitn(3, ':');
    if let (Some(file), Some(row), Some(rest)) = (parts.next(), parts.next(), parts.next()) {
        if !row.is_empty() && row.bytes().all(|b| b.is_ascii_digit()) {
            if let Some((column, reason)) = rest.split_once(": ") {
                return ProblemRow { file: file.into(), row: row.into(), column: column.into(), reason: reason.into() };
            }
        }
    }
    ProblemRow { file: String::new(), row: String::new(), column: String::new(), reason: p.to_string() }
}

/// The problems as CSV (UTF-8 with BOM for Excel): `文件,行,列,原因`; a cell that Excel would
/// run as a formula (`=…`, `+…`, `-…`, `@…`) starts with `'` ([`renkou_app::export::text_csv`]).
pub fn problems_csv(problems: &[String]) -> Vec<u8> {
    let rows = problems.iter().map(|p| {
        let r = split_problem(p);
        [r.file, r.row, r.column, r.reason]
    });
    // Writing text into memory cannot fail.
    renkou_app::export::text_csv(&["文件", "行", "列", "原因"], rows).unwrap_or_default()
}

/// A file name safe to save and to show in `file:row:column` messages: the last path component,
/// without `:`, control characters or path separators, at most 80 characters.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let s: String = base.chars().filter(|c| !c.is_control()).map(|c| if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c }).collect();
    let s = s.trim().trim_start_matches('.').to_string();
    if s.chars().count() > 80 {
        let ext = s.rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default();
        let head: String = s.chars().take(70).collect();
        format!("{head}….{ext}")
    } else {
        s
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

fn import_form(a: &Auth, message: Option<&str>) -> Markup {
    html! {
        h1 { "数据导入" }
        p.sub { "上传人员或事件文件 (CSV: UTF-8 或 GBK; Excel: .xlsx), 列名为中文, 格式见 docs/import-format.md。"
            "导入是全有或全无的: 只要有一行有误, 就不写入任何数据, 并列出每一处错误(文件、行、列、原因)。" }
        @if let Some(m) = message { p.error #upload-error { (m) } }
        form.event #import-form method="post" action="/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(a.csrf);
            div.field {
                label for="files" { "文件" }
                input #files type="file" name="files" multiple accept=".csv,.txt,.xlsx,.xlsm" required;
                span.hint { "可多选; 合计不超过 " (MAX_UPLOAD / 1048576) " MiB" }
            }
            button type="submit" { "上传并导入" }
        }
        div #import-progress hidden {
            p #progress-text { "正在上传…" }
            progress #progress-bar max="100" {}
        }
        script src="/assets/import.js" {}
    }
}

/// `GET /import`: the upload form (township staff and administrators).
pub async fn import_page(State(st): State<ImportState>, a: Auth) -> Result<Markup, WebError> {
    persons::authorize_import(&st.app.store, &a.caller).await?;
    Ok(page("数据导入", Some((&a.caller.user, &a.csrf)), import_form(&a, None)))
}

fn refuse(a: &Auth, status: StatusCode, message: String, json: bool) -> Response {
    if json {
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    } else {
        (status, page("数据导入", Some((&a.caller.user, &a.csrf)), import_form(a, Some(&message)))).into_response()
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

/// `POST /import`: saves the uploaded files to a temporary folder and starts the import in the
/// background. Answers 303 to the job's page (or `{"id", "url"}` for `Accept: application/json`).
/// Refused without touching the register: no CSRF token before the files (403), no file, an
/// unsupported or empty file, a malformed body (400), more than [`MAX_UPLOAD`] bytes (413).
pub async fn import_submit(
    State(st): State<ImportState>,
    a: Auth,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    persons::authorize_import(&st.app.store, &a.caller).await?;
    let json = wants_json(&headers);
    // Checked before the upload is read (saves the transfer) and again when the job is added.
    if st.jobs.busy(a.caller.user.id) {
        return Ok(refuse(&a, StatusCode::CONFLICT, BUSY.into(), json));
    }
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_UPLOAD + 1024 * 1024) {
        return Ok(refuse(&a, StatusCode::PAYLOAD_TOO_LARGE, format!("上传的文件过大: {}, 上限 {} (upload too large)", mib(n), mib(MAX_UPLOAD)), json));
    }
    let mut mp = match mp {
        Ok(m) => m,
        Err(e) => return Ok(refuse(&a, StatusCode::BAD_REQUEST, format!("上传格式有误, 请用本页的表单上传文件 (malformed upload: {e})"), json)),
    };
    let dir =
        tempfile::Builder::new().prefix("renkou-upload-").tempdir().map_err(|e| WebError::App(AppError::Io { path: "临时目录".into(), source: e }))?;
    let mut csrf_ok = a.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok())).is_ok();
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Ok(refuse(&a, e.status(), upload_error(&e.body_text()), json)),
        };
        let fname = field.name().unwrap_or("").to_string();
        if fname == "csrf" {
            let v = match field.text().await {
                Ok(v) => v,
                Err(e) => return Ok(refuse(&a, e.status(), upload_error(&e.body_text()), json)),
            };
            csrf_ok = csrf_ok || a.check_csrf(Some(&v)).is_ok();
            continue;
        }
        let Some(original) = field.file_name().map(String::from) else { continue };
        if !csrf_ok {
            return Err(WebError::Csrf);
        }
        if original.is_empty() {
            continue; // a file input left empty
        }
        let mut name = safe_file_name(&original);
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        if !matches!(ext.as_str(), "csv" | "txt" | "xlsx" | "xlsm") {
            let msg = format!("文件 {name}: 只能导入 .csv、.txt 或 .xlsx 文件 (unsupported file type); 旧版 .xls 请另存为 .xlsx");
            return Ok(refuse(&a, StatusCode::BAD_REQUEST, msg, json));
        }
        if names.contains(&name) {
            name = format!("{}-{name}", names.len() + 1);
        }
        let path = dir.path().join(&name);
        let mut out = std::fs::File::create(&path).map_err(|e| WebError::App(AppError::Io { path: name.clone(), source: e }))?;
        let mut field = field;
        let mut size = 0u64;
        loop {
            match field.chunk().await {
                Ok(Some(bytes)) => {
                    size += bytes.len() as u64;
                    total += bytes.len() as u64;
                    if total > MAX_UPLOAD {
                        let msg = format!("上传的文件过大: 超过上限 {} (upload too large); 请分成几个文件分批导入", mib(MAX_UPLOAD));
                        return Ok(refuse(&a, StatusCode::PAYLOAD_TOO_LARGE, msg, json));
                    }
                    std::io::Write::write_all(&mut out, &bytes).map_err(|e| WebError::App(AppError::Io { path: name.clone(), source: e }))?;
                }
                Ok(None) => break,
                Err(e) => return Ok(refuse(&a, e.status(), upload_error(&e.body_text()), json)),
            }
        }
        if size == 0 {
            return Ok(refuse(&a, StatusCode::BAD_REQUEST, format!("文件 {name} 是空的 (empty file)"), json));
        }
        paths.push(path);
        names.push(name);
    }
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    if paths.is_empty() {
        return Ok(refuse(&a, StatusCode::BAD_REQUEST, "请选择要导入的文件 (no file)".into(), json));
    }
    let id = renkou_app::auth::random_token(12);
    let job = Job { owner: a.caller.user.id, files: names, bytes: total, started: Instant::now(), finished: None, state: JobState::Queued { ahead: 0 } };
    if !st.jobs.add(&id, job) {
        return Ok(refuse(&a, StatusCode::CONFLICT, BUSY.into(), json));
    }
    start(st.clone(), a.caller.clone(), id.clone(), dir, paths);
    if json {
        Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "id": id, "url": format!("/import/jobs/{id}"), "progress": format!("/import/jobs/{id}/progress") })),
        )
            .into_response())
    } else {
        Ok(Redirect::to(&format!("/import/jobs/{id}")).into_response())
    }
}

/// Refusal of a second upload while the user's import runs (409).
const BUSY: &str = "您已有一个导入正在进行, 请等它结束后再上传 (an import of yours is still running)";

fn upload_error(detail: &str) -> String {
    if detail.to_ascii_lowercase().contains("limit") {
        format!("上传的文件过大: 超过上限 {} (upload too large)", mib(MAX_UPLOAD))
    } else {
        format!("上传中断或格式有误, 请重新上传 (malformed upload: {detail})")
    }
}

/// Runs the import on the server's one import thread (reading and checking a large file is CPU
/// work that must not hold up the request threads), reporting progress into the job. Jobs wait
/// their turn in the thread's queue (排队中).
fn start(st: ImportState, caller: renkou_app::auth::Caller, id: String, dir: tempfile::TempDir, paths: Vec<PathBuf>) {
    let handle = tokio::runtime::Handle::current();
    let ahead = st.jobs.ahead_of(&id);
    if ahead > 0 {
        st.jobs.set(&id, JobState::Queued { ahead });
    }
    let jobs = st.jobs.clone();
    jobs.run(Box::new(move || {
        let jobs = st.jobs.clone();
        let last = Mutex::new(Instant::now() - Duration::from_secs(1));
        let progress = |p: ImportProgress<'_>| {
            let state = match p {
                ImportProgress::Reading { file, done, total } => {
                    // Throttle: progress is called per 16k rows, a lock per call is cheap but
                    // allocation of the file name need not happen more than 10 times a second.
                    let mut l = last.lock().expect("lock");
                    if l.elapsed() < Duration::from_millis(100) && done < total {
                        return;
                    }
                    *l = Instant::now();
                    JobState::Reading { file: file.to_string(), done, total }
                }
                ImportProgress::Checking => JobState::Checking,
                ImportProgress::Writing { done, total } => JobState::Writing { done, total },
            };
            jobs.set(&id, state);
        };
        let run = || handle.block_on(persons::import_upload(&st.app.store, &caller, &paths, crate::query::today(), Utc::now(), &progress));
        // A panic must not leave the job unfinished (its user could never import again).
        let state = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(Ok(s)) => {
                st.app.figures_changed();
                JobState::Done(s)
            }
            Ok(Err(AppError::Rejected(p))) => JobState::Rejected(p),
            Ok(Err(AppError::Io { path, source })) => {
                let name = std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
                JobState::Rejected(vec![format!("{name}: 文件无法读取, 请确认是 CSV 或 .xlsx 文件 (cannot read file: {source})")])
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "导入失败 (import failed)");
                JobState::Failed("导入失败, 未写入任何数据; 请联系管理员 (import failed)".into())
            }
            Err(_) => {
                tracing::error!("导入线程出错 (import panicked)");
                JobState::Failed("导入失败, 未写入任何数据; 请联系管理员 (import failed)".into())
            }
        };
        jobs.set(&id, state);
        drop(dir);
    }));
}

/// `GET /import/jobs/{id}/progress`: the job's progress as JSON (404 for another user's job).
pub async fn job_progress(State(st): State<ImportState>, a: Auth, Path(id): Path<String>) -> Result<Json<JobProgress>, WebError> {
    let j = st.jobs.get(&id, a.caller.user.id).ok_or_else(|| WebError::App(AppError::NotFound(format!("导入任务 {id}"))))?;
    Ok(Json(progress_of(&id, &j)))
}

/// `GET /import/jobs/{id}/errors.csv`: the problems of a rejected import, `文件,行,列,原因`.
pub async fn job_errors_csv(State(st): State<ImportState>, a: Auth, Path(id): Path<String>) -> Result<Response, WebError> {
    let j = st.jobs.get(&id, a.caller.user.id).ok_or_else(|| WebError::App(AppError::NotFound(format!("导入任务 {id}"))))?;
    let JobState::Rejected(p) = &j.state else { return Err(WebError::BadRequest("该导入没有错误报告 (no error report)".into())) };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"import-errors-{id}.csv\"")),
        ],
        problems_csv(p),
    )
        .into_response())
}

/// Rows of the error table shown on the page (the CSV has them all).
const SHOWN_PROBLEMS: usize = 500;

/// `GET /import/jobs/{id}`: progress while running (refreshes itself), then the summary or the
/// per-row errors.
pub async fn job_page(State(st): State<ImportState>, a: Auth, Path(id): Path<String>) -> Result<Markup, WebError> {
    let j = st.jobs.get(&id, a.caller.user.id).ok_or_else(|| WebError::App(AppError::NotFound(format!("导入任务 {id}"))))?;
    let p = progress_of(&id, &j);
    let body = html! {
        h1 { "数据导入" }
        p.sub { "文件: " (j.files.join(", ")) " (" (mib(j.bytes)) ") · 用时 " (format!("{:.1}", p.seconds)) " 秒" }
        @match &j.state {
            JobState::Done(s) => {
                p.ok #import-status data-state="done" { "导入完成。" }
                table.kv #import-summary {
                    tr { th { "新增人员" } td.num data-key="persons" { (s.persons) } th { "新增户" } td.num data-key="households" { (s.households) } }
                    tr { th { "居住/户籍记录" } td.num data-key="episodes" { (s.episodes) } th { "结束的居住记录" } td.num data-key="episodes_ended" { (s.episodes_ended) } }
                    tr { th { "婚姻" } td.num data-key="marriages" { (s.marriages) } th { "结束的婚姻" } td.num data-key="marriages_ended" { (s.marriages_ended) } }
                    tr { th { "出生" } td.num data-key="births" { (s.births) } th { "死亡" } td.num data-key="deaths" { (s.deaths) } }
                    tr { th { "15位号码升位" } td.num { (s.legacy_ids_upgraded) } th { "文件" } td { @for f in &s.files { (f.name) " (" (f.rows) " 行) " } } }
                }
                @if !s.warnings.is_empty() {
                    h2 { "提示 (" (s.warnings.len()) ")" }
                    ul.warnings { @for w in &s.warnings { li { (w) } } }
                }
                p.actions { a.button href="/" { "查看统计概览" } a.button href="/import" { "继续导入" } }
            }
            JobState::Rejected(problems) => {
                p.error #import-status data-state="rejected" { "导入被拒绝, 未写入任何数据: 共 " span #problem-count { (problems.len()) } " 处错误。请在文件中改正后重新上传。" }
                p.actions {
                    a.button #errors-csv href={ "/import/jobs/" (id) "/errors.csv" } { "下载错误报告 (CSV)" }
                    a.button href="/import" { "重新上传" }
                }
                @if problems.len() > SHOWN_PROBLEMS { p.sub { "下表只显示前 " (SHOWN_PROBLEMS) " 处, 全部错误见错误报告。" } }
                table.list #problems {
                    thead { tr { th { "文件" } th { "行" } th { "列" } th { "原因" } } }
                    tbody { @for pr in problems.iter().take(SHOWN_PROBLEMS).map(|s| split_problem(s)) {
                        tr { td { (pr.file) } td.num { (pr.row) } td { (pr.column) } td.reason { (pr.reason) } }
                    } }
                }
            }
            JobState::Failed(m) => { p.error #import-status data-state="failed" { (m) } p { a.button href="/import" { "返回" } } }
            _ => {
                noscript { meta http-equiv="refresh" content="1"; }
                div #import-progress data-job=(id) {
                    p #progress-text data-state=(p.state) { (p.message) }
                    progress #progress-bar max="100" value=[p.percent] {}
                }
                script src="/assets/import.js" {}
            }
        }
    };
    Ok(page("数据导入", Some((&a.caller.user, &a.csrf)), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(owner: i64, state: JobState) -> Job {
        Job { owner, files: vec!["p.csv".into()], bytes: 1, started: Instant::now(), finished: None, state }
    }

    #[test]
    fn one_unfinished_import_per_user() {
        let jobs = Jobs::default();
        assert!(jobs.add("a", job(1, JobState::Queued { ahead: 0 })));
        assert!(jobs.busy(1));
        assert!(!jobs.add("b", job(1, JobState::Queued { ahead: 0 })), "a second job of user 1 while the first runs");
        assert!(jobs.add("c", job(2, JobState::Queued { ahead: 0 })), "another user may queue");
        assert_eq!(jobs.ahead_of("c"), 1);
        jobs.set("a", JobState::Failed("x".into()));
        assert!(!jobs.busy(1));
        assert_eq!(jobs.ahead_of("c"), 0);
        assert!(jobs.add("d", job(1, JobState::Queued { ahead: 0 })), "after the first ended");
        assert_eq!(jobs.get("b", 1).map(|j| j.owner), None);
    }
}
