//! Time comes from here only, so tests can pin it: `LONGRUN_NOW` (read once at the top, in
//! `commands`) fixes the clock; otherwise it is the system clock.

use jiff::Timestamp;

/// The source of "now" for a command.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(Timestamp),
}

impl Clock {
    /// A fixed clock when `fixed` holds an RFC 3339 timestamp, else the system clock.
    pub fn from_setting(fixed: Option<&str>) -> Result<Clock, jiff::Error> {
        match fixed {
            Some(text) if !text.is_empty() => Ok(Clock::Fixed(text.parse()?)),
            _ => Ok(Clock::System),
        }
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(timestamp) => *timestamp,
        }
    }
}

/// `2026-11-21T09:14:03Z`: the timestamp form of every state file.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_is_fixed() {
        let clock = Clock::from_setting(Some("2026-11-21T09:14:03Z")).unwrap();
        assert_eq!(format_timestamp(clock.now()), "2026-11-21T09:14:03Z");
        assert!(matches!(Clock::from_setting(None).unwrap(), Clock::System));
        assert!(Clock::from_setting(Some("yesterday")).is_err());
    }
}
