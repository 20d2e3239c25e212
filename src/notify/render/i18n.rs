//! Alert texts per language, and times per zone: the one place a word of an alert is chosen.
//!
//! Every sentence, label and unit an alert shows comes from a Project Fluent catalogue,
//! `i18n/{en,fr}.ftl`, compiled into the binary and parsed once. Fluent picks plural forms by
//! the language's CLDR rules ("1 publication", "0 publication", "6 publications"); numbers go
//! through the catalogue's `N()` function, which writes them as the language does ("1 234" with
//! a narrow no-break space and "2,5" in French, "1,234" and "2.5" in English). Times are shown
//! in the configured IANA zone with its abbreviation (`10:15 CET`); machine formats (webhook
//! JSON, the database) stay RFC 3339 UTC and never come through here.
//!
//! What to say is `render`'s job; this module only says it in the right language.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use crate::config::Language;

/// The English catalogue.
const EN: &str = include_str!("i18n/en.ftl");
/// The French catalogue.
const FR: &str = include_str!("i18n/fr.ftl");

/// The language and zone alerts are written for (`[daemon] language` and `timezone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locale {
    /// Which catalogue.
    pub language: Language,
    /// The zone of every time a person reads.
    pub zone: Tz,
}

impl Default for Locale {
    /// English and UTC, the config's defaults.
    fn default() -> Locale {
        Locale {
            language: Language::English,
            zone: chrono_tz::UTC,
        }
    }
}

/// One argument of a message: a number (selects plurals, goes through `N()`) or a text.
pub enum Arg<'a> {
    /// A count or a rate.
    Num(f64),
    /// A name or an already formatted piece.
    Text(&'a str),
}

impl From<u64> for Arg<'_> {
    fn from(n: u64) -> Self {
        Arg::Num(n as f64)
    }
}

impl From<f64> for Arg<'_> {
    fn from(x: f64) -> Self {
        Arg::Num(x)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

/// A number as `language` writes it: digits grouped by three from 4 digits on (a narrow
/// no-break space in French, a comma in English), at most one decimal (a comma in French),
/// none when it is zero. Non-finite values read as 0.
pub fn number(language: Language, x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    let tenths = (x.abs() * 10.0).round() as u64;
    let (int, frac) = (tenths / 10, tenths % 10);
    let (group, decimal) = match language {
        Language::French => ('\u{202f}', ','),
        Language::English => (',', '.'),
    };
    let digits = int.to_string();
    let mut out = String::new();
    if x < 0.0 && tenths > 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && digits.len() > 3 {
            out.push(group);
        }
        out.push(d);
    }
    if frac > 0 {
        out.push(decimal);
        out.push(char::from(b'0' + frac as u8));
    }
    out
}

/// The catalogue of `language`, parsed once.
fn bundle(language: Language) -> &'static FluentBundle<FluentResource> {
    static BUNDLES: OnceLock<[FluentBundle<FluentResource>; 2]> = OnceLock::new();
    let all = BUNDLES.get_or_init(|| [load(Language::English, EN), load(Language::French, FR)]);
    match language {
        Language::English => &all[0],
        Language::French => &all[1],
    }
}

/// Parses one catalogue. The catalogues are part of the binary and a unit test parses both,
/// so a syntax error is a build defect, not a runtime condition.
fn load(language: Language, source: &str) -> FluentBundle<FluentResource> {
    let tag = language
        .tag()
        .parse()
        .expect("a language tag of the config is valid");
    let mut bundle = FluentBundle::new_concurrent(vec![tag]);
    // Isolation marks (U+2068/U+2069) would reach subjects and plain text as invisible bytes.
    bundle.set_use_isolating(false);
    bundle
        .add_function("N", move |args, _named| match args.first() {
            Some(FluentValue::Number(n)) => FluentValue::from(number(language, n.value)),
            Some(other) => other.clone(),
            None => FluentValue::None,
        })
        .expect("N is registered once");
    let resource = FluentResource::try_new(source.to_string())
        .unwrap_or_else(|(_, e)| panic!("{} catalogue: {e:?}", language.tag()));
    bundle
        .add_resource(resource)
        .unwrap_or_else(|e| panic!("{} catalogue: {e:?}", language.tag()));
    bundle
}

impl Locale {
    /// A locale for `language` and `zone`.
    pub fn new(language: Language, zone: Tz) -> Locale {
        Locale { language, zone }
    }

    /// Message `id` with `args`. A message missing from the catalogue shows as its id (a unit
    /// test checks that both catalogues hold every id the code asks for).
    pub fn msg(&self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let bundle = bundle(self.language);
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_string();
        };
        let mut fargs = FluentArgs::new();
        for (name, arg) in args {
            match arg {
                Arg::Num(x) => fargs.set(*name, FluentValue::from(*x)),
                Arg::Text(s) => fargs.set(*name, FluentValue::from(s.to_string())),
            }
        }
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, Some(&fargs), &mut errors)
            .into_owned()
    }

    /// A number as the language writes it ([`number`]).
    pub fn num(&self, x: f64) -> String {
        number(self.language, x)
    }

    /// A duration as a person says it: `30 s`, `15 min`, `2 hours`, `7 jours`.
    pub fn duration(&self, secs: u64) -> String {
        let (id, n) = match secs {
            s if s >= 86_400 && s % 86_400 == 0 => ("dur-d", s / 86_400),
            s if s >= 3600 && s % 3600 == 0 => ("dur-h", s / 3600),
            s if s >= 60 && s % 60 == 0 => ("dur-min", s / 60),
            s => ("dur-s", s),
        };
        self.msg(id, &[("n", n.into())])
    }

    /// The zone's abbreviation at `t` (`UTC`, `CET`, `CEST`).
    pub fn zone_name(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone).format("%Z").to_string()
    }

    /// The local time of day with the zone: `10:15 CET`.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone).format("%H:%M %Z").to_string()
    }

    /// The local time of day alone: `10:15`.
    pub fn clock(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone).format("%H:%M").to_string()
    }

    /// The local date: `22 novembre 2026`, `22 November 2026`.
    pub fn date(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.zone);
        let day = local.day().to_string();
        let year = local.year().to_string();
        self.msg(
            "date",
            &[
                ("day", Arg::Text(&day)),
                ("m", u64::from(local.month()).into()),
                ("year", Arg::Text(&year)),
            ],
        )
    }

    /// The local date and time: `22 novembre 2026 à 10:15 CET`.
    pub fn date_time(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.zone);
        let day = local.day().to_string();
        let year = local.year().to_string();
        let time = self.time(t);
        self.msg(
            "date-time",
            &[
                ("day", Arg::Text(&day)),
                ("m", u64::from(local.month()).into()),
                ("year", Arg::Text(&year)),
                ("time", Arg::Text(&time)),
            ],
        )
    }

    /// A window in local time: `10:00 – 10:15 CET, le 22 novembre 2026`; both ends carry their
    /// zone when a daylight-saving change falls inside (`02:55 CEST – 02:10 CET`).
    pub fn span(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let from = if self.zone_name(from) == self.zone_name(to) {
            self.clock(from)
        } else {
            self.time(from)
        };
        let until = self.time(to);
        let date = self.date(to);
        self.msg(
            "time-span",
            &[
                ("from", Arg::Text(&from)),
                ("to", Arg::Text(&until)),
                ("date", Arg::Text(&date)),
            ],
        )
    }

    /// `label : value` in French, `label: value` in English.
    pub fn labelled(&self, label: &str, value: &str) -> String {
        format!("{label}{} {value}", self.msg("colon", &[]))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn fr() -> Locale {
        Locale::new(Language::French, chrono_tz::Europe::Paris)
    }

    /// The ids of the messages a catalogue defines.
    fn ids(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split(" =").next())
            .collect()
    }

    #[test]
    fn both_catalogues_parse_and_define_the_same_messages() {
        let (en, fr) = (ids(EN), ids(FR));
        assert_eq!(en, fr);
        for language in [Language::English, Language::French] {
            for id in &en {
                assert!(bundle(language).has_message(id), "{id}");
            }
        }
    }

    #[test]
    fn every_id_the_code_asks_for_is_in_the_catalogues() {
        let code = [
            include_str!("mod.rs"),
            include_str!("html.rs"),
            include_str!("i18n.rs"),
            include_str!("../chart.rs"),
        ]
        .concat();
        let known = ids(EN);
        let mut asked = Vec::new();
        for piece in code.split("msg(\"").skip(1) {
            asked.push(piece.split('"').next().unwrap_or_default());
        }
        assert!(asked.len() > 20, "{asked:?}");
        for id in asked {
            assert!(known.contains(&id), "{id} is not in the catalogues");
        }
    }

    #[test]
    fn numbers_are_written_as_each_language_does() {
        let cases = [
            (0.0, "0", "0"),
            (6.0, "6", "6"),
            (999.0, "999", "999"),
            (1234.0, "1\u{202f}234", "1,234"),
            (1_234_567.0, "1\u{202f}234\u{202f}567", "1,234,567"),
            (2.5, "2,5", "2.5"),
            (2.04, "2", "2"),
            (15.2, "15,2", "15.2"),
            (f64::NAN, "0", "0"),
        ];
        for (x, want_fr, want_en) in cases {
            assert_eq!(number(Language::French, x), want_fr, "{x}");
            assert_eq!(number(Language::English, x), want_en, "{x}");
        }
    }

    #[test]
    fn plurals_follow_each_language() {
        let en = Locale::default();
        let posts = |l: &Locale, n: u64| l.msg("posts", &[("count", n.into())]);
        assert_eq!(posts(&fr(), 0), "0 publication");
        assert_eq!(posts(&fr(), 1), "1 publication");
        assert_eq!(posts(&fr(), 6), "6 publications");
        assert_eq!(posts(&fr(), 1234), "1\u{202f}234 publications");
        assert_eq!(posts(&en, 0), "0 posts");
        assert_eq!(posts(&en, 1), "1 post");
        assert_eq!(posts(&en, 1234), "1,234 posts");
        assert_eq!(fr().duration(900), "15 min");
        assert_eq!(fr().duration(86_400), "1 jour");
        assert_eq!(en.duration(7200), "2 hours");
        assert_eq!(en.duration(90), "90 s");
    }

    #[test]
    fn times_are_local_across_a_daylight_saving_change() {
        // Paris leaves summer time on 25 October 2026 at 03:00 CEST (01:00 UTC).
        let before = Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap();
        assert_eq!(fr().time(before), "02:30 CEST");
        assert_eq!(fr().time(after), "02:30 CET");
        assert_eq!(fr().date_time(after), "25 octobre 2026 à 02:30 CET");
        assert_eq!(
            Locale::default().date_time(after),
            "25 October 2026, 01:30 UTC"
        );
        assert_eq!(
            fr().span(after - chrono::Duration::minutes(15), after),
            "02:15 – 02:30 CET, le 25 octobre 2026"
        );
        assert_eq!(
            fr().span(before + chrono::Duration::minutes(25), after),
            "02:55 CEST – 02:30 CET, le 25 octobre 2026"
        );
    }
}
