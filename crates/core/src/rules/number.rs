//! Exact rational numbers for the rule language.
//!
//! Every number a rule or an indicator computes is an exact fraction of two `i128`, kept in lowest
//! terms with a positive denominator, so `births * 1000 / population_average` over township counts
//! is exact and rounds exactly like [`crate::stats::Ratio::rounded`] (half away from zero, in
//! integers). Overflow of `i128` is reported, never wrapped.

use std::cmp::Ordering;
use std::fmt;

use crate::stats::Ratio;

/// An exact rational number `numerator / denominator` in lowest terms, denominator > 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    num: i128,
    den: i128,
}

/// Why an arithmetic operation has no exact result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithError {
    /// The result does not fit in `i128 / i128`.
    Overflow,
    /// Division by zero (the rule language turns this into "no value", like a rate over nothing).
    DivisionByZero,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Number {
    /// 0.
    pub const ZERO: Number = Number { num: 0, den: 1 };
    /// 1.
    pub const ONE: Number = Number { num: 1, den: 1 };

    /// The integer `n`.
    pub const fn int(n: i128) -> Number {
        Number { num: n, den: 1 }
    }

    /// `n / d` in lowest terms; `None` when `d` is 0 or the sign cannot be normalised.
    pub fn new(n: i128, d: i128) -> Option<Number> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d).max(1);
        let (mut n, mut d) = (n / g, d / g);
        if d < 0 {
            n = n.checked_neg()?;
            d = d.checked_neg()?;
        }
        Some(Number { num: n, den: d })
    }

    /// Numerator (sign of the number).
    pub fn numerator(self) -> i128 {
        self.num
    }

    /// Denominator (> 0).
    pub fn denominator(self) -> i128 {
        self.den
    }

    /// True when the number is an integer.
    pub fn is_integer(self) -> bool {
        self.den == 1
    }

    /// True when the number is 0.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    /// Parses a decimal literal such as `12`, `0.5`, `-3.25` exactly.
    pub fn parse_decimal(s: &str) -> Option<Number> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut n: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            n = n.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        let den = 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?;
        Number::new(if neg { -n } else { n }, den)
    }

    /// `self + o`.
    pub fn checked_add(self, o: Number) -> Result<Number, ArithError> {
        let g = gcd(self.den, o.den);
        let l = (self.den / g).checked_mul(o.den).ok_or(ArithError::Overflow)?;
        let a = self.num.checked_mul(l / self.den).ok_or(ArithError::Overflow)?;
        let b = o.num.checked_mul(l / o.den).ok_or(ArithError::Overflow)?;
        Number::new(a.checked_add(b).ok_or(ArithError::Overflow)?, l).ok_or(ArithError::Overflow)
    }

    /// `self − o`.
    pub fn checked_sub(self, o: Number) -> Result<Number, ArithError> {
        self.checked_add(o.checked_neg()?)
    }

    /// `−self`.
    pub fn checked_neg(self) -> Result<Number, ArithError> {
        Ok(Number { num: self.num.checked_neg().ok_or(ArithError::Overflow)?, den: self.den })
    }

    /// `|self|`.
    pub fn abs(self) -> Result<Number, ArithError> {
        if self.num < 0 {
            self.checked_neg()
        } else {
            Ok(self)
        }
    }

    /// `self × o`.
    pub fn checked_mul(self, o: Number) -> Result<Number, ArithError> {
        let g1 = gcd(self.num, o.den).max(1);
        let g2 = gcd(o.num, self.den).max(1);
        let n = (self.num / g1).checked_mul(o.num / g2).ok_or(ArithError::Overflow)?;
        let d = (self.den / g2).checked_mul(o.den / g1).ok_or(ArithError::Overflow)?;
        Number::new(n, d).ok_or(ArithError::Overflow)
    }

    /// `self ÷ o`; [`ArithError::DivisionByZero`] when `o` is 0.
    pub fn checked_div(self, o: Number) -> Result<Number, ArithError> {
        if o.num == 0 {
            return Err(ArithError::DivisionByZero);
        }
        let inv = Number::new(o.den, o.num).ok_or(ArithError::Overflow)?;
        self.checked_mul(inv)
    }

    /// Rounded to `digits` decimals, half away from zero, as an exact number
    /// (`round(5.875, 2)` = 5.88).
    pub fn round(self, digits: u32) -> Result<Number, ArithError> {
        let (q, scale) = self.scaled(digits)?;
        Number::new(q, scale).ok_or(ArithError::Overflow)
    }

    /// `(q, 10^digits)` with `q / 10^digits` the value rounded half away from zero.
    fn scaled(self, digits: u32) -> Result<(i128, i128), ArithError> {
        let scale = 10i128.checked_pow(digits).ok_or(ArithError::Overflow)?;
        let n = self.num.checked_abs().and_then(|a| a.checked_mul(scale)).ok_or(ArithError::Overflow)?;
        let mut q = n / self.den;
        let r = n % self.den;
        if r >= self.den - r {
            q += 1;
        }
        Ok((if self.num < 0 { -q } else { q }, scale))
    }

    /// Decimal text with `precision` decimals, half away from zero (the same text as
    /// [`Ratio::rounded`], e.g. `"5.88"`, `"-0.50"`), computed without overflow; a number too
    /// large for that many decimals is written exactly as `a/b`.
    pub fn rounded(self, precision: u32) -> String {
        let Ok((q, scale)) = self.scaled(precision) else { return format!("{}/{}", self.num, self.den) };
        let sign = if q < 0 { "-" } else { "" };
        let (int, frac) = (q.unsigned_abs() / scale as u128, q.unsigned_abs() % scale as u128);
        if precision == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac:0width$}", width = precision as usize)
        }
    }

    /// As a [`Ratio`] of the statistics module.
    pub fn to_ratio(self) -> Ratio {
        Ratio { numerator: self.num, denominator: self.den }
    }

    /// From a [`Ratio`] (reduced to lowest terms).
    pub fn from_ratio(r: Ratio) -> Option<Number> {
        Number::new(r.numerator, r.denominator)
    }

    /// Nearest `f64` (for charts and JSON only; never for comparisons).
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Number {
        Number::int(i128::from(v))
    }
}

impl Ord for Number {
    fn cmp(&self, o: &Number) -> Ordering {
        match (self.num.checked_mul(o.den), o.num.checked_mul(self.den)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Beyond i128 cross products: compare integer parts, then the fractions by
            // cross-multiplying the remainders (both < denominators).
            _ => {
                let (qa, ra) = (self.num.div_euclid(self.den), self.num.rem_euclid(self.den));
                let (qb, rb) = (o.num.div_euclid(o.den), o.num.rem_euclid(o.den));
                qa.cmp(&qb).then_with(|| {
                    let a = Number { num: ra, den: self.den };
                    let b = Number { num: rb, den: o.den };
                    a.to_f64().partial_cmp(&b.to_f64()).unwrap_or(Ordering::Equal)
                })
            }
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, o: &Number) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Number {
    /// Integers as `336`; terminating decimals exactly (`30270.5`); other fractions as
    /// `a/b` (exact) – the display a violation report shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            return write!(f, "{}", self.num);
        }
        let mut d = self.den;
        let (mut twos, mut fives) = (0u32, 0u32);
        while d % 2 == 0 {
            d /= 2;
            twos += 1;
        }
        while d % 5 == 0 {
            d /= 5;
            fives += 1;
        }
        let digits = twos.max(fives);
        if d == 1 && digits <= 18 && self.scaled(digits).is_ok() {
            write!(f, "{}", self.rounded(digits))
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_arithmetic() {
        // 111 × 1000 / ((9990 + 10010) / 2) = 111000 / 10000 = 11.1 exactly.
        let a = Number::int(111).checked_mul(Number::int(1000)).unwrap();
        let avg = Number::int(9990 + 10010).checked_div(Number::int(2)).unwrap();
        let r = a.checked_div(avg).unwrap();
        assert_eq!(r.rounded(1), "11.1");
        assert_eq!(Number::new(6, -4).unwrap(), Number::new(-3, 2).unwrap());
        assert_eq!(Number::parse_decimal("5.875").unwrap().round(2).unwrap(), Number::new(588, 100).unwrap());
        assert_eq!(Number::parse_decimal("-5.875").unwrap().round(2).unwrap().to_string(), "-5.88");
        assert_eq!(Number::new(1, 3).unwrap().to_string(), "1/3");
        assert_eq!(Number::new(60541, 2).unwrap().to_string(), "30270.5");
        assert!(Number::new(1, 3).unwrap() < Number::new(1, 2).unwrap());
        assert_eq!(Number::ONE.checked_div(Number::ZERO), Err(ArithError::DivisionByZero));
        assert_eq!(Number::int(i128::MAX).checked_add(Number::ONE), Err(ArithError::Overflow));
        assert_eq!(Number::new(-1, 1000).unwrap().rounded(2), "0.00");
        assert_eq!(Number::new(-1, 2).unwrap().rounded(2), "-0.50");
        assert_eq!(Number::new(2, 3).unwrap().rounded(0), "1");
        assert_eq!(Number::new(i128::MAX, 2).unwrap().rounded(2), format!("{}/2", i128::MAX));
    }
}
