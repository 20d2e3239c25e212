//! The retry policy, in one place: how long to wait after a failure.
//!
//! This module owns the *timing*: the backoff after `n` failures ([`Backoff`], full jitter) and
//! the jitter on a healthy interval ([`jittered`]). Which failures are worth retrying is decided
//! once, below the daemon, beside the HTTP client (`source::fetch::classify`), and arrives here
//! as a [`SourceError`](crate::source::SourceError) or a `DeliveryError`. It never sleeps: its
//! two callers, the scheduler (sources) and the dispatcher (deliveries), turn these durations
//! into timestamps stored in the database. Randomness and time are arguments so that every rule
//! is a table test; [`rand01`] is the one place that draws a random number for the daemon.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}
