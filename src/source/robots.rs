//! robots.txt for sources that read pages meant for people (`html`): fetched through the
//! [`Fetcher`], kept for a day, obeyed (RFC 9309).
//!
//! A site's robots.txt answers per URL: allowed, or disallowed (a permanent source error that
//! says so). As RFC 9309 asks: a robots.txt that does not exist (any 4xx) allows everything; one
//! that cannot be read (5xx, network) disallows everything for now, so the poll fails as a
//! transient error and the file is asked again at the next poll; a 429 is the site's rate limit.
//! Rules are read for the product token [`AGENT`] (else `*`). The answer, and the site's
//! `Crawl-delay`, are kept for [`KEEP`]. Deciding when to poll again is the scheduler's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use texting_robots::Robot;

use super::fetch::{redact_url, FetchRequest, Fetched, Fetcher};
use super::{Cursor, SourceError};

/// The product token whose `User-agent:` group vigie obeys (else the `*` group).
pub const AGENT: &str = "vigie";

/// How long a robots.txt is kept before it is fetched again.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);

/// Most bytes of robots.txt read (RFC 9309 asks crawlers to parse at least 500 KiB).
const MAX_BYTES: u64 = 512 * 1024;

/// Longest `Crawl-delay` honoured: more would stop polling for good.
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The robots.txt of one site, as last read.
#[derive(Debug, Default)]
pub struct Robots {
    kept: Mutex<Option<(Instant, Arc<Rules>)>>,
}

/// What a robots.txt says: `None` rules means everything is allowed.
#[derive(Debug)]
struct Rules {
    robot: Option<Robot>,
}

impl Robots {
    /// Whether `url` may be fetched: `Ok` with the site's crawl delay, or the error to show.
    pub async fn check(&self, fetch: &Fetcher, url: &str) -> Result<Option<Duration>, SourceError> {
        let rules = match self.fresh(Instant::now()) {
            Some(rules) => rules,
            None => {
                let rules = Arc::new(read(fetch, url).await?);
                *self.kept.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), Arc::clone(&rules)));
                rules
            }
        };
        let Some(robot) = &rules.robot else {
            return Ok(None);
        };
        if !robot.allowed(url) {
            return Err(SourceError::Permanent(format!(
                "robots.txt disallows {} for {AGENT}: not polled (the site asks robots to stay away)",
                redact_url(url)
            )));
        }
        Ok(robot
            .delay
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(|d| Duration::from_secs_f32(d.min(MAX_DELAY.as_secs_f32()))))
    }

    /// The kept rules, if read less than [`KEEP`] before `now`.
    fn fresh(&self, now: Instant) -> Option<Arc<Rules>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|(at, _)| now.duration_since(*at) < KEEP)
            .map(|(_, rules)| Arc::clone(rules))
    }
}

/// Fetches and reads the robots.txt of `url`'s site.
async fn read(fetch: &Fetcher, url: &str) -> Result<Rules, SourceError> {
    let robots_url = texting_robots::get_robots_url(url)
        .map_err(|e| SourceError::Permanent(format!("invalid URL {}: {e}", redact_url(url))))?;
    let cursor = Cursor::default();
    let req = FetchRequest::get(&robots_url, &cursor, MAX_BYTES).keeping_client_errors();
    let body = match fetch.get(&req).await {
        Ok(Fetched::Body(body)) => body,
        // Nothing was sent with validators: a 304 is the server's oddity; read it as no file.
        Ok(Fetched::NotModified) => return Ok(Rules { robot: None }),
        Err(e @ SourceError::RateLimited { .. }) => return Err(e),
        Err(SourceError::Transient(m) | SourceError::Permanent(m)) => {
            return Err(SourceError::Transient(format!(
                "robots.txt cannot be read, so the page is not polled yet: {m}"
            )))
        }
    };
    if !body.is_success() {
        // 4xx: no robots.txt, everything allowed (RFC 9309 §2.3.1.3).
        return Ok(Rules { robot: None });
    }
    // A file the parser cannot read is treated as none, as crawlers do.
    Ok(Rules {
        robot: Robot::new(AGENT, &body.bytes).ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_kept_for_a_day() {
        let robots = Robots::default();
        let t0 = Instant::now();
        assert!(robots.fresh(t0).is_none());
        *robots.kept.lock().unwrap() = Some((t0, Arc::new(Rules { robot: None })));
        assert!(robots.fresh(t0 + Duration::from_secs(3600)).is_some());
        assert!(robots.fresh(t0 + KEEP).is_none());
    }

    #[test]
    fn the_vigie_group_wins_over_the_star_group() {
        let txt = b"User-agent: *\nDisallow: /\n\nUser-agent: vigie\nDisallow: /avis/prive\nCrawl-delay: 10\n";
        let robot = Robot::new(AGENT, txt).unwrap();
        assert!(robot.allowed("https://avis.example.fr/avis/posteo"));
        assert!(!robot.allowed("https://avis.example.fr/avis/prive/1"));
        assert_eq!(robot.delay, Some(10.0));
    }
}
