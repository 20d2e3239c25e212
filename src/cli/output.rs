//! Table, JSON-lines and CSV writers for the query commands, and the sparkline for `stats`.
//!
//! Rows are lists of JSON values under named columns, so one writer serves every command:
//! `table` aligns columns for people (long text cut, control characters replaced), `json` is one
//! object per row, `csv` is RFC 4180. Commands decide what the columns are; this module only
//! lays them out.

use std::io::{self, IsTerminal, Write};

use clap::ValueEnum;
use serde_json::Value;

/// Output format of the query commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (the default on a terminal).
    Table,
    /// JSON lines: one object per row (the default when piped).
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

/// Most characters of one table cell.
const MAX_CELL: usize = 60;

fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table_cell(v: &Value) -> String {
    let s: String = plain(v)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > MAX_CELL {
        let cut: String = s.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn csv_cell(v: &Value) -> String {
    let s = plain(v);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Writes `rows` under `columns` in `format`.
pub fn write(
    out: &mut impl Write,
    format: Format,
    columns: &[&str],
    rows: &[Vec<Value>],
) -> io::Result<()> {
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
            writeln!(out, "{}", columns.join(","))?;
            for row in rows {
                let cells: Vec<String> = row.iter().map(csv_cell).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.iter().map(table_cell).collect())
                .collect();
            let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
            for row in &cells {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |out: &mut dyn Write, row: &[String]| -> io::Result<()> {
                let n = row.len();
                for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                    if i + 1 == n {
                        write!(out, "{c}")?;
                    } else {
                        let pad = w - c.chars().count();
                        write!(out, "{c}{}  ", " ".repeat(pad))?;
                    }
                }
                writeln!(out)
            };
            let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
            line(out, &header)?;
            for row in &cells {
                line(out, row)?;
            }
        }
    }
    Ok(())
}

/// A stored time (RFC 3339 UTC) as a table shows it: unchanged in UTC, else in `zone` with the
/// zone's abbreviation (`2026-10-25 09:05:00 CET`). JSON and CSV keep the stored form.
pub fn table_time(stored: &str, zone: chrono_tz::Tz) -> String {
    if zone == chrono_tz::UTC {
        return stored.to_string();
    }
    match chrono::DateTime::parse_from_rfc3339(stored) {
        Ok(t) => t
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        Err(_) => stored.to_string(),
    }
}

/// The zone of table times: `[daemon] timezone`, or UTC with `--utc`.
pub fn table_zone(config: &crate::config::Config, utc: bool) -> chrono_tz::Tz {
    if utc {
        chrono_tz::UTC
    } else {
        config.daemon.timezone
    }
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
            "ID  TEXT            AUTHOR\n1   colis, \"perdu\"  \n22  ligne suivante  @a\n"
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
    fn sparklines() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8]), "▁▂▃▅█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }
}
