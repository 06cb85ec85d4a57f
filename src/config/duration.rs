//! Durations as people write them in `longrun.yaml`: `90s`, `15m`, `2h`, `1h30m`, `2d`.
//!
//! Pure text to [`Duration`] and back. Units go from largest to smallest, each at most once,
//! every number has a unit; anything else is an error that says what is wrong, so a typo
//! in a timeout is caught by `longrun check` rather than at 3 a.m.

use std::time::Duration;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{text}`: {reason} (write it like `90s`, `15m`, `1h30m` or `2d`)")]
pub struct DurationError {
    pub text: String,
    pub reason: String,
}

/// The units, largest first, with their length in seconds.
const UNITS: &[(&str, u64)] = &[("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

/// Parses `1h30m`-style text. Surrounding whitespace is ignored; whitespace inside is not
/// allowed, so `1 h` is reported rather than guessed.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |reason: String| DurationError {
        text: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(error("it is empty".to_string()));
    }
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen: the next one must be smaller.
    let mut last_unit: Option<usize> = None;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            let found = rest.chars().next().unwrap_or(' ');
            if found.is_whitespace() {
                return Err(error(
                    "it contains a space; write the parts together".to_string(),
                ));
            }
            return Err(error(format!("expected a number, found `{found}`")));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after
            .bytes()
            .take_while(|byte| byte.is_ascii_alphabetic())
            .count();
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return match after.chars().next() {
                None => Err(error(format!("`{number}` has no unit (d, h, m or s)"))),
                Some(found) => Err(error(format!("unexpected `{found}` after `{number}`"))),
            };
        }
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(error(format!("unknown unit `{unit}` (use d, h, m or s)")));
        };
        if let Some(last) = last_unit {
            if index == last {
                return Err(error(format!("the unit `{unit}` appears twice")));
            }
            if index < last {
                return Err(error(
                    "units must go from largest to smallest, like `1h30m`".to_string(),
                ));
            }
        }
        last_unit = Some(index);
        let value: u64 = number
            .parse()
            .map_err(|_| error(format!("`{number}` is too large")))?;
        total = value
            .checked_mul(UNITS[index].1)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(|| error("it is too long".to_string()))?;
        rest = after;
    }
    Ok(Duration::from_secs(total))
}

/// Writes a duration the way [`parse_duration`] reads it: `1h30m`, `90s` stays `1m30s`,
/// zero is `0s`. Fractions of a second are dropped (longrun never writes them).
pub fn format_duration(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut text = String::new();
    for (name, length) in UNITS {
        let count = seconds / length;
        if count > 0 {
            text.push_str(&count.to_string());
            text.push_str(name);
            seconds %= length;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        match parse_duration(text) {
            Ok(duration) => duration.as_secs(),
            Err(error) => panic!("{text:?}: {error}"),
        }
    }

    fn reason(text: &str) -> String {
        match parse_duration(text) {
            Ok(duration) => panic!("{text:?} parsed as {duration:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_written_forms() {
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("15m"), 900);
        assert_eq!(secs("20m"), 1_200);
        assert_eq!(secs("2h"), 7_200);
        assert_eq!(secs("1h30m"), 5_400);
        assert_eq!(secs("2d"), 172_800);
        assert_eq!(secs("1d2h3m4s"), 93_784);
        assert_eq!(secs("0s"), 0);
        assert_eq!(secs(" 5m "), 300);
        assert_eq!(secs("120m"), 7_200);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(reason("").contains("empty"));
        assert!(reason("90").contains("`90` has no unit"));
        assert!(reason("5x").contains("unknown unit `x`"));
        assert!(reason("5min").contains("unknown unit `min`"));
        assert!(reason("30m1h").contains("largest to smallest"));
        assert!(reason("1m1m").contains("appears twice"));
        assert!(reason("h").contains("expected a number, found `h`"));
        assert!(reason("1h 30m").contains("contains a space"));
        assert!(reason("1 h").contains("unexpected ` ` after `1`"));
        assert!(reason("-5m").contains("expected a number, found `-`"));
        assert!(reason("1.5h").contains("unexpected `.`"));
        assert!(reason("99999999999999999999s").contains("too large"));
        assert!(reason("999999999999999999d").contains("too long"));
        // The message names the text and shows the accepted form.
        assert!(reason("5x").starts_with("invalid duration `5x`"));
        assert!(reason("5x").contains("`1h30m`"));
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["0s", "90s", "15m", "1h30m", "2d", "1d2h3m4s"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(
                parse_duration(&format_duration(duration)).unwrap(),
                duration
            );
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
