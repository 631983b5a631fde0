//! Fixed-point amounts. Carats are counted in hundredths (0.01 ct), money in US
//! cents. Human-readable forms are decimal strings with at most two decimals
//! (`"1234.56"`), parsed exactly; the binary form is the integer.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Why an amount could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid amount {text:?}: expected a non-negative decimal with at most two decimals")]
pub struct ParseAmountError {
    text: String,
}

fn parse_hundredths(text: &str) -> Result<u64, ParseAmountError> {
    let err = || ParseAmountError {
        text: text.chars().take(64).collect(),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(err());
    }
    let whole: u64 = whole.parse().map_err(|_| err())?;
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| err())?
    };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(err)
}

macro_rules! fixed_point {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u64);

        impl $name {
            /// Sum, or `None` on overflow.
            pub fn checked_add(self, other: Self) -> Option<Self> {
                self.0.checked_add(other.0).map($name)
            }
            /// Sum, saturating at the maximum.
            pub fn saturating_add(self, other: Self) -> Self {
                $name(self.0.saturating_add(other.0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
            }
        }

        impl FromStr for $name {
            type Err = ParseAmountError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_hundredths(text).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    s.serialize_u64(self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = String::deserialize(d)?;
                    text.parse().map_err(serde::de::Error::custom)
                } else {
                    u64::deserialize(d).map($name)
                }
            }
        }
    };
}

fixed_point!(Carats, "A weight in hundredths of a carat.");
fixed_point!(UsdCents, "A value in US cents.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!("1234.56".parse::<Carats>().unwrap(), Carats(123_456));
        assert_eq!("12.5".parse::<Carats>().unwrap(), Carats(1250));
        assert_eq!("7".parse::<UsdCents>().unwrap(), UsdCents(700));
        assert_eq!(Carats(5).to_string(), "0.05");
        for bad in [
            "",
            "-1",
            "1.234",
            "1e3",
            "abc",
            ".5",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<Carats>().is_err(), "{bad}");
        }
    }
}
