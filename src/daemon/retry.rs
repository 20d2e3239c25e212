//! The retry policy, in one place: how a failure is classified and how long to wait after it.
//!
//! This module owns the *decisions*: which HTTP statuses and transport errors are worth retrying
//! ([`classify_status`], [`classify_reqwest`]), the backoff after `n` failures ([`Backoff`], full
//! jitter) and the jitter on a healthy interval ([`jittered`]). It never sleeps: its two callers,
//! the scheduler (sources) and the dispatcher (deliveries), turn these durations into timestamps
//! stored in the database. Randomness and time are arguments so that every rule is a table test;
//! [`rand01`] is the one place that draws a random number for production callers.
//!
//! Messages produced here name the cause only (`HTTP 503`, `connection refused`); the caller,
//! which knows the (redacted) URL, adds where it happened. Unlike alertmanager, 429 is retried:
//! a rate limit is a request to come back later, not a refusal.

use std::cell::Cell;
use std::error::Error as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::source::SourceError;

/// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter").
///
/// Full jitter rather than "equal" or "decorrelated" jitter: it spreads retries of many sources
/// that failed together (one host down) the most, and the mean wait is still half the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling after the first failure; it doubles with each further failure.
    pub base: Duration,
    /// The ceiling never grows past this.
    pub cap: Duration,
}

impl Backoff {
    /// The wait after `failures` consecutive failures (0 = the first one): uniform in
    /// `[0, min(cap, base * 2^failures)]`, where `rand01` in `[0, 1]` picks the point.
    pub fn delay(&self, failures: u32, rand01: f64) -> Duration {
        let ceiling = 2u32
            .checked_pow(failures)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.cap, |d| d.min(self.cap));
        ceiling.mul_f64(unit(rand01))
    }
}

/// `every` with ±10 % jitter, so that sources configured with the same interval drift apart
/// instead of polling (and hitting a shared host) in lockstep. `rand01` in `[0, 1]`.
pub fn jittered(every: Duration, rand01: f64) -> Duration {
    every.mul_f64(0.9 + 0.2 * unit(rand01))
}

/// Clamps a random draw into `[0, 1]`; NaN counts as 1 so that a bad draw never panics in
/// `Duration::mul_f64` and never turns into a zero wait (a tight retry loop).
fn unit(rand01: f64) -> f64 {
    if rand01.is_nan() {
        1.0
    } else {
        rand01.clamp(0.0, 1.0)
    }
}

thread_local! {
    /// xorshift64* state, seeded lazily per thread from the clock and the thread's stack address.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A uniform draw in `[0, 1)` from a fast thread-local xorshift64* generator seeded from the
/// clock. Good enough to spread retries; not for anything that needs unpredictability.
pub fn rand01() -> f64 {
    RNG.with(|state| {
        let mut x = state.get();
        if x == 0 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let local = 0u8;
            // Threads seeded in the same nanosecond still differ by their stack address.
            x = (nanos ^ (&local as *const u8 as u64).rotate_left(32)) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// Classifies an HTTP status: `None` for success (2xx) and `304 Not Modified`.
///
/// 429, and 503 when the server says when to come back, are [`SourceError::RateLimited`];
/// other 5xx and 408 are [`SourceError::Transient`]; other 4xx, and any other status a client
/// that follows redirects should not see, are [`SourceError::Permanent`].
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> Option<SourceError> {
    match status {
        200..=299 | 304 => None,
        429 => Some(SourceError::RateLimited { retry_after }),
        503 if retry_after.is_some() => Some(SourceError::RateLimited { retry_after }),
        408 | 500..=599 => Some(SourceError::Transient(format!("HTTP {status}"))),
        400..=499 => Some(SourceError::Permanent(format!("HTTP {status}"))),
        _ => Some(SourceError::Permanent(format!("unexpected HTTP {status}"))),
    }
}

/// Classifies a transport error from reqwest: timeouts, connection and body errors are
/// [`SourceError::Transient`]; too many redirects and unbuildable requests (a bad URL) are
/// [`SourceError::Permanent`].
///
/// The message is built from the error's causes, never from its own `Display`, which embeds the
/// request URL and so possibly a token in its query string.
pub fn classify_reqwest(e: &reqwest::Error) -> SourceError {
    let refused = causes(e).any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    if e.is_timeout() {
        SourceError::Transient(
            if e.is_connect() {
                "connect timed out"
            } else {
                "timed out"
            }
            .into(),
        )
    } else if refused {
        SourceError::Transient("connection refused".into())
    } else if e.is_redirect() {
        SourceError::Permanent("too many redirects".into())
    } else if e.is_builder() {
        SourceError::Permanent(format!("invalid request: {}", root_cause(e)))
    } else if e.is_connect() {
        SourceError::Transient(format!("could not connect: {}", root_cause(e)))
    } else if e.is_body() || e.is_decode() {
        SourceError::Transient(format!("response body cut short: {}", root_cause(e)))
    } else {
        SourceError::Transient(format!("request failed: {}", root_cause(e)))
    }
}

/// The chain of causes below `e` (not `e` itself, whose `Display` holds the URL).
fn causes(e: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |&c| c.source())
}

/// The innermost cause, lowercased at its first letter to fit in a lowercase message.
fn root_cause(e: &reqwest::Error) -> String {
    let text = causes(e)
        .last()
        .map_or_else(|| "unknown error".into(), |c| c.to_string());
    let mut chars = text.chars();
    chars.next().map_or(text.clone(), |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_delay_is_full_jitter_under_a_doubling_capped_ceiling() {
        let b = Backoff {
            base: S(10),
            cap: S(300),
        };
        // (failures, rand01, expected)
        let table = [
            (0, 0.0, S(0)),
            (0, 1.0, S(10)),
            (0, 0.5, S(5)),
            (1, 1.0, S(20)),
            (3, 1.0, S(80)),
            (3, 0.25, S(20)),
            (5, 1.0, S(300)), // 320 capped
            (31, 1.0, S(300)),
            (32, 1.0, S(300)), // 2^32 overflows u32
            (u32::MAX, 0.5, S(150)),
            (2, -3.0, S(0)),      // clamped
            (2, 7.0, S(40)),      // clamped
            (2, f64::NAN, S(40)), // NaN waits the ceiling, never 0
        ];
        for (failures, r, want) in table {
            assert_eq!(b.delay(failures, r), want, "failures={failures} r={r}");
        }
    }

    #[test]
    fn backoff_delay_survives_a_huge_base() {
        let b = Backoff {
            base: Duration::MAX,
            cap: S(60),
        };
        assert_eq!(b.delay(3, 1.0), S(60));
    }

    #[test]
    fn jittered_stays_within_ten_percent() {
        let table = [
            (0.0, 90),
            (0.5, 100),
            (1.0, 110),
            (f64::NAN, 110),
            (2.0, 110),
        ];
        for (r, want) in table {
            assert_eq!(jittered(S(100), r), S(want), "r={r}");
        }
    }

    #[test]
    fn rand01_is_in_unit_interval_and_varies() {
        let draws: Vec<f64> = (0..1000).map(|_| rand01()).collect();
        assert!(draws.iter().all(|r| (0.0..1.0).contains(r)));
        let low = draws.iter().filter(|&&r| r < 0.5).count();
        assert!((300..700).contains(&low), "{low} of 1000 draws below 0.5");
    }

    #[test]
    fn classify_status_table() {
        let ra = Some(S(7));
        let rate = |retry_after| Some(SourceError::RateLimited { retry_after });
        let transient = |m: &str| Some(SourceError::Transient(m.into()));
        let permanent = |m: &str| Some(SourceError::Permanent(m.into()));
        let table = [
            (200, None, None),
            (204, None, None),
            (304, None, None),
            (429, ra, rate(ra)),
            (429, None, rate(None)),
            (503, ra, rate(ra)),
            (503, None, transient("HTTP 503")),
            (500, ra, transient("HTTP 500")),
            (502, None, transient("HTTP 502")),
            (408, None, transient("HTTP 408")),
            (400, None, permanent("HTTP 400")),
            (401, None, permanent("HTTP 401")),
            (404, None, permanent("HTTP 404")),
            (410, None, permanent("HTTP 410")),
            (302, None, permanent("unexpected HTTP 302")),
            (101, None, permanent("unexpected HTTP 101")),
        ];
        for (status, retry_after, want) in table {
            assert_eq!(
                classify_status(status, retry_after),
                want,
                "status={status}"
            );
        }
    }
}
