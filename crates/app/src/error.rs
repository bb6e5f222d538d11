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
}
