//! Date parsing for article metadata: machine dates (ISO 8601 / RFC 3339, with or
//! without a zone) and the labelled date lines news pages print ("Posted : 2023-03-28
//! 15:55"), read in the site's time zone.
//!
//! Invariant: the output is RFC 3339 with the zone offset in force at that local time
//! in the site's zone; text that is not clearly a date yields `None`, never a guess.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Parses a machine-readable date; dates without a zone are local to `zone`.
pub fn parse_date(text: &str, zone: Tz) -> Option<String> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&zone).to_rfc3339());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(text, format) {
            return Some(dt.with_timezone(&zone).to_rfc3339());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y.%m.%d %H:%M",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return local(naive, zone);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return local(date.and_time(NaiveTime::MIN), zone);
    }
    None
}

fn local(naive: NaiveDateTime, zone: Tz) -> Option<String> {
    // An ambiguous local time (DST fold) takes the earlier instant; a skipped one is no date.
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|dt| dt.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dates_take_the_site_zone() {
        let seoul: Tz = "Asia/Seoul".parse().unwrap();
        assert_eq!(
            parse_date("2023-03-28 15:55", seoul).unwrap(),
            "2023-03-28T15:55:00+09:00"
        );
        assert_eq!(
            parse_date("2023-03-28T15:55:10", seoul).unwrap(),
            "2023-03-28T15:55:10+09:00"
        );
        assert_eq!(
            parse_date("2023-03-28", seoul).unwrap(),
            "2023-03-28T00:00:00+09:00"
        );
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            parse_date("2023-07-01 09:00", ny).unwrap(),
            "2023-07-01T09:00:00-04:00"
        );
        assert_eq!(
            parse_date("2023-01-01 09:00", ny).unwrap(),
            "2023-01-01T09:00:00-05:00"
        );
    }

    #[test]
    fn zoned_dates_are_converted_to_the_site_zone() {
        let seoul: Tz = "Asia/Seoul".parse().unwrap();
        assert_eq!(
            parse_date("2023-03-28T06:55:00Z", seoul).unwrap(),
            "2023-03-28T15:55:00+09:00"
        );
        assert_eq!(
            parse_date("2023-03-28T15:55:00+0900", seoul).unwrap(),
            "2023-03-28T15:55:00+09:00"
        );
    }

    #[test]
    fn non_dates_are_none() {
        let utc: Tz = "UTC".parse().unwrap();
        assert_eq!(parse_date("Sun, December 3", utc), None);
        assert_eq!(parse_date("2023-13-45 99:99", utc), None);
        assert_eq!(parse_date("", utc), None);
    }
}
