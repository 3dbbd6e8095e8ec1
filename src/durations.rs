//! Durations as config files and flags write them (`500ms`, `2m 30s`, `"never"`), and
//! the serde adapters that read them.
//!
//! Invariant: one spelling everywhere: a field, a flag and an error message all take
//! and show the same forms.

use std::time::Duration;

/// Parses a human duration such as `500ms`, `1s`, `2m 30s` or `0s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration {text:?} ({e}); write e.g. \"500ms\", \"1s\", \"2m\"")
    })
}

/// Serde adapter for `"never"` or a human duration.
pub(crate) mod never_or_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim() == "never" {
            return Ok(None);
        }
        super::parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for durations written as human strings.
pub(crate) mod human_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = String::deserialize(d)?;
            super::super::parse_duration(&text)
                .map(Some)
                .map_err(serde::de::Error::custom)
        }
    }
}
