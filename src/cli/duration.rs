//! `--lease 15m`: a duration as people type it, parsed by clap through `FromStr`.
//!
//! Accepts `90s`, `15m`, `2h`, `1h30m`, `2d`: numbers with units, largest unit first, each
//! unit at most once. Zero is refused: a lease of nothing is a claim that is stale at once.

use std::fmt;
use std::str::FromStr;

/// A positive duration given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(std::time::Duration);

/// Text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{text}`: {reason} (write it like `90s`, `15m`, `1h30m` or `2d`)")]
pub struct DurationError {
    pub text: String,
    pub reason: String,
}

/// The units, largest first, with their length in seconds.
const UNITS: &[(&str, u64)] = &[("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

impl Duration {
    pub fn as_std(self) -> std::time::Duration {
        self.0
    }
}

impl From<Duration> for std::time::Duration {
    fn from(value: Duration) -> Self {
        value.0
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| DurationError {
            text: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(error("it is empty".to_string()));
        }
        let mut total: u64 = 0;
        // Index into UNITS of the last unit seen: the next one must be smaller.
        let mut last_unit: Option<usize> = None;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                let found = rest.chars().next().unwrap_or(' ');
                return Err(error(format!("expected a number, found `{found}`")));
            }
            let (number, after) = rest.split_at(digits);
            let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
            let (unit, after) = after.split_at(unit_len);
            if unit.is_empty() {
                return Err(error(format!("`{number}` has no unit (d, h, m or s)")));
            }
            let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
                return Err(error(format!("unknown unit `{unit}` (use d, h, m or s)")));
            };
            if last_unit.is_some_and(|last| index <= last) {
                return Err(error(format!(
                    "`{unit}` comes after a unit that is not larger"
                )));
            }
            last_unit = Some(index);
            let value = number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(UNITS[index].1))
                .and_then(|seconds| total.checked_add(seconds))
                .ok_or_else(|| error("it is too long".to_string()))?;
            total = value;
            rest = after;
        }
        if total == 0 {
            return Err(error("it must be longer than zero".to_string()));
        }
        Ok(Duration(std::time::Duration::from_secs(total)))
    }
}

impl fmt::Display for Duration {
    /// The shortest text that parses back: `1h30m`, `90s` stays `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seconds = self.0.as_secs();
        for (name, length) in UNITS {
            if seconds >= *length {
                write!(f, "{}{name}", seconds / length)?;
                seconds %= length;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(text: &str) -> u64 {
        text.parse::<Duration>().unwrap().as_std().as_secs()
    }

    #[test]
    fn people_forms_parse() {
        assert_eq!(seconds("90s"), 90);
        assert_eq!(seconds("15m"), 900);
        assert_eq!(seconds("2h"), 7200);
        assert_eq!(seconds("1h30m"), 5400);
        assert_eq!(seconds("1d2h3m4s"), 93_784);
        assert_eq!("1h30m".parse::<Duration>().unwrap().to_string(), "1h30m");
        assert_eq!("90s".parse::<Duration>().unwrap().to_string(), "1m30s");
    }

    #[test]
    fn bad_forms_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("15", "no unit"),
            ("m", "expected a number"),
            ("15x", "unknown unit"),
            ("30m1h", "not larger"),
            ("1m1m", "not larger"),
            ("0s", "longer than zero"),
            ("1 h", "unknown unit"),
            ("-5m", "expected a number"),
            ("99999999999999999999s", "too long"),
        ] {
            let error = bad.parse::<Duration>().unwrap_err();
            assert!(error.to_string().contains(why), "{bad:?}: {error}");
        }
    }
}
