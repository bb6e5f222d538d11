//! Reading rows by column name into the core's typed codes: a stored code the core does not know
//! is [`StoreError::Corrupt`], never a default. And the JSON form of those fields, which keeps the
//! stored codes (sex as the GB/T 2261.1 number, kind and policy as their snake_case codes).

use crate::db::DbRow;
use renkou_core::register::{PolicyClass, ResidenceKind, Sex};

use crate::{Result, StoreError};

/// The GB/T 2261.1 sex code in column `col`.
pub(crate) fn sex(row: &DbRow, col: &str) -> Result<Sex> {
    let code: i64 = row.try_get(col)?;
    Sex::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("{col}: sex code {code}")))
}

/// The residence kind code in column `col`.
pub(crate) fn kind(row: &DbRow, col: &str) -> Result<ResidenceKind> {
    let code: String = row.try_get(col)?;
    ResidenceKind::from_code(&code).ok_or_else(|| StoreError::Corrupt(format!("{col}: residence kind {code:?}")))
}

/// The policy classification code in column `col`, if any.
pub(crate) fn policy(row: &DbRow, col: &str) -> Result<Option<PolicyClass>> {
    let code: Option<String> = row.try_get(col)?;
    code.map(|c| PolicyClass::from_code(&c).ok_or_else(|| StoreError::Corrupt(format!("{col}: policy {c:?}")))).transpose()
}

/// Serializes a [`Sex`] as its GB/T 2261.1 code (1, 2), as the rows' JSON always had it.
pub(crate) fn sex_code<S: serde::Serializer>(s: &Sex, ser: S) -> std::result::Result<S::Ok, S::Error> {
    ser.serialize_i64(s.code())
}
