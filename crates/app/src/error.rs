//! The app's error type.

/// Errors of a use-case. Each message is in Chinese with the English in brackets, and names what
/// was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] renkou_store::StoreError),
    /// An input was invalid (bad area code, unknown area, period out of order, …).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("文件 {path}: {source} (file error)")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An import was rejected; nothing was written. Each entry is `file:row:column: reason`.
    #[error("导入被拒绝, 未写入任何数据 (import rejected, nothing written): {} 处错误 (errors)\n{}", .0.len(), .0.join("\n"))]
    Rejected(Vec<String>),
    /// Writing an export failed.
    #[error("导出失败 (export failed): {0}")]
    Export(String),
    /// The record does not exist or lies outside the caller's areas (the two are not told
    /// apart, so that a scope cannot be probed). HTTP 404.
    #[error("未找到 (not found): {0}")]
    NotFound(String),
    /// The caller's role may not do this. HTTP 403.
    #[error("无权限 (forbidden): {0}")]
    Forbidden(String),
    /// Not logged in, or wrong username or password. HTTP 401.
    #[error("未登录或用户名密码错误 (unauthenticated): {0}")]
    Unauthenticated(String),
    /// Too many failed logins; try later. HTTP 429.
    #[error("登录失败次数过多, 请稍后再试 (too many attempts): {0}")]
    RateLimited(String),
    /// A form has invalid fields: `(field name, message in Chinese)`. HTTP 422.
    #[error("表单有误 (invalid form): {}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Fields(Vec<(String, String)>),
}
