//! `--lease 15m`: a duration as people type it, parsed by clap through `FromStr`.
//!
//! Accepts what longrun.yaml accepts (`90s`, `15m`, `2h`, `1h30m`, `2d`), except zero: a lease
//! of nothing is a claim that is stale at once.

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

    /// The grammar of longrun.yaml's durations ([`crate::config::parse_duration`]), so a
    /// lease reads the same on the command line and in the file.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let duration = crate::config::parse_duration(text).map_err(|error| DurationError {
            text: text.to_string(),
            reason: error.reason,
        })?;
        if duration.is_zero() {
            return Err(DurationError {
                text: text.to_string(),
                reason: "it must be longer than zero".to_string(),
            });
        }
        Ok(Duration(duration))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::config::format_duration(self.0))
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
    fn bad_forms_are_refused_with_the_text() {
        for bad in [
            "",
            "15",
            "m",
            "15x",
            "30m1h",
            "1m1m",
            "1 h",
            "-5m",
            "99999999999999999999s",
        ] {
            let error = bad.parse::<Duration>().unwrap_err();
            assert!(
                error.to_string().contains(&format!("`{bad}`")),
                "{bad:?}: {error}"
            );
        }
        let zero = "0s".parse::<Duration>().unwrap_err();
        assert!(zero.to_string().contains("longer than zero"), "{zero}");
    }
}
