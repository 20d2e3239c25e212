//! Failures reading the brand's own posts (`[daemon] brand_accounts`, SPEC §5.1). That read is
//! an extra request beside a source's main poll: when it fails, the poll keeps its posts, the
//! account's position stays where it was, and the failure is logged when it changes (and its
//! end once), never as the poll's failure.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::SourceError;

/// The last failure of each brand account of one source.
#[derive(Debug, Default)]
pub struct BrandErrors(Mutex<BTreeMap<String, String>>);

impl BrandErrors {
    /// What reading `account`'s posts gave, if it worked; logs a failure when it is new or
    /// different, and the recovery once.
    pub fn outcome<T>(
        &self,
        source: &str,
        account: &str,
        read: Result<T, SourceError>,
    ) -> Option<T> {
        let mut errors = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match read {
            Ok(v) => {
                if errors.remove(account).is_some() {
                    tracing::info!(source = %source, account = %account, "Reading the brand account's posts works again.");
                }
                Some(v)
            }
            Err(e) => {
                let e = e.to_string();
                if errors.get(account) != Some(&e) {
                    tracing::warn!(source = %source, account = %account, error = %e, "Reading the brand account's posts failed; the poll's other posts are kept.");
                    errors.insert(account.to_string(), e);
                }
                None
            }
        }
    }

    /// [`BrandErrors::outcome`] of one account's read on a rate-limited service, where a read
    /// gives `Ok(Some(wait))` when the limit ran out after it: that wait goes into `wait` and
    /// the answer is true (read no more accounts this poll). A `RateLimited` error leaves its
    /// retry time in `wait`, and the next accounts are still tried.
    pub fn with_wait(
        &self,
        source: &str,
        account: &str,
        read: Result<Option<Duration>, SourceError>,
        wait: &mut Option<Duration>,
    ) -> bool {
        if let Err(SourceError::RateLimited { retry_after }) = &read {
            *wait = *retry_after;
        }
        match self.outcome(source, account, read) {
            Some(Some(w)) => {
                *wait = Some(w);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_keeps_its_own_last_error() {
        let errors = BrandErrors::default();
        let fail = |m: &str| Err::<u8, _>(SourceError::Transient(m.into()));
        assert_eq!(errors.outcome("s", "a", fail("HTTP 503")), None);
        assert_eq!(errors.outcome("s", "b", Ok(1)), Some(1));
        assert_eq!(errors.outcome("s", "a", fail("HTTP 503")), None);
        assert_eq!(errors.0.lock().unwrap().len(), 1);
        assert_eq!(errors.outcome("s", "a", Ok(2)), Some(2));
        assert!(errors.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_limit_that_ran_out_stops_the_accounts_a_429_only_waits() {
        let errors = BrandErrors::default();
        let secs = |n| Some(Duration::from_secs(n));
        let mut wait = None;
        assert!(!errors.with_wait("s", "a", Ok(None), &mut wait));
        assert_eq!(wait, None);
        let limited = Err(SourceError::RateLimited {
            retry_after: secs(30),
        });
        assert!(!errors.with_wait("s", "b", limited, &mut wait));
        assert_eq!(wait, secs(30));
        assert!(errors.with_wait("s", "c", Ok(secs(60)), &mut wait));
        assert_eq!(wait, secs(60));
    }
}
