//! Times as web pages print them, for sources that scrape pages (`html`): machine formats
//! (RFC 3339, RFC 2822, ISO dates) and the French ones of review and complaint sites ("12 mars
//! 2026", "1er déc. 2026 à 14h30", "12/03/2026", "il y a 3 heures", "hier à 09:15").
//!
//! Wall-clock times without a zone are read in Europe/Paris (the sites this kind is for print
//! French local time), and a date without a time is that day's midnight there. Relative times
//! count back from `now`, an argument (months are 30 days, years 365). Anything else is `None`:
//! the caller leaves the time out and the store uses the fetch time. Finding the text on the
//! page is the caller's job.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use regex::Regex;

/// "il y a 3 heures", "il y a une minute", "il y a 2 j".
static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bil y a\s+(\d+|une?|quelques)\s*(secondes?|sec|s|minutes?|mins?|mn|heures?|h|jours?|j|semaines?|sem|mois|ans?|annees?)\b")
        .expect("valid regex")
});

/// "aujourd'hui", "hier", "avant-hier", with an optional "à 14h30".
static DAY_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(aujourd'hui|avant-hier|hier)\b(?:\s*(?:a|,)?\s*(\d{1,2})\s*[h:]\s*(\d{2})?)?")
        .expect("valid regex")
});

/// "12 mars 2026", "1er dec. 2026 a 14h30", "12 mars" (this year).
static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,2})(?:er)?\s+(janvier|janv|jan|fevrier|fevr|fev|mars|mar|avril|avr|mai|juin|juillet|juil|aout|septembre|sept|sep|octobre|oct|novembre|nov|decembre|dec)\b\.?(?:\s+(\d{4}))?(?:\s*(?:a|,|-)?\s*(\d{1,2})\s*[h:]\s*(\d{2})?)?")
        .expect("valid regex")
});

/// "12/03/2026", "12/03/2026 14:30", "12.03.2026".
static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b(?:\s*(?:a|,|-)?\s*(\d{1,2})\s*[h:]\s*(\d{2})?)?",
    )
    .expect("valid regex")
});

/// "2026-03-12", "2026-03-12 14:30:05" (a zone-less ISO time).
static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2})(?::(\d{2}))?)?")
        .expect("valid regex")
});

/// The time `text` gives, in UTC, or `None` when it gives none this module reads.
pub fn parse(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Some(t.to_utc());
    }
    let folded = fold(text);
    if folded.contains("a l'instant") || folded.contains("maintenant") {
        return Some(now);
    }
    relative(&folded, now)
        .or_else(|| day_word(&folded, now))
        .or_else(|| day_month(&folded, now))
        .or_else(|| numeric(&folded))
        .or_else(|| iso(&folded))
}

/// Lowercase, without the accents French dates use, with one kind of apostrophe and space.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'û' | 'ù' => 'u',
            'à' | 'â' => 'a',
            'î' | 'ï' => 'i',
            'ô' => 'o',
            '’' | 'ʼ' => '\'',
            '\u{a0}' | '\u{202f}' => ' ',
            c => c,
        })
        .collect()
}

fn relative(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let c = RELATIVE.captures(text)?;
    let n: i64 = match &c[1] {
        "un" | "une" => 1,
        "quelques" => 3,
        digits => digits.parse().ok()?,
    };
    let unit = &c[2];
    let seconds = match unit {
        u if u.starts_with('s') && !u.starts_with("sem") => 1,
        u if u.starts_with('m') && u != "mois" => 60,
        u if u.starts_with('h') => 3600,
        u if u.starts_with('j') => 86_400,
        u if u.starts_with("sem") => 7 * 86_400,
        "mois" => 30 * 86_400,
        _ => 365 * 86_400,
    };
    now.checked_sub_signed(Duration::try_seconds(n.checked_mul(seconds)?)?)
}

fn day_word(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let c = DAY_WORD.captures(text)?;
    let back = match &c[1] {
        "hier" => 1,
        "avant-hier" => 2,
        _ => 0,
    };
    match c.get(2) {
        Some(hour) => {
            let today = now.with_timezone(&Paris).date_naive();
            let day = today.checked_sub_days(chrono::Days::new(back))?;
            paris(day, hour.as_str(), c.get(3).map(|m| m.as_str()), None)
        }
        // No time given: the day's length ago, which keeps "aujourd'hui" at the fetch time.
        None => now.checked_sub_signed(Duration::days(back as i64)),
    }
}

fn day_month(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let c = DAY_MONTH.captures(text)?;
    let month = match &c[2][..3] {
        "jan" => 1,
        "fev" => 2,
        "mar" => 3,
        "avr" => 4,
        "mai" => 5,
        "jui" if c[2].starts_with("juin") => 6,
        "jui" => 7,
        "aou" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        _ => 12,
    };
    let day: u32 = c[1].parse().ok()?;
    let (hour, minute) = (c.get(4).map(|m| m.as_str()), c.get(5).map(|m| m.as_str()));
    if let Some(year) = c.get(3) {
        let date = NaiveDate::from_ymd_opt(year.as_str().parse().ok()?, month, day)?;
        return paris(date, hour.unwrap_or("0"), minute, None);
    }
    // No year: this year's, unless that is still to come (then last year's).
    let year = now.with_timezone(&Paris).year();
    let this = paris(
        NaiveDate::from_ymd_opt(year, month, day)?,
        hour.unwrap_or("0"),
        minute,
        None,
    )?;
    if this <= now + Duration::days(1) {
        return Some(this);
    }
    let date = NaiveDate::from_ymd_opt(year - 1, month, day)?;
    paris(date, hour.unwrap_or("0"), minute, None)
}

fn numeric(text: &str) -> Option<DateTime<Utc>> {
    let c = NUMERIC.captures(text)?;
    let date = NaiveDate::from_ymd_opt(c[3].parse().ok()?, c[2].parse().ok()?, c[1].parse().ok()?)?;
    paris(
        date,
        c.get(4).map_or("0", |m| m.as_str()),
        c.get(5).map(|m| m.as_str()),
        None,
    )
}

fn iso(text: &str) -> Option<DateTime<Utc>> {
    let c = ISO.captures(text)?;
    let date = NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)?;
    paris(
        date,
        c.get(4).map_or("0", |m| m.as_str()),
        c.get(5).map(|m| m.as_str()),
        c.get(6).map(|m| m.as_str()),
    )
}

/// `date` at `hour:minute:second` Paris time, in UTC (the earlier reading of an ambiguous
/// autumn hour; a time skipped in spring is read an hour later).
fn paris(
    date: NaiveDate,
    hour: &str,
    minute: Option<&str>,
    second: Option<&str>,
) -> Option<DateTime<Utc>> {
    let num = |s: Option<&str>| s.map_or(Some(0), |s| s.parse().ok());
    let time = date.and_hms_opt(hour.parse().ok()?, num(minute)?, num(second)?)?;
    local(time).map(|t| t.to_utc())
}

fn local(time: NaiveDateTime) -> Option<DateTime<chrono_tz::Tz>> {
    match Paris.from_local_datetime(&time) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(early, _) => Some(early),
        LocalResult::None => Paris
            .from_local_datetime(&(time + Duration::hours(1)))
            .earliest(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_machine_times() {
        // Sunday 22 November 2026, 10:00 UTC (11:00 in Paris).
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc();
        let table = [
            ("2026-03-12T09:30:00+01:00", Some("2026-03-12T08:30:00Z")),
            (
                "Thu, 12 Mar 2026 09:30:00 +0100",
                Some("2026-03-12T08:30:00Z"),
            ),
            ("12 mars 2026", Some("2026-03-11T23:00:00Z")),
            ("Publié le 12 mars 2026", Some("2026-03-11T23:00:00Z")),
            (
                "mardi 1er décembre 2026 à 14h30",
                Some("2026-12-01T13:30:00Z"),
            ),
            ("12 déc. 2025, 09:05", Some("2025-12-12T08:05:00Z")),
            ("3 août 2026 à 8h", Some("2026-08-03T06:00:00Z")),
            ("12\u{a0}juin 2026", Some("2026-06-11T22:00:00Z")),
            ("4 juillet 2026", Some("2026-07-03T22:00:00Z")),
            ("20 nov.", Some("2026-11-19T23:00:00Z")),
            ("20 décembre", Some("2025-12-19T23:00:00Z")),
            ("12/03/2026", Some("2026-03-11T23:00:00Z")),
            ("12/03/2026 à 14:30", Some("2026-03-12T13:30:00Z")),
            ("2026-03-12", Some("2026-03-11T23:00:00Z")),
            ("2026-07-12 14:30:05", Some("2026-07-12T12:30:05Z")),
            ("il y a 3 heures", Some("2026-11-22T07:00:00Z")),
            ("Il y a une minute", Some("2026-11-22T09:59:00Z")),
            ("il y a 2 jours", Some("2026-11-20T10:00:00Z")),
            ("il y a 2 semaines", Some("2026-11-08T10:00:00Z")),
            ("il y a 1 mois", Some("2026-10-23T10:00:00Z")),
            ("il y a un an", Some("2025-11-22T10:00:00Z")),
            ("il y a 45 min", Some("2026-11-22T09:15:00Z")),
            ("À l’instant", Some("2026-11-22T10:00:00Z")),
            ("hier à 09:15", Some("2026-11-21T08:15:00Z")),
            ("hier", Some("2026-11-21T10:00:00Z")),
            ("aujourd’hui à 8h05", Some("2026-11-22T07:05:00Z")),
            ("31 février 2026", None),
            ("bientôt", None),
            ("", None),
        ];
        for (text, want) in table {
            let got =
                parse(text, now).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            assert_eq!(got.as_deref(), want, "{text:?}");
        }
    }
}
