//! Date parsing for article metadata: machine dates (ISO 8601 / RFC 3339 / RFC 2822,
//! with or without a zone), dates printed in text ("6. Mai 2014", "May 19, 2020",
//! "19.10.2019 15:49", "2020年5月19日"), and relative dates ("2 hours ago") read
//! against the time the page was fetched.
//!
//! Invariant: the output is RFC 3339. A date that names a zone other than UTC keeps
//! its offset (the publisher's local day); a UTC date or a date without a zone is
//! given in the site's zone. Text that is not clearly a date yields `None`, never a
//! guess, and nothing is read from the clock.

use std::sync::LazyLock;

use crate::parse::rx::rx;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::{Captures, Regex};

/// Parses a machine-readable date; dates without a zone are local to `zone`.
pub fn parse_date(text: &str, zone: Tz) -> Option<String> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(in_zone(dt, zone));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(text, format) {
            return Some(in_zone(dt, zone));
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(text) {
        return Some(in_zone(dt, zone));
    }
    let naive_text = text.trim_end_matches('Z');
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y.%m.%d %H:%M",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(naive_text, format) {
            return if naive_text.len() < text.len() {
                Some(in_zone(Utc.from_utc_datetime(&naive).fixed_offset(), zone))
            } else {
                local(naive, zone)
            };
        }
    }
    for format in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return local(date.and_time(NaiveTime::MIN), zone);
        }
    }
    find_printed_date(text, zone, true).map(|(date, _)| date)
}

/// A zoned instant as the record gives it: UTC moves to the site's zone, any other
/// offset is the publisher's and stays.
fn in_zone(dt: DateTime<FixedOffset>, zone: Tz) -> String {
    if dt.offset().local_minus_utc() == 0 {
        dt.with_timezone(&zone).to_rfc3339()
    } else {
        dt.to_rfc3339()
    }
}

fn local(naive: NaiveDateTime, zone: Tz) -> Option<String> {
    // An ambiguous local time (DST fold) takes the earlier instant; a skipped one is no date.
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|dt| dt.to_rfc3339())
}

/// Month names (and their genitive forms and abbreviations) of the languages news is
/// published in most: English, German, French, Spanish, Italian, Portuguese, Dutch,
/// Polish, Turkish; Russian, Ukrainian and Czech in the genitive a date prints
/// ("15 августа 2016", "3. května 2021").
const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("jänner", 1),
    ("jän", 1),
    ("janvier", 1),
    ("janv", 1),
    ("enero", 1),
    ("ene", 1),
    ("gennaio", 1),
    ("gen", 1),
    ("janeiro", 1),
    ("januari", 1),
    ("stycznia", 1),
    ("styczeń", 1),
    ("sty", 1),
    ("ocak", 1),
    ("february", 2),
    ("feb", 2),
    ("februar", 2),
    ("février", 2),
    ("fevrier", 2),
    ("févr", 2),
    ("fév", 2),
    ("febrero", 2),
    ("febbraio", 2),
    ("fevereiro", 2),
    ("fev", 2),
    ("februari", 2),
    ("lutego", 2),
    ("luty", 2),
    ("lut", 2),
    ("şubat", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("mrz", 3),
    ("mär", 3),
    ("mars", 3),
    ("marzo", 3),
    ("março", 3),
    ("marco", 3),
    ("maart", 3),
    ("marca", 3),
    ("marzec", 3),
    ("mart", 3),
    ("april", 4),
    ("apr", 4),
    ("avril", 4),
    ("avr", 4),
    ("abril", 4),
    ("abr", 4),
    ("aprile", 4),
    ("kwietnia", 4),
    ("kwiecień", 4),
    ("kwi", 4),
    ("nisan", 4),
    ("may", 5),
    ("mai", 5),
    ("mayo", 5),
    ("maggio", 5),
    ("mag", 5),
    ("maio", 5),
    ("mei", 5),
    ("maja", 5),
    ("maj", 5),
    ("mayıs", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("junio", 6),
    ("giugno", 6),
    ("giu", 6),
    ("junho", 6),
    ("czerwca", 6),
    ("czerwiec", 6),
    ("cze", 6),
    ("haziran", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("juillet", 7),
    ("juil", 7),
    ("julio", 7),
    ("luglio", 7),
    ("lug", 7),
    ("julho", 7),
    ("lipca", 7),
    ("lipiec", 7),
    ("lip", 7),
    ("temmuz", 7),
    ("august", 8),
    ("aug", 8),
    ("août", 8),
    ("aout", 8),
    ("agosto", 8),
    ("ago", 8),
    ("augustus", 8),
    ("sierpnia", 8),
    ("sierpień", 8),
    ("sie", 8),
    ("ağustos", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("septembre", 9),
    ("septiembre", 9),
    ("setiembre", 9),
    ("settembre", 9),
    ("set", 9),
    ("setembro", 9),
    ("września", 9),
    ("wrzesień", 9),
    ("wrz", 9),
    ("eylül", 9),
    ("october", 10),
    ("oct", 10),
    ("oktober", 10),
    ("okt", 10),
    ("octobre", 10),
    ("octubre", 10),
    ("ottobre", 10),
    ("ott", 10),
    ("outubro", 10),
    ("out", 10),
    ("października", 10),
    ("październik", 10),
    ("paź", 10),
    ("ekim", 10),
    ("november", 11),
    ("nov", 11),
    ("novembre", 11),
    ("noviembre", 11),
    ("novembro", 11),
    ("listopada", 11),
    ("listopad", 11),
    ("lis", 11),
    ("kasım", 11),
    ("december", 12),
    ("dec", 12),
    ("dezember", 12),
    ("dez", 12),
    ("décembre", 12),
    ("decembre", 12),
    ("déc", 12),
    ("diciembre", 12),
    ("dic", 12),
    ("dicembre", 12),
    ("dezembro", 12),
    ("grudnia", 12),
    ("grudzień", 12),
    ("gru", 12),
    ("aralık", 12),
    ("января", 1),
    ("февраля", 2),
    ("марта", 3),
    ("апреля", 4),
    ("мая", 5),
    ("июня", 6),
    ("июля", 7),
    ("августа", 8),
    ("сентября", 9),
    ("октября", 10),
    ("ноября", 11),
    ("декабря", 12),
    ("січня", 1),
    ("лютого", 2),
    ("березня", 3),
    ("квітня", 4),
    ("травня", 5),
    ("червня", 6),
    ("липня", 7),
    ("серпня", 8),
    ("вересня", 9),
    ("жовтня", 10),
    ("листопада", 11),
    ("грудня", 12),
    ("ledna", 1),
    ("února", 2),
    ("března", 3),
    ("dubna", 4),
    ("května", 5),
    ("června", 6),
    ("července", 7),
    ("srpna", 8),
    ("září", 9),
    ("října", 10),
    ("listopadu", 11),
    ("prosince", 12),
];

/// Weekday names (and abbreviations) in the same languages.
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "poniedziałek",
    "wtorek",
    "środa",
    "czwartek",
    "piątek",
    "sobota",
    "niedziela",
];

/// Whether a word names a month or a day of the week (or says "today", "ago"): where a
/// byline's date begins.
pub fn is_date_word(word: &str) -> bool {
    let w = word
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    w.len() >= 3
        && (MONTHS.iter().any(|(m, _)| *m == w && m.len() >= 4)
            || WEEKDAYS.contains(&w.as_str())
            || matches!(
                w.as_str(),
                "today"
                    | "yesterday"
                    | "heute"
                    | "gestern"
                    | "hace"
                    | "vor"
                    | "ago"
                    | "il"
                    | "hier"
            ))
}

/// Whether a text names a day of the week.
pub fn names_weekday(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.len() >= 3 && WEEKDAYS.contains(&w.to_lowercase().as_str()))
}

fn month_number(name: &str) -> Option<u32> {
    let name = name.trim_end_matches('.').to_lowercase();
    MONTHS.iter().find(|(n, _)| *n == name).map(|&(_, m)| m)
}

static MONTH_ALTERNATION: LazyLock<String> = LazyLock::new(|| {
    let mut names: Vec<&str> = MONTHS.iter().map(|(n, _)| *n).collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    names.dedup();
    names.join("|")
});

/// Year, month, day with dashes, slashes or dots: `2019-10-16`, `2019/10/16`.
static YMD: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?-u:\b)(?P<y>(?:19|20)[0-9]{2})[-/.](?P<m>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})(?:T|(?-u:\b))",
    )
});
/// Day and month (or month and day), then year: `16.10.2019`, `10/16/2019`, `16.10.19`.
static DMY: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?-u:\b)(?P<a>[0-9]{1,2})(?P<sep>[./-])\s?(?P<b>[0-9]{1,2})[./-]\s?(?P<y>(?:19|20)[0-9]{2}|[0-9]{2})(?-u:\b)",
    )
});
/// Day, month name, year: `6. Mai 2014`, `19 May 2020`, `14 de enero de 2020`.
static D_MONTH_Y: LazyLock<Regex> = LazyLock::new(|| {
    rx(&format!(
        r"(?i)(?-u:\b)(?P<d>[0-9]{{1,2}})(?:st|nd|rd|th|er|e|º|°)?\.?\s*(?:de\s+|of\s+)?(?P<mon>{})\.?,?\s*(?:de\s+|del\s+)?(?P<y>(?:19|20)[0-9]{{2}})(?-u:\b)",
        *MONTH_ALTERNATION
    ))
});
/// Month name, day, year: `May 19, 2020`, `Jan. 3rd 2021`; or with the time of day
/// before the year, as C's `asctime` prints it: `Jan 04 09:34:00 2021`.
static MONTH_D_Y: LazyLock<Regex> = LazyLock::new(|| {
    rx(&format!(
        r"(?i)(?-u:\b)(?P<mon>{})\.?\s+(?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)?,?\s+(?:(?P<h>[0-9]{{1,2}}):(?P<min>[0-9]{{2}})(?::(?P<s>[0-9]{{2}}))?\s+)?(?P<y>(?:19|20)[0-9]{{2}})(?-u:\b)",
        *MONTH_ALTERNATION
    ))
});
/// Chinese, Japanese and Korean: `2020年5月19日`, `2020년 5월 19일`.
static CJK: LazyLock<Regex> = LazyLock::new(|| {
    rx(r"(?P<y>(?:19|20)[0-9]{2})\s*[年년]\s*(?P<m>[0-9]{1,2})\s*[月월]\s*(?P<d>[0-9]{1,2})")
});
/// A time of day right after a date: `, 15:49`, ` um 15.49 Uhr`, ` at 3:59 PM`.
static TIME_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?i)^[\s,|/–—-]*(?:(?:um|at|à|a las|alle|às|o|godz\.?|[日일]|-)\s*)?(?P<h>[0-9]{1,2})[:.h시](?P<min>[0-9]{2})(?::(?P<s>[0-9]{2}))?\s*(?P<ap>[ap]\.?\s?m\.?)?",
    )
});

/// The first date printed in `text`, as RFC 3339 in `zone`, and the byte offset where
/// it starts. `day_first`: whether `01/02/2020` is the 1st of February (most of the
/// world) or January 2nd (the United States).
pub fn find_printed_date(text: &str, zone: Tz, day_first: bool) -> Option<(String, usize)> {
    printed_date_span(text, zone, day_first).map(|(d, span)| (d, span.start))
}

/// As [`find_printed_date`], with where the date ends (before any time of day).
pub fn printed_date_span(
    text: &str,
    zone: Tz,
    day_first: bool,
) -> Option<(String, std::ops::Range<usize>)> {
    let mut best: Option<(usize, NaiveDate, usize)> = None;
    // The time of day printed inside the best date (`Jan 04 09:34 2021`).
    let mut inner_time: Option<NaiveTime> = None;
    let mut consider =
        |start: usize, end: usize, date: Option<NaiveDate>, time: Option<NaiveTime>| {
            if let Some(date) = date {
                if best.is_none_or(|(s, _, _)| start < s) {
                    best = Some((start, date, end));
                    inner_time = time;
                }
            }
        };
    for c in YMD.captures_iter(text) {
        let m = c.get(0).expect("whole match");
        consider(
            m.start(),
            m.end(),
            ymd(num(&c, "y"), num(&c, "m"), num(&c, "d")),
            None,
        );
    }
    for c in DMY.captures_iter(text) {
        let m = c.get(0).expect("whole match");
        let (a, b) = (num(&c, "a"), num(&c, "b"));
        let year = match num(&c, "y") {
            y if y < 100 && &c["sep"] == "." => 2000 + y,
            y if y < 100 => continue,
            y => y,
        };
        let (day, month) = if a > 12 || (day_first && b <= 12) {
            (a, b)
        } else {
            (b, a)
        };
        consider(m.start(), m.end(), ymd(year, month, day), None);
    }
    for c in D_MONTH_Y
        .captures_iter(text)
        .chain(MONTH_D_Y.captures_iter(text))
    {
        let m = c.get(0).expect("whole match");
        let month = month_number(&c["mon"]).unwrap_or(0);
        let time = c.name("h").and_then(|_| {
            let [h, min, s] = ["h", "min", "s"].map(|n| num(&c, n) as u32);
            NaiveTime::from_hms_opt(h, min, s)
        });
        consider(
            m.start(),
            m.end(),
            ymd(num(&c, "y"), month, num(&c, "d")),
            time,
        );
    }
    for c in CJK.captures_iter(text) {
        let m = c.get(0).expect("whole match");
        consider(
            m.start(),
            m.end(),
            ymd(num(&c, "y"), num(&c, "m"), num(&c, "d")),
            None,
        );
    }
    let (start, date, end) = best?;
    let time = inner_time
        .or_else(|| {
            TIME_AFTER.captures(&text[end..]).and_then(|c| {
                let mut hour = num(&c, "h");
                let minute = num(&c, "min");
                let second = c.name("s").map(|_| num(&c, "s")).unwrap_or(0);
                if let Some(ap) = c.name("ap") {
                    let pm = ap.as_str().to_ascii_lowercase().starts_with('p');
                    hour = match (hour, pm) {
                        (12, false) => 0,
                        (h, true) if h < 12 => h + 12,
                        (h, _) => h,
                    };
                }
                NaiveTime::from_hms_opt(hour as u32, minute as u32, second as u32)
            })
        })
        .unwrap_or(NaiveTime::MIN);
    local(date.and_time(time), zone).map(|d| (d, start..end))
}

fn num(c: &Captures<'_>, name: &str) -> i32 {
    c.name(name)
        .and_then(|m| m.as_str().parse().ok())
        .unwrap_or(0)
}

/// A calendar date from plausible parts: a year from 1990 to 2099.
fn ymd(year: i32, month: impl TryInto<u32>, day: impl TryInto<u32>) -> Option<NaiveDate> {
    let (month, day) = (month.try_into().ok()?, day.try_into().ok()?);
    if !(1990..=2099).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// "2 hours ago", "vor 3 Tagen", "il y a 5 minutes", "hace 2 días", "yesterday",
/// "heute, 14:05".
static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)(?:^|(?-u:\b))(?:",
        r"(?P<n1>[0-9]+|an?|one)\s+(?P<u1>minutes?|mins?|hours?|hrs?|days?|weeks?)\s+ago",
        r"|vor\s+(?P<n2>[0-9]+|einer?|einem)\s+(?P<u2>minuten?|stunden?|tag(?:en)?|wochen?)",
        r"|il y a\s+(?P<n3>[0-9]+|une?)\s+(?P<u3>minutes?|heures?|jours?|semaines?)",
        r"|hace\s+(?P<n4>[0-9]+|una?)\s+(?P<u4>minutos?|horas?|d[ií]as?|semanas?)",
        r"|h[áa]\s+(?P<n5>[0-9]+|uma?)\s+(?P<u5>minutos?|horas?|dias?|semanas?)",
        r"|(?P<n6>[0-9]+|un|una)\s+(?P<u6>minut[oi]|or[ae]|giorn[oi]|settiman[ae])\s+fa",
        r"|(?P<day>yesterday|gestern|hier|ayer|ontem|ieri|wczoraj|today|heute|aujourd'hui|hoy|hoje|oggi|dzisiaj)",
        r")(?-u:\b)",
    ))
});

/// A relative date in `text`, read against the time the page was fetched: its day in
/// the site's zone (and its minute, when the text gives hours or minutes).
pub fn relative_date(text: &str, fetched: DateTime<Utc>, zone: Tz) -> Option<String> {
    let c = RELATIVE.captures(text)?;
    let now = fetched.with_timezone(&zone);
    if let Some(day) = c.name("day") {
        let back = match day.as_str().to_lowercase().as_str() {
            "yesterday" | "gestern" | "hier" | "ayer" | "ontem" | "ieri" | "wczoraj" => 1,
            _ => 0,
        };
        let date = now.date_naive() - Duration::days(back);
        let end = day.end();
        let time = TIME_AFTER
            .captures(&text[end..])
            .and_then(|t| NaiveTime::from_hms_opt(num(&t, "h") as u32, num(&t, "min") as u32, 0))
            .unwrap_or(NaiveTime::MIN);
        return local(date.and_time(time), zone);
    }
    let (n, unit) = (1..=6).find_map(|i| {
        Some((
            c.name(&format!("n{i}"))?.as_str().to_lowercase(),
            c.name(&format!("u{i}"))?.as_str().to_lowercase(),
        ))
    })?;
    let n: i64 = n.parse().unwrap_or(1);
    let minutes = n * unit_minutes(&unit)?;
    let then = now - Duration::minutes(minutes);
    if minutes >= 24 * 60 {
        // Days and weeks say which day, not which minute.
        return local(then.date_naive().and_time(NaiveTime::MIN), zone);
    }
    Some(then.to_rfc3339())
}

/// Minutes in a unit of a relative date, in any of the languages above.
fn unit_minutes(unit: &str) -> Option<i64> {
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| unit.starts_with(p));
    if starts(&["min"]) {
        Some(1)
    } else if starts(&["h", "stund", "or"]) {
        Some(60)
    } else if starts(&["d", "tag", "jour", "giorn"]) {
        Some(24 * 60)
    } else if starts(&["w", "sem", "sett"]) {
        Some(7 * 24 * 60)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    #[test]
    fn local_dates_take_the_site_zone() {
        let seoul = tz("Asia/Seoul");
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
        let ny = tz("America/New_York");
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
    fn utc_moves_to_the_site_zone_and_other_offsets_stay() {
        let seoul = tz("Asia/Seoul");
        assert_eq!(
            parse_date("2023-03-28T06:55:00Z", seoul).unwrap(),
            "2023-03-28T15:55:00+09:00"
        );
        assert_eq!(
            parse_date("2023-03-28T15:55:00+0900", seoul).unwrap(),
            "2023-03-28T15:55:00+09:00"
        );
        // Just after midnight in Berlin is the 7th there, whatever the site's zone.
        assert_eq!(
            parse_date("2022-11-07T00:30:00+01:00", tz("UTC")).unwrap(),
            "2022-11-07T00:30:00+01:00"
        );
        assert_eq!(
            parse_date("Tue, 19 May 2020 10:00:00 +0200", tz("UTC")).unwrap(),
            "2020-05-19T10:00:00+02:00"
        );
    }

    #[test]
    fn non_dates_are_none() {
        let utc = tz("UTC");
        assert_eq!(parse_date("Sun, December 3", utc), None);
        assert_eq!(parse_date("2023-13-45 99:99", utc), None);
        assert_eq!(parse_date("", utc), None);
        assert_eq!(find_printed_date("version 1.2.3 of 4.5.6", utc, true), None);
        assert_eq!(find_printed_date("call 12/34/5678", utc, true), None);
    }

    #[test]
    fn printed_dates_in_several_languages_and_orders() {
        let utc = tz("UTC");
        let day = |text: &str, day_first: bool| {
            find_printed_date(text, utc, day_first).map(|(d, _)| d[..16].to_string())
        };
        for (text, want) in [
            ("Erstellt am Dienstag 6. Mai 2014", "2014-05-06T00:00"),
            ("May 19, 2020", "2020-05-19T00:00"),
            ("Posted on 19th May 2020 at 3:59 PM", "2020-05-19T15:59"),
            ("28.01.2020 15:49", "2020-01-28T15:49"),
            ("publié le 1er mars 2021", "2021-03-01T00:00"),
            ("14 de enero de 2020", "2020-01-14T00:00"),
            ("opublikowano 19 maja 2020", "2020-05-19T00:00"),
            ("2012年06月04日 10:21", "2012-06-04T10:21"),
            ("2023년 3월 28일", "2023-03-28T00:00"),
            ("/2019/10/16/", "2019-10-16T00:00"),
            ("2022-01-10T22:06:08:684Z", "2022-01-10T22:06"),
            ("03.04.20", "2020-04-03T00:00"),
            ("24. März 2004, 19:49 | Genesis", "2004-03-24T19:49"),
            ("15 августа 2016, 13:43", "2016-08-15T13:43"),
            ("3 травня 2021 р.", "2021-05-03T00:00"),
            ("3. května 2021", "2021-05-03T00:00"),
            ("Jan 04 09:34 2021", "2021-01-04T09:34"),
            ("Wed Jun 30 21:49:08 1993", "1993-06-30T21:49"),
        ] {
            assert_eq!(day(text, true).as_deref(), Some(want), "{text}");
        }
        assert_eq!(day("01/02/2020", true).as_deref(), Some("2020-02-01T00:00"));
        assert_eq!(
            day("01/02/2020", false).as_deref(),
            Some("2020-01-02T00:00")
        );
        assert_eq!(
            day("13/02/2020", false).as_deref(),
            Some("2020-02-13T00:00")
        );
        // The earliest date in the text wins.
        assert_eq!(
            day("Updated 2021-01-03, first published 2 January 2021", true).as_deref(),
            Some("2021-01-03T00:00")
        );
    }

    #[test]
    fn relative_dates_read_against_the_fetch_time() {
        let fetched = Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap();
        let berlin = tz("Europe/Berlin");
        let rel = |t: &str| relative_date(t, fetched, berlin);
        assert_eq!(rel("2 hours ago").unwrap(), "2024-03-10T11:00:00+01:00");
        assert_eq!(rel("vor 3 Tagen").unwrap(), "2024-03-07T00:00:00+01:00");
        assert_eq!(rel("gestern, 14:05").unwrap(), "2024-03-09T14:05:00+01:00");
        assert_eq!(
            rel("il y a 5 minutes").unwrap(),
            "2024-03-10T12:55:00+01:00"
        );
        assert_eq!(rel("hace 2 días").unwrap(), "2024-03-08T00:00:00+01:00");
        assert_eq!(rel("The ago of reason"), None);
    }
}
