//! Text as users type it: full-width characters from Chinese input methods, person names,
//! quoting a bad value in a message, and CSV cells that a spreadsheet would run as formulas.

use std::borrow::Cow;

/// At most this many characters of a bad value are quoted in a message.
pub const MAX_QUOTE: usize = 40;

/// A person's name has at most this many characters (after trimming).
pub const MAX_NAME_CHARS: usize = 50;

/// Folds full-width ASCII (U+FF01–U+FF5E: `１３０１`, `Ｘ`, `－`, `：`, `／`) and the ideographic
/// space U+3000 to their ASCII forms, as NFKC does for that range; every other character is kept.
/// Use it on IDs, dates and codes before parsing, never on names.
pub fn fold_fullwidth(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_fullwidth_ascii) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(fold_char).collect())
}

fn is_fullwidth_ascii(c: char) -> bool {
    matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}')
}

fn fold_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        c => c,
    }
}

/// `s` clipped to [`MAX_QUOTE`] characters, with `…` when something was cut.
pub fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(MAX_QUOTE) {
        None => Cow::Borrowed(s),
        Some((at, _)) => Cow::Owned(format!("{}…", &s[..at])),
    }
}

/// `s` for a message: clipped ([`clip`]) and in double quotes, with control and invisible
/// characters escaped (`"张\u{200b}三"`), so the user sees what is really in the cell.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4 * MAX_QUOTE) + 2);
    out.push('"');
    for c in clip(s).chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
            out.push(c);
        } else if c == '\n' {
            out.push_str("\\n");
        } else if c == '\t' {
            out.push_str("\\t");
        } else if c == '\r' {
            out.push_str("\\r");
        } else if c.is_control() || is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Format characters (Unicode category Cf) and other characters that show nothing: zero-width
/// spaces and joiners, bidirectional controls (U+202A–U+202E, U+2066–U+2069, which can make
/// `张三` display as something else), word joiners, the BOM U+FEFF, line and paragraph
/// separators, and the Hangul fillers.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Why a name was refused. The caller adds the field (姓名, 配偶姓名, the form field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty after trimming.
    #[error("姓名为空 (name is empty)")]
    Empty,
    /// A line break, tab or another control character inside.
    #[error("{} 含有换行或控制字符 (name contains a line break or control character)", quote(.0))]
    Control(String),
    /// An invisible format character inside (zero-width space, bidirectional control, BOM …).
    #[error("{} 含有不可见字符 U+{:04X} (name contains an invisible character)", quote(.name), *.found as u32)]
    Invisible {
        /// The name as given (trimmed).
        name: String,
        /// The first invisible character.
        found: char,
    },
    /// Longer than [`MAX_NAME_CHARS`].
    #[error("{} 有 {len} 个字, 超过 {MAX_NAME_CHARS} 个字 (name longer than {MAX_NAME_CHARS} characters)", quote(.name))]
    TooLong {
        /// The name as given (trimmed).
        name: String,
        /// Its length in characters.
        len: usize,
    },
}

/// Checks a person's name (姓名, 配偶姓名, any name a user types): surrounding whitespace (also
/// the full-width space) is trimmed; empty, control characters (line breaks from Alt+Enter or a
/// quoted CSV cell), invisible format characters ([`is_invisible`]) and more than
/// [`MAX_NAME_CHARS`] characters are refused. Full-width letters are kept as written.
pub fn check_person_name(s: &str) -> Result<String, NameError> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if t.is_empty() {
        return Err(NameError::Empty);
    }
    if t.chars().any(char::is_control) {
        return Err(NameError::Control(t.to_string()));
    }
    if let Some(found) = t.chars().find(|&c| is_invisible(c)) {
        return Err(NameError::Invisible { name: t.to_string(), found });
    }
    let len = t.chars().count();
    if len > MAX_NAME_CHARS {
        return Err(NameError::TooLong { name: t.to_string(), len });
    }
    Ok(t.to_string())
}

/// The UTF-8 byte order mark every CSV export starts with, so that Excel on Chinese Windows
/// reads the file as UTF-8 rather than GBK.
pub const CSV_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A text cell for a CSV export, safe to open in a spreadsheet (OWASP "CSV injection"): a cell
/// beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that
/// `=cmd|' /C calc'!A0` is shown as text instead of run (a lone `-` placeholder is left as it
/// is). Use it on text (names, file names,
/// reasons, codes), not on figures written as numbers (`-1.5` stays a number).
pub fn csv_text_cell(s: &str) -> Cow<'_, str> {
    if s == "-" {
        // The usual "none" placeholder (no column, no value): a lone dash is no formula.
        return Cow::Borrowed(s);
    }
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_is_folded() {
        assert_eq!(fold_fullwidth("１３０１３１１９７５０３１２０１１Ｘ"), "13013119750312011X");
        assert_eq!(fold_fullwidth("２０１３－０７－０５　０８：００"), "2013-07-05 08:00");
        assert_eq!(fold_fullwidth("ｍ／ｆ"), "m/f");
        assert!(matches!(fold_fullwidth("张三 130131"), Cow::Borrowed(_)));
        assert_eq!(fold_fullwidth("张三（１）"), "张三(1)");
        // Outside the range: kept.
        assert_eq!(fold_fullwidth("〇一"), "〇一");
    }

    #[test]
    fn names() {
        assert_eq!(check_person_name("\u{3000}王五 "), Ok("王五".to_string()));
        assert_eq!(check_person_name("阿依古丽·买买提"), Ok("阿依古丽·买买提".to_string()));
        assert_eq!(check_person_name("   "), Err(NameError::Empty));
        assert_eq!(check_person_name("张\n三"), Err(NameError::Control("张\n三".into())));
        assert_eq!(check_person_name("张\u{200B}三"), Err(NameError::Invisible { name: "张\u{200B}三".into(), found: '\u{200B}' }));
        assert_eq!(
            check_person_name("张\u{200B}三").unwrap_err().to_string(),
            "\"张\\u{200b}三\" 含有不可见字符 U+200B (name contains an invisible character)"
        );
        assert!(matches!(check_person_name("\u{202E}三张"), Err(NameError::Invisible { found: '\u{202E}', .. })));
        assert!(matches!(check_person_name("张\u{2063}三"), Err(NameError::Invisible { .. })));
        assert!(matches!(check_person_name("\u{FEFF}张三\u{FEFF}x"), Err(NameError::Invisible { found: '\u{FEFF}', .. })));
        let fifty = "张".repeat(50);
        assert_eq!(check_person_name(&fifty), Ok(fifty.clone()));
        let err = check_person_name(&"张".repeat(51)).unwrap_err();
        assert_eq!(err, NameError::TooLong { name: "张".repeat(51), len: 51 });
        assert_eq!(err.to_string(), format!("\"{}…\" 有 51 个字, 超过 50 个字 (name longer than 50 characters)", "张".repeat(40)));
    }

    #[test]
    fn quoting_is_clipped() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote(&"a".repeat(40)), format!("\"{}\"", "a".repeat(40)));
        assert_eq!(quote(&"甲".repeat(41)), format!("\"{}…\"", "甲".repeat(40)));
        assert_eq!(clip(&"1".repeat(45)), format!("{}…", "1".repeat(40)));
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
    }

    #[test]
    fn csv_cells() {
        assert_eq!(csv_text_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        for s in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_text_cell(s), format!("'{s}"));
        }
        assert_eq!(csv_text_cell("张三"), "张三");
        assert_eq!(csv_text_cell(""), "");
        assert_eq!(csv_text_cell("a=b"), "a=b");
        assert_eq!(csv_text_cell("-"), "-");
        assert_eq!(csv_text_cell("--"), "'--");
    }
}
