//! The 24-hour chart for email: a picture that reads without the text around it.
//!
//! Hits per window over the last 24 hours as bars, the window that fired in orange on a pale
//! band, the usual level as a grey line and the threshold or spike bar as a dashed red line, a
//! legend naming all three, a count axis with its unit ("publications / 15 min") and a time axis
//! in the configured zone ("heure (CET)"), every word from the language's catalogue. Drawn with
//! `plotters` into an RGB buffer; text needs a font, so DejaVu Sans (Bitstream Vera licence, in
//! `assets/fonts/`) is compiled in and registered once. The PNG is encoded here with the
//! `png` crate at its best compression (about 9 KB for a day of 15-minute windows).
//!
//! This module owns pixels only: which counts to show is `store`'s job, what the labels say is
//! the catalogue's (`render::Locale`), and where the picture goes (an inline `cid:` part with
//! its alt text) is `email`'s and `render::html`'s.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Timelike, Utc};
use plotters::backend::BitMapBackend;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::Locale;
use super::{Alert, AlertKind};

/// Width of the chart, in pixels (fits the email's 600 px frame with its padding).
pub const WIDTH: u32 = 560;
/// Height of the chart, in pixels.
pub const HEIGHT: u32 = 280;

/// The plot area: bars stand on `BOTTOM` (exclusive) and the scale's top is at `TOP`.
pub const LEFT: u32 = 48;
/// Right edge of the plot area (exclusive).
pub const RIGHT: u32 = WIDTH - 12;
/// Top of the plot area.
pub const TOP: u32 = 48;
/// The x axis row; bars end just above it.
pub const BOTTOM: u32 = HEIGHT - 44;
/// The legend's text row (top of the text).
pub const LEGEND_Y: i32 = 6;
/// The count axis title's row.
pub const Y_TITLE_Y: i32 = 26;
/// The time labels' row.
pub const X_LABELS_Y: i32 = BOTTOM as i32 + 6;
/// The time axis title's row.
pub const X_TITLE_Y: i32 = HEIGHT as i32 - 18;

/// DejaVu Sans, whose licence is `assets/fonts/DejaVuSans.LICENSE`.
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name the font is registered under.
const FAMILY: &str = "vigie-sans";
/// Text size, in pixels.
const TEXT_PX: f64 = 13.0;

type Rgb = [u8; 3];

/// Background.
pub const BACKGROUND: Rgb = [255, 255, 255];
/// Axis lines and text.
pub const INK: Rgb = [51, 51, 51];
/// Every bar but the last.
pub const BAR: Rgb = [116, 153, 196];
/// The last bar: the window that fired.
pub const HIGHLIGHT: Rgb = [230, 115, 0];
/// The band behind the window that fired.
pub const BAND: Rgb = [253, 236, 214];
/// The usual count (solid line).
pub const BASELINE: Rgb = [110, 110, 110];
/// The count that had to be reached (dashed line).
pub const THRESHOLD: Rgb = [214, 39, 40];
/// Grid lines.
const GRID: Rgb = [232, 232, 232];

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// The labels a chart shows, in the alert's language.
struct Labels {
    y_title: String,
    x_title: String,
    current: String,
    usual: String,
    bar: String,
}

/// The scale of the count axis: its top and the step between labelled lines.
fn scale(top: f64) -> (f64, f64) {
    let top = if top.is_finite() && top > 0.0 {
        top
    } else {
        1.0
    };
    let mut step = 1.0;
    let mut i = 0;
    while top / step > 5.0 {
        step *= [2.0, 2.5, 2.0][i % 3];
        i += 1;
    }
    ((top / step).ceil() * step, step)
}

/// The row of value `v` on a scale topped at `ymax`.
pub fn row(v: f64, ymax: f64) -> u32 {
    let h = f64::from(BOTTOM - TOP);
    let px = (v / ymax * h).round().clamp(0.0, h) as u32;
    BOTTOM - px
}

/// The columns `x0..x1` of bucket `i` of `n`, a 1-pixel gap kept where bars are wide enough.
pub fn columns(i: usize, n: usize) -> (u32, u32) {
    let w = u64::from(RIGHT - LEFT);
    let n = n.max(1) as u64;
    let x0 = LEFT + (i as u64 * w / n) as u32;
    let x1 = (LEFT + ((i as u64 + 1) * w / n) as u32).max(x0 + 1);
    if x1 - x0 >= 3 {
        (x0, x1 - 1)
    } else {
        (x0, x1)
    }
}

/// The top of the count scale for an alert: the largest of its counts, bar and baseline, with
/// room above.
pub fn ymax(alert: &Alert) -> f64 {
    let top = alert
        .series
        .counts
        .iter()
        .map(|&c| c as f64)
        .chain(
            [alert.baseline, alert.bar]
                .into_iter()
                .filter(|v| v.is_finite()),
        )
        .fold(0.0_f64, f64::max);
    scale(top * 1.1).0
}

/// Renders the alert's chart as PNG bytes, labelled in `loc`'s language and zone.
pub fn png(alert: &Alert, loc: &Locale) -> Vec<u8> {
    static FONT_READY: OnceLock<bool> = OnceLock::new();
    // The font is compiled in and a unit test draws with it: it cannot fail to load.
    FONT_READY
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    let window = loc.duration(alert.series.bucket_secs.max(1));
    let zone = loc.zone_name(alert.fired_at);
    let labels = Labels {
        y_title: loc.msg("chart-y", &[("window", (&window).into())]),
        x_title: loc.msg("chart-x", &[("zone", (&zone).into())]),
        current: loc.msg("chart-current", &[]),
        usual: loc.msg("chart-usual", &[]),
        bar: loc.msg(
            if alert.kind == AlertKind::Spike {
                "chart-spike-bar"
            } else {
                "chart-threshold"
            },
            &[],
        ),
    };
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    // Drawing into a buffer of the right size only fails on a missing font, which is built in.
    let _ = draw(&mut buf, alert, loc, &labels);
    encode(&buf)
}

/// Draws everything into `buf` (RGB, `WIDTH` × `HEIGHT`).
fn draw(buf: &mut [u8], alert: &Alert, loc: &Locale, labels: &Labels) -> Result<(), String> {
    let root = BitMapBackend::with_buffer(buf, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&rgb(BACKGROUND)).map_err(|e| e.to_string())?;
    let ink = rgb(INK);
    let style = TextStyle::from((FAMILY, TEXT_PX).into_font()).color(&ink);
    let rect = |x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb| {
        Rectangle::new(
            [(x0 as i32, y0 as i32), (x1 as i32, y1 as i32)],
            rgb(c).filled(),
        )
    };
    let series = &alert.series;
    let n = series.counts.len();
    let ymax = ymax(alert);
    let (_, step) = scale(ymax);

    // Count axis: grid lines and their labels.
    let mut v = 0.0;
    while v <= ymax + 1e-9 {
        let y = row(v, ymax);
        root.draw(&rect(LEFT, y, RIGHT, y + 1, GRID))
            .map_err(|e| e.to_string())?;
        root.draw(&Text::new(
            loc.num(v),
            (LEFT as i32 - 6, y as i32),
            style.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(|e| e.to_string())?;
        v += step;
    }
    root.draw(&Text::new(
        labels.y_title.clone(),
        (8, Y_TITLE_Y),
        style.clone(),
    ))
    .map_err(|e| e.to_string())?;

    // The window that fired: a band, then its bar over it.
    if n > 0 {
        let (x0, x1) = columns(n - 1, n);
        root.draw(&rect(x0, TOP, x1, BOTTOM, BAND))
            .map_err(|e| e.to_string())?;
    }
    for (i, &count) in series.counts.iter().enumerate() {
        let mut y = row(count as f64, ymax);
        if count > 0 && y == BOTTOM {
            y -= 1; // A window with hits never looks empty.
        }
        let (x0, x1) = columns(i, n);
        let colour = if i + 1 == n { HIGHLIGHT } else { BAR };
        root.draw(&rect(x0, y, x1, BOTTOM, colour))
            .map_err(|e| e.to_string())?;
    }
    root.draw(&rect(LEFT, BOTTOM, RIGHT, BOTTOM + 1, INK))
        .map_err(|e| e.to_string())?;

    // Time axis: a tick and a label at every third local hour.
    let span = (series.bucket_secs * n as u64) as i64;
    if span > 0 {
        let end = series.start + Duration::seconds(span);
        let first = series.start.with_minute(0).and_then(|t| t.with_second(0));
        let mut t = first.unwrap_or(series.start) + Duration::hours(1);
        while t < end {
            let x = x_of(t, series.start, span);
            // Every third local hour (whole hours: a half-hour zone gets no ticks), where its
            // label fits inside the picture.
            let local = t.with_timezone(&loc.zone);
            if local.minute() == 0 && local.hour().is_multiple_of(3) && x + 18 <= RIGHT {
                root.draw(&rect(x, BOTTOM + 1, x + 1, BOTTOM + 5, INK))
                    .map_err(|e| e.to_string())?;
                root.draw(&Text::new(
                    loc.clock(t),
                    (x as i32, X_LABELS_Y),
                    style.clone().pos(Pos::new(HPos::Center, VPos::Top)),
                ))
                .map_err(|e| e.to_string())?;
            }
            t += Duration::hours(1);
        }
    }
    root.draw(&Text::new(
        labels.x_title.clone(),
        (((LEFT + RIGHT) / 2) as i32, X_TITLE_Y),
        style.clone().pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(|e| e.to_string())?;

    // The usual level and the bar, over the bars.
    let baseline = (alert.baseline.is_finite() && alert.baseline > 0.0).then_some(alert.baseline);
    let bar = (alert.bar.is_finite() && alert.bar > 0.0).then_some(alert.bar);
    if let Some(b) = baseline {
        let y = row(b, ymax);
        root.draw(&rect(LEFT, y.saturating_sub(1), RIGHT, y + 1, BASELINE))
            .map_err(|e| e.to_string())?;
    }
    if let Some(b) = bar {
        let y = row(b, ymax);
        dashes(&root, LEFT, RIGHT, y, &rect)?;
    }

    // The legend, left to right: current window, usual level, bar.
    let mut x = LEFT as i32;
    let mut item = |label: &str, swatch: &dyn Fn(u32) -> Result<(), String>| {
        swatch(x as u32)?;
        root.draw(&Text::new(
            label.to_string(),
            (x + 22, LEGEND_Y),
            style.clone(),
        ))
        .map_err(|e| e.to_string())?;
        let (w, _) = root
            .estimate_text_size(label, &style)
            .map_err(|e| e.to_string())?;
        x += 22 + w as i32 + 18;
        Ok::<(), String>(())
    };
    // The legend's swatches are centred on its text's x-height.
    let mid = (LEGEND_Y + 4) as u32;
    item(&labels.current, &|x| {
        root.draw(&rect(x, mid - 6, x + 14, mid + 6, HIGHLIGHT))
            .map_err(|e| e.to_string())?;
        Ok(())
    })?;
    if baseline.is_some() {
        item(&labels.usual, &|x| {
            root.draw(&rect(x, mid - 1, x + 16, mid + 1, BASELINE))
                .map_err(|e| e.to_string())?;
            Ok(())
        })?;
    }
    if bar.is_some() {
        item(&labels.bar, &|x| dashes(&root, x, x + 16, mid, &rect))?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// A dashed red line, 2 pixels thick, ending on row `y`.
fn dashes<DB, R>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    from: u32,
    to: u32,
    y: u32,
    rect: &R,
) -> Result<(), String>
where
    DB: DrawingBackend,
    R: Fn(u32, u32, u32, u32, Rgb) -> Rectangle<(i32, i32)>,
{
    let mut x = from;
    while x < to {
        root.draw(&rect(
            x,
            y.saturating_sub(1),
            (x + 6).min(to),
            y + 1,
            THRESHOLD,
        ))
        .map_err(|e| e.to_string())
        .map_err(|e| e.to_string())?;
        x += 10;
    }
    Ok(())
}

/// The column of time `t` on an axis of `span` seconds from `start`.
fn x_of(t: DateTime<Utc>, start: DateTime<Utc>, span: i64) -> u32 {
    let f = (t - start).num_seconds() as f64 / span as f64;
    LEFT + (f * f64::from(RIGHT - LEFT)).round() as u32
}

/// Encodes an RGB8 buffer of `WIDTH` × `HEIGHT` pixels.
fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    // Writing to a Vec of a buffer of the declared size cannot fail.
    let mut writer = encoder.write_header().expect("png header into a Vec");
    writer.write_image_data(data).expect("png data into a Vec");
    writer.finish().expect("png end into a Vec");
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::detect::Series;

    fn alert(counts: Vec<u64>, bucket_secs: u64, baseline: f64, bar: f64) -> Alert {
        let fired_at = Utc.with_ymd_and_hms(2026, 3, 29, 9, 0, 0).unwrap();
        Alert {
            id: 1,
            rule: "r".into(),
            kind: AlertKind::Spike,
            fired_at,
            window_secs: bucket_secs,
            count: counts.last().copied().unwrap_or(0),
            baseline,
            bar,
            reason: String::new(),
            posts: Vec::new(),
            series: Series {
                start: fired_at - Duration::seconds((bucket_secs * counts.len() as u64) as i64),
                bucket_secs,
                counts,
            },
            source_state: None,
            error: None,
            case: None,
        }
    }

    #[test]
    fn scales_are_round_and_hold_the_top() {
        assert_eq!(scale(0.0), (1.0, 1.0));
        assert_eq!(scale(4.4), (5.0, 1.0));
        assert_eq!(scale(6.6), (8.0, 2.0));
        assert_eq!(scale(41.8), (50.0, 10.0));
        assert_eq!(scale(f64::NAN), (1.0, 1.0));
    }

    #[test]
    fn odd_series_and_values_draw_without_panicking() {
        let loc = Locale::default();
        let paris = Locale::new(crate::config::Language::French, chrono_tz::Europe::Paris);
        let cases = [
            alert(
                (0..2000).map(|i| i % 7).collect(),
                43,
                f64::NAN,
                f64::INFINITY,
            ),
            alert(vec![0, 0, 0], 900, -1.0, 0.0),
            alert(vec![u64::MAX / 2, 1], 3600, 1e300, 5.0),
            alert(vec![5], 86_400, 0.0, 5.0),
        ];
        for a in &cases {
            for l in [&loc, &paris] {
                let png = png(a, l);
                assert!(png.starts_with(b"\x89PNG"), "{}", png.len());
            }
        }
    }
}
