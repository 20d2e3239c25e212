//! Table, JSON-lines and CSV writers for the query commands, and the sparkline for `stats`.
//!
//! Rows are lists of JSON values under named columns, so one writer serves every command:
//! `table` aligns columns for people by display width (wide CJK characters count two,
//! combining accents none; control characters replaced) and, on a terminal, cuts the last
//! column (the text) with `…` to the terminal's width; `json` is one object per row, `csv` is
//! RFC 4180. Commands decide what the columns are and put the long one last; this module only
//! lays them out. Times people read are shown in the local time zone, named in the header.

use std::io::{self, IsTerminal, Write};

use chrono::DateTime;
use clap::ValueEnum;
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Output format of the query commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON lines: one object per row.
    Json,
    /// CSV with a header row.
    Csv,
}

impl Format {
    /// The given format, else `table` on a terminal and `json` otherwise.
    pub fn or_default(f: Option<Format>) -> Format {
        f.unwrap_or(if io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        })
    }
}

/// Fewest columns the last (text) column keeps when the table is cut to a terminal's width.
const MIN_LAST: usize = 12;

fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table_cell(v: &Value) -> String {
    plain(v)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `s` cut to at most `width` columns of display, ending with `…` when cut.
pub fn cut(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// The width a table must fit: the terminal's (`$COLUMNS` first, as shells set it) when
/// standard output is a terminal and `wide` is not asked for; `None` (no cut) otherwise.
pub fn fit_width(wide: bool) -> Option<usize> {
    if wide || !io::stdout().is_terminal() {
        return None;
    }
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    columns
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
        .filter(|&w| w > 0)
}

/// The zone table times are shown in, chosen once per command by [`set_zone`] (the local zone
/// if a command never chooses).
static ZONE: std::sync::OnceLock<chrono_tz::Tz> = std::sync::OnceLock::new();

/// Chooses the zone of table times: UTC with `--utc`, else `[daemon] timezone` when the config
/// writes one, else the local zone (`$TZ`, then `/etc/localtime`). JSON and CSV stay UTC.
pub fn set_zone(config: Option<&crate::config::Config>, utc: bool) {
    let configured = config.and_then(|c| c.daemon.timezone);
    let zone = if utc {
        chrono_tz::UTC
    } else {
        configured.unwrap_or_else(local_zone)
    };
    let _ = ZONE.set(zone);
}

fn zone() -> chrono_tz::Tz {
    *ZONE.get_or_init(local_zone)
}

/// The local zone, or UTC when it has no IANA name (a POSIX `TZ` rule such as `CET-1`).
fn local_zone() -> chrono_tz::Tz {
    local_zone_name()
        .and_then(|name| name.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

/// The name of the zone table times are in, for headers and messages (`Europe/Paris`).
pub fn zone_name() -> String {
    zone().name().to_string()
}

/// The local zone's IANA name: `$TZ`, else the zone `/etc/localtime` links to.
fn local_zone_name() -> Option<String> {
    let from_tz = std::env::var("TZ").ok().map(|tz| {
        let tz = tz.trim_start_matches(':').to_string();
        tz.rsplit_once("zoneinfo/")
            .map_or(tz.clone(), |(_, z)| z.to_string())
    });
    let from_link = || {
        let target = std::fs::read_link("/etc/localtime").ok()?;
        let target = target.to_str()?;
        Some(target.rsplit_once("zoneinfo/")?.1.to_string())
    };
    from_tz.filter(|z| !z.is_empty()).or_else(from_link)
}

/// A stored RFC 3339 time as people read it: in the tables' zone, to the minute
/// (`2026-11-22 10:14`). Anything else is shown as it is.
pub fn local_time(s: &str) -> String {
    DateTime::parse_from_rfc3339(s).map_or_else(
        |_| s.to_string(),
        |t| {
            t.with_timezone(&zone())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        },
    )
}

/// [`local_time`] with the zone's abbreviation (`2026-10-25 09:12 CET`), for a time shown apart
/// from a column header that names the zone: the abbreviation tells summer from winter time.
pub fn local_time_zoned(s: &str) -> String {
    DateTime::parse_from_rfc3339(s).map_or_else(
        |_| s.to_string(),
        |t| {
            t.with_timezone(&zone())
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    )
}

/// [`local_time`] as a table cell (null stays empty).
pub fn local_cell(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(local_time(s)))
}

/// A column header for times shown by [`local_time`]: `CREATED_AT (Europe/Paris)`.
pub fn time_column(name: &str) -> String {
    format!("{name} ({})", zone_name())
}

fn csv_cell(v: &Value) -> String {
    let s = plain(v);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Writes `rows` under `columns` in `format`, tables uncut.
pub fn write<S: AsRef<str>>(
    out: &mut impl Write,
    format: Format,
    columns: &[S],
    rows: &[Vec<Value>],
) -> io::Result<()> {
    write_fit(out, format, columns, rows, None)
}

/// Writes `rows` under `columns` in `format`; a table's last column is cut so that every line
/// fits `width` display columns (see [`fit_width`]).
pub fn write_fit<S: AsRef<str>>(
    out: &mut impl Write,
    format: Format,
    columns: &[S],
    rows: &[Vec<Value>],
    width: Option<usize>,
) -> io::Result<()> {
    write_part(out, format, columns, rows, width, true)
}

/// [`write_fit`], with or without the header (a table or CSV continued by `--follow`).
pub fn write_part<S: AsRef<str>>(
    out: &mut impl Write,
    format: Format,
    columns: &[S],
    rows: &[Vec<Value>],
    width: Option<usize>,
    header: bool,
) -> io::Result<()> {
    let columns: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
    match format {
        Format::Json => {
            for row in rows {
                let obj: serde_json::Map<String, Value> = columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.to_string(), v.clone()))
                    .collect();
                serde_json::to_writer(&mut *out, &obj)?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            if header {
                writeln!(out, "{}", columns.join(","))?;
            }
            for row in rows {
                let cells: Vec<String> = row.iter().map(csv_cell).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        Format::Table => {
            // `created_at (Europe/Paris)` → `CREATED_AT (Europe/Paris)`: a zone keeps its case.
            let head: Vec<String> = columns
                .iter()
                .map(|c| match c.split_once(" (") {
                    Some((name, rest)) => format!("{} ({rest}", name.to_uppercase()),
                    None => c.to_uppercase(),
                })
                .collect();
            let mut cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.iter().map(table_cell).collect())
                .collect();
            let mut widths: Vec<usize> = head.iter().map(|c| c.width()).collect();
            for row in &cells {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.width());
                }
            }
            if let (Some(width), Some((_, before))) = (width, widths.split_last()) {
                let used: usize = before.iter().map(|w| w + 2).sum();
                let room = width.saturating_sub(used).max(MIN_LAST);
                for row in &mut cells {
                    if let Some(last) = row.last_mut() {
                        *last = cut(last, room);
                    }
                }
            }
            let line = |out: &mut dyn Write, row: &[String]| -> io::Result<()> {
                let n = row.len();
                let mut text = String::new();
                for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                    text.push_str(c);
                    if i + 1 < n {
                        let pad = w.saturating_sub(c.width());
                        text.extend(std::iter::repeat_n(' ', pad + 2));
                    }
                }
                // Empty last cells leave no trailing blanks.
                writeln!(out, "{}", text.trim_end())
            };
            if header {
                line(out, &head)?;
            }
            for row in &cells {
                line(out, row)?;
            }
        }
    }
    Ok(())
}

/// A progress bar on stderr for long CLI work (`replay`, `match --input`), drawn only when
/// stderr is a terminal and `shown`; hidden otherwise, so pipes and logs get nothing. `unit`
/// is `posts` (a count) or `bytes` (a file read).
pub fn progress(len: u64, unit: &str, shown: bool) -> indicatif::ProgressBar {
    if !shown || !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let template = if unit == "bytes" {
        "{spinner} [{bar:30}] {bytes}/{total_bytes} read, {eta} left"
    } else {
        "{spinner} [{bar:30}] {pos}/{len} posts, {eta} left"
    };
    let style = indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    indicatif::ProgressBar::new(len).with_style(style)
}

/// A sparkline of counts: `▁▂▃▄▅▆▇█`, scaled to the largest.
pub fn sparkline(counts: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&c| {
            let level = (c * 7 + max / 2).checked_div(max).unwrap_or(0);
            BARS[level.min(7) as usize]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(f: Format) -> String {
        let rows = vec![
            vec![json!(1), json!("colis, \"perdu\""), Value::Null],
            vec![json!(22), json!("ligne\nsuivante"), json!("@a")],
        ];
        let mut out = Vec::new();
        write(&mut out, f, &["id", "text", "author"], &rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats() {
        assert_eq!(
            render(Format::Table),
            "ID  TEXT            AUTHOR\n1   colis, \"perdu\"\n22  ligne suivante  @a\n"
        );
        assert_eq!(
            render(Format::Csv),
            "id,text,author\n1,\"colis, \"\"perdu\"\"\",\n22,\"ligne\nsuivante\",@a\n"
        );
        assert_eq!(
            render(Format::Json),
            "{\"id\":1,\"text\":\"colis, \\\"perdu\\\"\",\"author\":null}\n{\"id\":22,\"text\":\"ligne\\nsuivante\",\"author\":\"@a\"}\n"
        );
    }

    #[test]
    fn tables_align_by_display_width_and_cut_the_last_column() {
        let rows = vec![
            vec![
                json!("@東京駅"),
                json!("un texte assez long pour être coupé"),
            ],
            // A decomposed é: two chars, one column.
            vec![json!("@e\u{301}ric"), json!("court")],
        ];
        let mut out = Vec::new();
        write_fit(
            &mut out,
            Format::Table,
            &["author", "text"],
            &rows,
            Some(24),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "AUTHOR   TEXT\n@東京駅  un texte assez…\n@e\u{301}ric    court\n"
        );
        assert_eq!(cut("東京駅東京駅", 5), "東京…");
    }

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8]), "▁▂▃▅█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }
}
