//! Time as the ledger sees it: block timestamps, calendar dates and reporting
//! periods. The ledger and consensus read no clock; time comes to them from
//! block headers and their host. [`wall_clock`] is the hosts' one reading of
//! the system clock (node, client, network, tools); `scripts/check-deps`
//! keeps it and `SystemTime` out of the pure cores.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Why a date, time or period could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid {kind} {text:?}: expected {expected}")]
pub struct ParseTimeError {
    kind: &'static str,
    text: String,
    expected: &'static str,
}

const MS_PER_DAY: u64 = 86_400_000;

/// Milliseconds since 1970-01-01T00:00:00Z (block time).
///
/// Human-readable forms use RFC 3339 in UTC (`2026-01-01T00:00:00Z`); the
/// binary form is the integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

/// Now, by the system clock: for hosts only (see the module docs). A clock
/// set before 1970 reads as 0; one past year 584,556,019 as `u64::MAX`.
pub fn wall_clock() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

impl Timestamp {
    /// The calendar date (UTC) of this instant.
    /// Instants too far in the future for a `Date` give the last `Date`.
    pub fn date(self) -> Date {
        Date(u32::try_from(self.0 / MS_PER_DAY).unwrap_or(u32::MAX))
    }

    /// Midnight UTC at the start of `date`.
    pub fn at_start_of(date: Date) -> Timestamp {
        Timestamp(u64::from(date.0) * MS_PER_DAY)
    }

    /// This instant plus `ms` milliseconds, saturating.
    pub fn plus_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

/// 10000-01-01T00:00:00Z: from here on a timestamp is written as its
/// integer milliseconds, which the parser also accepts, so every value
/// round-trips through its text form.
const RFC3339_END_MS: u64 = 2_932_897 * MS_PER_DAY;

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= RFC3339_END_MS {
            return write!(f, "{}", self.0);
        }
        let day_ms = self.0 % MS_PER_DAY;
        let (h, m, s, ms) = (
            day_ms / 3_600_000,
            day_ms / 60_000 % 60,
            day_ms / 1000 % 60,
            day_ms % 1000,
        );
        write!(f, "{}T{h:02}:{m:02}:{s:02}", self.date())?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl FromStr for Timestamp {
    type Err = ParseTimeError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ParseTimeError {
            kind: "timestamp",
            text: text.chars().take(64).collect(),
            expected: "YYYY-MM-DDTHH:MM:SS[.mmm]Z or milliseconds since 1970",
        };
        if let Ok(ms) = text.parse::<u64>() {
            return Ok(Timestamp(ms));
        }
        let body = text.strip_suffix('Z').ok_or_else(err)?;
        let (date, clock) = body.split_once('T').ok_or_else(err)?;
        let date: Date = date.parse().map_err(|_| err())?;
        let (hms, frac) = match clock.split_once('.') {
            Some((hms, frac)) => (hms, frac),
            None => (clock, "0"),
        };
        let mut parts = hms.split(':').map(|p| p.parse::<u64>().map_err(|_| err()));
        let (h, m, s) = (
            parts.next().ok_or_else(err)??,
            parts.next().ok_or_else(err)??,
            parts.next().ok_or_else(err)??,
        );
        if parts.next().is_some() || h > 23 || m > 59 || s > 59 || frac.is_empty() || frac.len() > 3
        {
            return Err(err());
        }
        let ms: u64 = format!("{frac:0<3}").parse().map_err(|_| err())?;
        Ok(Timestamp(
            u64::from(date.0) * MS_PER_DAY + h * 3_600_000 + m * 60_000 + s * 1000 + ms,
        ))
    }
}

/// A calendar date, as days since 1970-01-01. Human-readable form `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date(pub u32);

impl Date {
    /// The date of a proleptic Gregorian year, month (1-12) and day (1-31),
    /// if it exists and is not before 1970.
    pub fn from_ymd(year: u32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let (y, m, d) = (i64::from(year), i64::from(month), i64::from(day));
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        u32::try_from(days).ok().map(Date)
    }

    /// Year, month (1-12) and day (1-31).
    pub fn ymd(self) -> (u32, u32, u32) {
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y as u32, m as u32, d as u32)
    }

    /// The calendar year.
    pub fn year(self) -> u32 {
        self.ymd().0
    }

    /// `days` later.
    pub fn plus_days(self, days: u32) -> Date {
        Date(self.0.saturating_add(days))
    }

    /// Days from `earlier` to `self` (negative if `self` is earlier).
    pub fn days_since(self, earlier: Date) -> i64 {
        i64::from(self.0) - i64::from(earlier.0)
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = ParseTimeError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ParseTimeError {
            kind: "date",
            text: text.chars().take(64).collect(),
            expected: "YYYY-MM-DD, not before 1970",
        };
        let mut parts = text.split('-');
        let mut next = |min: usize, max: usize| -> Result<u32, ParseTimeError> {
            let part = parts.next().ok_or_else(err)?;
            if part.len() < min || part.len() > max || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        // Years past 9999 have more digits, as Display writes them.
        let (y, m, d) = (next(4, 10)?, next(2, 2)?, next(2, 2)?);
        if parts.next().is_some() {
            return Err(err());
        }
        Date::from_ymd(y, m, d).ok_or_else(err)
    }
}

/// A reporting period: a calendar year, half-year (`2026H1`) or quarter (`2026Q3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A calendar year.
    Year(u32),
    /// Half-year 1 or 2 of a year (production reports).
    Half(u32, u8),
    /// Quarter 1-4 of a year (trade reports).
    Quarter(u32, u8),
}

impl Period {
    /// The quarter containing `date`.
    pub fn quarter_of(date: Date) -> Period {
        let (y, m, _) = date.ymd();
        Period::Quarter(y, ((m - 1) / 3 + 1) as u8)
    }

    /// The half-year containing `date`.
    pub fn half_of(date: Date) -> Period {
        let (y, m, _) = date.ymd();
        Period::Half(y, if m <= 6 { 1 } else { 2 })
    }

    /// First and last month (1-12) of the period, and its year.
    fn months(self) -> (u32, u32, u32) {
        match self {
            Period::Year(y) => (y, 1, 12),
            Period::Half(y, h) => (y, u32::from(h) * 6 - 5, u32::from(h) * 6),
            Period::Quarter(y, q) => (y, u32::from(q) * 3 - 2, u32::from(q) * 3),
        }
    }

    /// Whether `date` falls in this period.
    pub fn contains(self, date: Date) -> bool {
        let (y, m, _) = date.ymd();
        let (py, first, last) = self.months();
        y == py && (first..=last).contains(&m)
    }

    /// Whether `other` lies entirely inside this period.
    pub fn covers(self, other: Period) -> bool {
        let (oy, of, ol) = other.months();
        let (y, f, l) = self.months();
        oy == y && of >= f && ol <= l
    }

    /// The period of the same length just before this one.
    pub fn previous(self) -> Period {
        match self {
            Period::Year(y) => Period::Year(y.saturating_sub(1)),
            Period::Half(y, 1) => Period::Half(y.saturating_sub(1), 2),
            Period::Half(y, h) => Period::Half(y, h - 1),
            Period::Quarter(y, 1) => Period::Quarter(y.saturating_sub(1), 4),
            Period::Quarter(y, q) => Period::Quarter(y, q - 1),
        }
    }

    /// Whether the period's numbers are in range (half 1-2, quarter 1-4).
    pub fn is_valid(self) -> bool {
        match self {
            Period::Year(y) => (1970..=9999).contains(&y),
            Period::Half(y, h) => (1970..=9999).contains(&y) && (1..=2).contains(&h),
            Period::Quarter(y, q) => (1970..=9999).contains(&y) && (1..=4).contains(&q),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Half(y, h) => write!(f, "{y}H{h}"),
            Period::Quarter(y, q) => write!(f, "{y}Q{q}"),
        }
    }
}

impl FromStr for Period {
    type Err = ParseTimeError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ParseTimeError {
            kind: "period",
            text: text.chars().take(64).collect(),
            expected: "YYYY, YYYYH1..YYYYH2 or YYYYQ1..YYYYQ4",
        };
        let upper = text.to_ascii_uppercase();
        let period = if let Some((y, h)) = upper.split_once('H') {
            Period::Half(y.parse().map_err(|_| err())?, h.parse().map_err(|_| err())?)
        } else if let Some((y, q)) = upper.split_once('Q') {
            Period::Quarter(y.parse().map_err(|_| err())?, q.parse().map_err(|_| err())?)
        } else {
            Period::Year(upper.parse().map_err(|_| err())?)
        };
        if period.is_valid() {
            Ok(period)
        } else {
            Err(err())
        }
    }
}

macro_rules! string_serde {
    ($ty:ty, $binary:ty, $to:expr, $from:expr) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    #[allow(clippy::redundant_closure_call)]
                    ($to)(self).serialize(s)
                }
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = String::deserialize(d)?;
                    text.parse().map_err(serde::de::Error::custom)
                } else {
                    #[allow(clippy::redundant_closure_call)]
                    ($from)(<$binary>::deserialize(d)?).map_err(serde::de::Error::custom)
                }
            }
        }
    };
}

string_serde!(Timestamp, u64, |t: &Timestamp| t.0, |v| Ok::<
    _,
    ParseTimeError,
>(Timestamp(v)));
string_serde!(Date, u32, |d: &Date| d.0, |v| Ok::<_, ParseTimeError>(
    Date(v)
));
string_serde!(Period, String, |p: &Period| p.to_string(), |v: String| {
    v.parse::<Period>()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_round_trips() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2026, 3, 1)] {
            let date = Date::from_ymd(y, m, d).unwrap();
            assert_eq!(date.ymd(), (y, m, d));
            assert_eq!(date.to_string().parse::<Date>().unwrap(), date);
        }
        assert_eq!(Date::from_ymd(1970, 1, 2).unwrap().0, 1);
        assert!(Date::from_ymd(2023, 2, 29).is_none());
        assert!("2023-13-01".parse::<Date>().is_err());
    }

    #[test]
    fn timestamp_round_trips() {
        let t: Timestamp = "2026-11-29T17:04:57.250Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-29T17:04:57.250Z");
        assert_eq!(t.date(), "2026-11-29".parse().unwrap());
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert_eq!(crate::encode(&t).len(), 8);
    }

    #[test]
    fn extreme_values_round_trip() {
        assert_eq!(
            Date::from_ymd(10_000, 1, 1).unwrap().0 as u64 * MS_PER_DAY,
            RFC3339_END_MS
        );
        for ms in [
            0,
            RFC3339_END_MS - 1,
            RFC3339_END_MS,
            u64::from(u32::MAX) * MS_PER_DAY,
            u64::MAX,
        ] {
            let t = Timestamp(ms);
            assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t, "{t}");
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        }
        assert_eq!(Timestamp(u64::MAX).date(), Date(u32::MAX));
        for days in [0, 2_932_896, 2_932_897, u32::MAX - 1, u32::MAX] {
            let d = Date(days);
            assert_eq!(d.to_string().parse::<Date>().unwrap(), d, "{d}");
        }
        for bad in [
            "2026-1-01",
            "2026-01-1",
            "+2026-01-01",
            "2026-01-01-",
            "26-01-01",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn periods() {
        let d: Date = "2026-05-17".parse().unwrap();
        assert_eq!(Period::quarter_of(d), Period::Quarter(2026, 2));
        assert_eq!(Period::half_of(d), Period::Half(2026, 1));
        assert!(Period::Year(2026).covers(Period::Quarter(2026, 4)));
        assert!(!Period::Half(2026, 1).covers(Period::Quarter(2026, 3)));
        assert_eq!(
            Period::Quarter(2026, 1).previous(),
            Period::Quarter(2025, 4)
        );
        assert_eq!(
            "2026q1".parse::<Period>().unwrap(),
            Period::Quarter(2026, 1)
        );
        assert!("2026Q5".parse::<Period>().is_err());
    }
}
