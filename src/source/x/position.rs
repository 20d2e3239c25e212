//! The `x` source's position: where the search stands and what it has spent today.
//!
//! Stored as JSON in the cursor's `position`, so the store writes it in the same transaction as
//! the posts it covers: `since_id` and the scan in progress move with the stored posts, and the
//! count of posts read (billed) on the current UTC day neither forgets a spend after a restart
//! nor counts posts that were never stored. Time is an argument (`today`), so the day rolls over
//! in tests as it does at midnight.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::source::Cursor;

/// Where the search stands, stored as JSON in the cursor's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The newest post id of the last finished scan: the next scan reads only newer posts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_id: Option<String>,
    /// The page a scan in progress goes on from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The newest post id of the scan in progress, which becomes `since_id` when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_newest: Option<String>,
    /// The UTC day `read` counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// Posts read (billed) on `day`.
    #[serde(default)]
    pub read: u64,
}

impl Position {
    /// The position stored in `cursor`; a missing or unreadable one starts afresh.
    pub fn from_cursor(cursor: &Cursor) -> Position {
        cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default()
    }

    /// Posts that may still be read on `today` under `cap`.
    pub fn left(&self, today: NaiveDate, cap: u64) -> u64 {
        if self.day == Some(today) {
            cap.saturating_sub(self.read)
        } else {
            cap
        }
    }

    /// Counts `n` posts read on `today` (a new day starts from zero).
    pub(super) fn count(&mut self, today: NaiveDate, n: u64) {
        if self.day != Some(today) {
            self.day = Some(today);
            self.read = 0;
        }
        self.read = self.read.saturating_add(n);
    }

    pub(super) fn to_cursor(&self) -> Cursor {
        Cursor {
            position: serde_json::to_string(self).ok(),
            ..Cursor::default()
        }
    }
}

/// When a source capped on `day` may read again: the next UTC midnight.
pub fn resumes_at(day: NaiveDate) -> DateTime<Utc> {
    day.succ_opt()
        .unwrap_or(day)
        .and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_per_utc_day() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let mut pos = Position::default();
        assert_eq!(pos.left(day(6), 100), 100);
        pos.count(day(6), 60);
        pos.count(day(6), 35);
        assert_eq!(pos.left(day(6), 100), 5);
        assert_eq!(pos.left(day(7), 100), 100, "a new UTC day starts afresh");
        pos.count(day(7), 10);
        assert_eq!((pos.day, pos.read), (Some(day(7)), 10));
        assert_eq!(resumes_at(day(6)).to_rfc3339(), "2026-12-07T00:00:00+00:00");
    }

    #[test]
    fn the_position_survives_its_json_and_a_bad_one_starts_afresh() {
        let pos = Position {
            since_id: Some("1".into()),
            next_token: Some("t".into()),
            scan_newest: Some("9".into()),
            day: NaiveDate::from_ymd_opt(2026, 12, 6),
            read: 42,
        };
        assert_eq!(Position::from_cursor(&pos.to_cursor()), pos);
        let bad = Cursor {
            position: Some("not json".into()),
            ..Cursor::default()
        };
        assert_eq!(Position::from_cursor(&bad), Position::default());
    }
}
