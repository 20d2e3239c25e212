//! Alerts as a community manager reads them (issue 26): `[daemon] language` and `timezone`
//! checked like every key, the chart's pixels (axis labels, legend, the highlighted window at
//! the count's height), the real `vigie replay --dump-alerts` writing a French email in Paris
//! time, that email's HTML rendered by headless Chromium (no wider than 600 px, the chart
//! shown), and the query tables in the configured zone (`--utc` to override).

use std::path::Path;
use std::process::Command;

use chrono::{TimeZone, Utc};
use vigie::config::Language;
use vigie::detect::{Alert, AlertKind, Series};
use vigie::notify::chart::{self, BOTTOM, HIGHLIGHT, LEFT, RIGHT, TOP};
use vigie::notify::render::Locale;

use crate::util::{root, s, tree, vigie};

fn french() -> Locale {
    Locale::new(Language::French, chrono_tz::Europe::Paris)
}

/// A threshold alert: 6 in the last of 96 windows of 15 min, 0 to 1 before, threshold 5.
fn alert() -> Alert {
    let fired_at = Utc.with_ymd_and_hms(2026, 12, 6, 11, 38, 0).unwrap();
    Alert {
        id: 1,
        rule: "retard".into(),
        kind: AlertKind::Threshold,
        fired_at,
        window_secs: 900,
        count: 6,
        baseline: 0.4,
        bar: 5.0,
        reason: "6 hits in 15m (threshold 5)".into(),
        posts: Vec::new(),
        series: Series {
            start: fired_at - chrono::Duration::hours(24),
            bucket_secs: 900,
            counts: (0..96)
                .map(|i| if i == 95 { 6 } else { (i % 3 == 0) as u64 })
                .collect(),
        },
        source_state: None,
        error: None,
        case: None,
    }
}

/// A decoded RGB picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn decode(bytes: &[u8]) -> Picture {
        let mut reader = png::Decoder::new(bytes).read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("a frame");
        buf.truncate(info.buffer_size());
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected colour type {other:?}"),
        };
        let rgb = buf
            .chunks(channels)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        Picture {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Pixels dark enough to be text (anti-aliased glyph cores) in `x0..x1` × `y0..y1`.
    fn dark(&self, x0: u32, x1: u32, y0: u32, y1: u32) -> usize {
        (y0..y1.min(self.height))
            .flat_map(|y| (x0..x1.min(self.width)).map(move |x| (x, y)))
            .filter(|&(x, y)| self.at(x, y).iter().all(|&c| c < 140))
            .count()
    }
}

#[test]
fn chart_has_axis_labels_a_legend_and_the_current_window_at_its_count() {
    let a = alert();
    let bytes = chart::png(&a, &french());
    assert!(bytes.len() < 30_000, "chart is {} bytes", bytes.len());
    let pic = Picture::decode(&bytes);
    assert_eq!((pic.width, pic.height), (chart::WIDTH, chart::HEIGHT));

    // Text where labels go: the legend row, the count axis title, the count labels left of the
    // plot, the time labels under it and the time axis title.
    let areas = [
        ("legend", LEFT, RIGHT, 0, 22),
        ("count axis title", 0, RIGHT, 22, TOP - 8),
        ("count labels", 0, LEFT - 2, TOP - 8, BOTTOM + 8),
        ("time labels", LEFT, RIGHT, BOTTOM + 4, BOTTOM + 22),
        ("time axis title", LEFT, RIGHT, BOTTOM + 22, chart::HEIGHT),
    ];
    for (what, x0, x1, y0, y1) in areas {
        let n = pic.dark(x0, x1, y0, y1);
        assert!(n > 40, "{what}: {n} text pixels");
    }
    // The labels are words of the language: English ones differ from French ones.
    let en = Picture::decode(&chart::png(&a, &Locale::default()));
    let differ =
        |y0: u32, y1: u32| (y0..y1).any(|y| (LEFT..RIGHT).any(|x| en.at(x, y) != pic.at(x, y)));
    assert!(
        differ(0, 22),
        "the legend is the same in English and French"
    );
    assert!(
        differ(BOTTOM + 22, chart::HEIGHT),
        "the time axis title too"
    );

    // The last window is the only highlighted bar, and its height is the count's.
    let ymax = chart::ymax(&a);
    let (x0, x1) = chart::columns(95, 96);
    let mid = (x0 + x1) / 2;
    // From the axis up to its top pixel (the threshold's dashes cross it, drawn over it).
    let top = (TOP..BOTTOM)
        .find(|&y| pic.at(mid, y) == HIGHLIGHT)
        .expect("a highlighted bar");
    assert_eq!(pic.at(mid, BOTTOM), chart::INK, "the axis");
    assert_eq!(pic.at(mid, BOTTOM - 1), HIGHLIGHT);
    let height = BOTTOM - top;
    assert_eq!(
        height,
        BOTTOM - chart::row(6.0, ymax),
        "bar of 6 on a scale of {ymax}"
    );
    assert!(height > 20, "a bar of 6 is {height} px tall");
    let highlighted_columns = (LEFT..RIGHT)
        .filter(|&x| (TOP..BOTTOM).any(|y| pic.at(x, y) == HIGHLIGHT))
        .count() as u32;
    assert_eq!(highlighted_columns, x1 - x0);
    // The threshold's dashed line crosses the plot at 5.
    let y5 = chart::row(5.0, ymax);
    let red = (LEFT..RIGHT)
        .filter(|&x| pic.at(x, y5) == chart::THRESHOLD)
        .count();
    assert!(red > 200, "{red} red pixels on the threshold row");
}

#[test]
fn check_refuses_an_unknown_language_or_time_zone_with_its_place() {
    let dir = tree(&[(
        "vigie.toml",
        "[daemon]\nrules = []\nlanguage = \"de\"\ntimezone = \"Europe/Pariss\"\n",
    )]);
    let r = vigie(
        &["check", "--config", s(&dir.path().join("vigie.toml"))],
        "",
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let prefix = format!("{}/", dir.path().display());
    let stderr = r.stderr.replace(&prefix, "");
    for want in [
        "vigie.toml:3:12: \"language\" must be one of \"en\", \"fr\", not \"de\", did you mean \"en\"?",
        "vigie.toml:4:12: \"timezone\" must be an IANA time zone name such as \"Europe/Paris\" or \"UTC\", \
         not \"Europe/Pariss\", did you mean \"Europe/Paris\"?",
    ] {
        assert!(stderr.lines().any(|l| l == want), "want {want}\n{stderr}");
    }
    let ok = tree(&[(
        "vigie.toml",
        "[daemon]\nrules = []\nlanguage = \"fr\"\ntimezone = \"America/Montreal\"\n",
    )]);
    let r = vigie(&["check", "--config", s(&ok.path().join("vigie.toml"))], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `vigie replay --dump-alerts DIR` on the burst fixture with a French, Paris-time config;
/// returns the temp dir (config, dump/).
fn dump_burst() -> tempfile::TempDir {
    let posts = std::fs::read_to_string(root().join("tests/fixtures/alerts/burst.jsonl"))
        .expect("burst fixture");
    let dir = tree(&[
        (
            "vigie.toml",
            "[daemon]\nrules = [\"rules.toml\"]\nlanguage = \"fr\"\ntimezone = \"Europe/Paris\"\n\n\
             [[notifier]]\nname = \"console\"\nkind = \"console\"\n",
        ),
        (
            "rules.toml",
            "[defaults]\nnotify = [\"console\"]\nwindow = \"15m\"\n\n[[rule]]\n\
             name = \"livraison-retard\"\nquery = '(colis OR lettre OR commande) AND (retard* OR perdu*)'\n\
             alert = { spike = 3.0, min_count = 5 }\n",
        ),
        ("burst.jsonl", &posts),
    ]);
    let r = vigie(
        &[
            "replay",
            s(&dir.path().join("burst.jsonl")),
            "--config",
            s(&dir.path().join("vigie.toml")),
            "--dump-alerts",
            s(&dir.path().join("dump")),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

#[test]
fn replay_dumps_each_alert_as_a_french_email_in_paris_time() {
    let dir = dump_burst();
    let dump = dir.path().join("dump");
    let eml = std::fs::read(dump.join("alert-1.eml")).expect("alert-1.eml");
    let mail = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("a parsable mail");
    assert_eq!(
        mail.subject(),
        Some("[vigie] Pic sur «\u{202f}livraison-retard\u{202f}»\u{a0}: 5 publications en 15 min")
    );
    let text = mail.body_text(0).expect("a text part");
    let html = mail.body_html(0).expect("an HTML part");
    // The burst's fifth post is at 08:05 UTC on 25 October 2026: 09:05 in Paris, winter time.
    for part in [&text, &html] {
        assert!(part.contains("09:05 CET"), "{part}");
        assert!(part.contains("d’habitude"), "{part}");
        assert!(!part.contains("n/a") && !part.contains("08:05"), "{part}");
    }
    assert!(html.contains("<strong>retard</strong>"), "{html}");
    assert!(text.contains("https://forum.example.fr/t/"), "{text}");
    let chart = Picture::decode(&std::fs::read(dump.join("alert-1.png")).expect("png"));
    assert_eq!(chart.width, chart::WIDTH);
}

/// Headless Chromium, as `.ci/run` installs it (Debian's `chromium`), or `None` if absent
/// outside CI.
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing: .ci/run installs it"
        );
        eprintln!("chromium not installed: skipping the rendering check");
    }
    found
}

/// Renders `html` at `width` px wide with headless Chromium into a PNG screenshot.
fn screenshot(browser: &str, html: &Path, width: u32, out: &Path) -> Picture {
    let profile = tempfile::tempdir().expect("profile dir");
    let status = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Nothing but the file:// page: no phishing, metrics, translate or hint fetches.
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--safebrowsing-disable-auto-update",
            "--metrics-recording-only",
            "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},1400"))
        .arg(format!("--screenshot={}", out.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(
        status.status.success() && out.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    Picture::decode(&std::fs::read(out).expect("screenshot"))
}

#[test]
fn email_html_renders_in_chromium_with_its_chart_and_no_wider_than_600_px() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = dump_burst();
    let html = dir.path().join("dump/alert-1.html");
    let shot = screenshot(browser, &html, 1000, &dir.path().join("wide.png"));
    // Everything drawn (not white) lies within 600 px.
    let inked: Vec<u32> = (0..shot.width)
        .filter(|&x| (0..shot.height).any(|y| shot.at(x, y) != [255, 255, 255]))
        .collect();
    let (first, last) = (inked[0], inked[inked.len() - 1]);
    assert!(last - first < 600, "content spans x {first}..{last}");
    // The chart is displayed: its orange current-window bar is on the screen.
    let orange = (0..shot.height)
        .flat_map(|y| (0..shot.width).map(move |x| (x, y)))
        .filter(|&(x, y)| shot.at(x, y) == HIGHLIGHT)
        .count();
    assert!(
        orange > 30,
        "{orange} orange pixels: the chart is not shown"
    );
    // On a phone-sized window the email shrinks with it: nothing is cut off at the right.
    let narrow = screenshot(browser, &html, 360, &dir.path().join("narrow.png"));
    let right_edge =
        (0..narrow.height).filter(|&y| narrow.at(narrow.width - 1, y) != [255, 255, 255]);
    assert_eq!(
        right_edge.count(),
        0,
        "content touches the right edge at 360 px"
    );
}

#[test]
fn query_tables_show_times_in_the_configured_zone_unless_utc() {
    let posts = std::fs::read_to_string(root().join("tests/fixtures/alerts/burst.jsonl"))
        .expect("burst fixture");
    let dir = tree(&[
        (
            "vigie.toml",
            "[daemon]\nrules = [\"rules.toml\"]\ndatabase = \"vigie.db\"\n\
             timezone = \"Europe/Paris\"\n\n[[notifier]]\nname = \"console\"\nkind = \"console\"\n",
        ),
        (
            "rules.toml",
            "[defaults]\nnotify = [\"console\"]\n\n[[rule]]\nname = \"livraison-retard\"\n\
             query = '(colis OR lettre OR commande) AND (retard* OR perdu*)'\n\
             alert = { spike = 3.0, min_count = 5 }\n",
        ),
        ("burst.jsonl", &posts),
    ]);
    let config = dir.path().join("vigie.toml");
    let config = s(&config);
    let db = dir.path().join("vigie.db");
    let burst = dir.path().join("burst.jsonl");
    let r = vigie(
        &["replay", s(&burst), "--config", config, "--db", s(&db)],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let run = |args: &[&str]| {
        let mut argv = args.to_vec();
        argv.extend(["--config", config]);
        let r = vigie(&argv, "");
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    };
    // The last post of the burst: 08:12 UTC, 09:12 in Paris (winter time).
    let hits = ["hits", "--since", "2026-10-25T08:12:00Z", "--limit", "1"];
    let table = run(&[&hits[..], &["--format", "table"]].concat());
    assert!(table.starts_with("CREATED_AT (Europe/Paris)"), "{table}");
    assert!(table.contains("2026-10-25 09:12"), "{table}");
    let utc = run(&[&hits[..], &["--format", "table", "--utc"]].concat());
    assert!(utc.starts_with("CREATED_AT (UTC)"), "{utc}");
    assert!(utc.contains("2026-10-25 08:12"), "{utc}");
    let json = run(&[&hits[..], &["--format", "json"]].concat());
    assert!(json.contains("\"2026-10-25T08:12:00Z\""), "{json}");

    let alerts = run(&[
        "alerts",
        "--since",
        "2026-10-01T00:00:00Z",
        "--format",
        "table",
    ]);
    assert!(alerts.contains("2026-10-25 09:05"), "{alerts}");
    let alerts = run(&[
        "alerts",
        "--since",
        "2026-10-01T00:00:00Z",
        "--format",
        "csv",
    ]);
    assert!(alerts.contains("2026-10-25T08:05:00Z"), "{alerts}");

    // The day before the change was summer time: both ends of the span say which.
    let stats = run(&[
        "stats",
        "--since",
        "2026-10-24T12:00:00Z",
        "--until",
        "2026-10-25T12:00:00Z",
        "--format",
        "table",
    ]);
    assert!(
        stats.contains("from 2026-10-24 14:00 CEST to 2026-10-25 13:00 CET"),
        "{stats}"
    );
}

/// `vigie replay --dump-alerts` on posts with display names and engagement (issue 26 point 5):
/// the email shows "Display Name (@handle)" and the count, quotes the most engaged posts first
/// (then the most followed, not the newest), and a hostile display name comes out neutralised;
/// `vigie hits --format json` shows the engagement.
#[test]
fn replay_email_names_authors_and_quotes_the_most_engaged_first() {
    let post = |id: &str,
                min: u32,
                handle: &str,
                name: &str,
                engagement: Option<u64>,
                followers: Option<u64>| {
        let mut v = serde_json::json!({
            "id": id, "source": "forum", "text": "Mon colis est en retard",
            "author": handle, "author_name": name,
            "url": format!("https://forum.example.fr/t/{id}"),
            "created_at": format!("2026-11-22T09:{min:02}:00Z"),
        });
        if let Some(e) = engagement {
            v["engagement"] = e.into();
        }
        if let Some(f) = followers {
            v["followers"] = f.into();
        }
        v.to_string() + "\n"
    };
    let evil = "<script>alert(1)</script> @channel [x](http://evil.example)";
    // Oldest first: newest-first would read nobody, low, evil, alice; most followed first
    // low, nobody, alice, evil; most engaged first alice, evil, low, nobody.
    let posts = [
        post("1", 1, "@alice", "Alice Martin", Some(57), Some(120)),
        post("2", 3, "@evil", evil, Some(9), None),
        post("3", 5, "@low", "Low Reach", Some(2), Some(90_000)),
        post("4", 7, "@nobody", "Nobody Known", None, Some(5_000)),
    ]
    .concat();
    let dir = tree(&[
        (
            "vigie.toml",
            "[daemon]\nrules = [\"rules.toml\"]\n\n\
             [[notifier]]\nname = \"console\"\nkind = \"console\"\n",
        ),
        (
            "rules.toml",
            "[defaults]\nnotify = [\"console\"]\nwindow = \"15m\"\n\n[[rule]]\n\
             name = \"retard\"\nquery = 'colis AND retard'\nalert = { threshold = 4 }\n",
        ),
        ("posts.jsonl", &posts),
    ]);
    let db = dir.path().join("replay.db");
    let r = vigie(
        &[
            "replay",
            s(&dir.path().join("posts.jsonl")),
            "--config",
            s(&dir.path().join("vigie.toml")),
            "--db",
            s(&db),
            "--dump-alerts",
            s(&dir.path().join("dump")),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let eml = std::fs::read(dir.path().join("dump/alert-1.eml")).expect("alert-1.eml");
    let mail = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("a parsable mail");
    let text = mail.body_text(0).expect("a text part");
    let html = mail.body_html(0).expect("an HTML part");
    for part in [&text, &html] {
        assert!(part.contains("Alice Martin (＠alice) on forum"), "{part}");
        assert!(part.contains("57 interactions · 120 followers"), "{part}");
        assert!(part.contains("2 interactions · 90,000 followers"), "{part}");
        let at = |needle: &str| {
            part.find(needle)
                .unwrap_or_else(|| panic!("{needle} not in {part}"))
        };
        let order = [
            at("Alice Martin"),
            at("＠channel"),
            at("Low Reach"),
            at("Nobody Known"),
        ];
        assert!(order.is_sorted(), "{order:?} in {part}");
        assert!(
            !part.contains("@channel") && !part.contains("http://evil"),
            "{part}"
        );
    }
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");

    let r = vigie(&["hits", "--db", s(&db), "--format", "json"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut engagement: Vec<(String, serde_json::Value)> = r
        .stdout
        .lines()
        .map(|l| {
            let hit: serde_json::Value = serde_json::from_str(l).expect("a JSON hit");
            (
                hit["author_name"].as_str().unwrap_or_default().to_string(),
                hit["engagement"].clone(),
            )
        })
        .collect();
    engagement.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        engagement,
        [
            (
                "<script>alert(1)</script> @channel [x](http://evil.example)".into(),
                9.into()
            ),
            ("Alice Martin".into(), 57.into()),
            ("Low Reach".into(), 2.into()),
            ("Nobody Known".into(), serde_json::Value::Null),
        ]
    );
}
