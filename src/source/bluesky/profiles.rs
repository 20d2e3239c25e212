//! Bluesky profiles for the posts that hit a rule: handle, display name and followers.
//!
//! Jetstream events name their author by DID only, and search results have no follower count,
//! yet alerts want `@handle`, a name and followers (`min_followers`, most-followed first). So
//! after matching, the daemon hands the posts that hit a rule to [`Profiles::enrich`], which
//! asks the public AppView's `app.bsky.actor.getProfiles` (no account needed, 25 actors a
//! request) for the DIDs it does not know yet and keeps the answers in a bounded cache. A
//! failed lookup leaves the posts as they are (logged when the error changes): a post is never
//! lost for want of a profile. Parsing is pure ([`parse_profiles`]). The same lookup turns the
//! brand accounts' handles into the DIDs Jetstream names authors by ([`BrandDids`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::secret::Secret;
use crate::post::Post;
use crate::source::fetch::{FetchRequest, Fetched, Fetcher};
use crate::source::{Cursor, SourceError};

/// Actors one `getProfiles` request takes (the lexicon's `maxLength`).
const ACTORS_PER_REQUEST: usize = 25;

/// Profiles kept; the cache starts over when full (authors who post about a brand repeat).
const CACHE_SIZE: usize = 10_000;

/// What vigie keeps of a `profileViewDetailed`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The account's DID.
    pub did: String,
    /// Its handle, without `@` (`alice.bsky.social`).
    pub handle: String,
    /// Its display name, if set.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its follower count.
    #[serde(default)]
    pub followers_count: Option<u64>,
}

#[derive(Deserialize)]
struct Answer {
    profiles: Vec<Profile>,
}

/// Parses a `getProfiles` answer.
pub fn parse_profiles(body: &[u8]) -> Result<Vec<Profile>, SourceError> {
    serde_json::from_slice::<Answer>(body)
        .map(|p| p.profiles)
        .map_err(|e| SourceError::Permanent(format!("malformed getProfiles answer: {e}")))
}

/// The DID in a post's at-URI id.
fn did_of(post: &Post) -> Option<&str> {
    let rest = post.id.as_deref()?.strip_prefix("at://")?;
    rest.split('/').next().filter(|d| d.starts_with("did:"))
}

/// Fills `author`, `author_name` and `followers` from `profile`.
pub fn apply(post: &mut Post, profile: &Profile) {
    post.author = Some(format!("@{}", profile.handle));
    if profile
        .display_name
        .as_deref()
        .is_some_and(|n| !n.trim().is_empty())
    {
        post.author_name = profile.display_name.clone();
    }
    post.followers = profile.followers_count.or(post.followers);
}

/// The profile lookups of one source.
pub struct Profiles {
    /// The AppView's base URL (`https://public.api.bsky.app`).
    service: String,
    max_bytes: u64,
    cache: Mutex<HashMap<String, Profile>>,
    /// The last lookup error, logged when it changes.
    last_error: Mutex<Option<String>>,
}

impl Profiles {
    /// Lookups against the AppView at `service`.
    pub fn new(service: String, max_bytes: u64) -> Profiles {
        Profiles {
            service: service.trim_end_matches('/').to_string(),
            max_bytes,
            cache: Mutex::new(HashMap::new()),
            last_error: Mutex::new(None),
        }
    }

    /// Fills the profile fields of `posts`, asking only for DIDs not in the cache.
    /// `bearer` is the session's access token when the service wants one (a PDS proxying
    /// to the AppView); the public AppView needs none.
    pub async fn enrich(
        &self,
        source: &str,
        fetch: &Fetcher,
        bearer: Option<&Secret>,
        posts: &mut [&mut Post],
    ) {
        let mut missing: Vec<String> = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            posts
                .iter()
                .filter_map(|p| did_of(p))
                .filter(|d| !cache.contains_key(*d))
                .map(str::to_string)
                .collect()
        };
        missing.sort();
        missing.dedup();
        let mut error = None;
        for chunk in missing.chunks(ACTORS_PER_REQUEST) {
            match self.lookup(fetch, bearer, chunk).await {
                Ok(found) => {
                    let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                    if cache.len() + found.len() > CACHE_SIZE {
                        cache.clear();
                    }
                    cache.extend(found.into_iter().map(|p| (p.did.clone(), p)));
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        if *last != error {
            match &error {
                Some(e) => {
                    tracing::warn!(source = %source, error = %e, "Profile lookup failed; posts keep their DID.")
                }
                None if last.is_some() => {
                    tracing::info!(source = %source, "Profile lookups work again.")
                }
                None => {}
            }
            *last = error;
        }
        drop(last);
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        for post in posts.iter_mut() {
            if let Some(profile) = did_of(post).and_then(|d| cache.get(d)).cloned() {
                apply(post, &profile);
            }
        }
    }

    /// The profiles of `actors` (handles or DIDs), asked without a cache: how Jetstream learns
    /// the brand accounts' DIDs from their handles.
    pub async fn resolve(
        &self,
        fetch: &Fetcher,
        actors: &[String],
    ) -> Result<Vec<Profile>, SourceError> {
        let mut found = Vec::new();
        for chunk in actors.chunks(ACTORS_PER_REQUEST) {
            found.extend(self.lookup(fetch, None, chunk).await?);
        }
        Ok(found)
    }

    async fn lookup(
        &self,
        fetch: &Fetcher,
        bearer: Option<&Secret>,
        dids: &[String],
    ) -> Result<Vec<Profile>, SourceError> {
        let mut url = url::Url::parse(&format!("{}/xrpc/app.bsky.actor.getProfiles", self.service))
            .map_err(|e| SourceError::Permanent(format!("invalid service URL: {e}")))?;
        for did in dids {
            url.query_pairs_mut().append_pair("actors", did);
        }
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        if let Some(token) = bearer {
            let value = format!("Bearer {}", token.expose());
            headers.push(("Authorization".to_string(), value));
        }
        let cursor = Cursor::default();
        let req = FetchRequest::get(url.as_str(), &cursor, self.max_bytes).with_headers(&headers);
        match fetch.get(&req).await? {
            Fetched::Body(body) => parse_profiles(&body.bytes),
            Fetched::NotModified => Ok(Vec::new()),
        }
    }
}

/// How long after a failed resolution of the brand accounts' handles it is tried again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(60);

/// The brand accounts of a Jetstream source: their handles and, once resolved, their DIDs.
/// Resolved once (the first poll), tried again at most every [`RESOLVE_EVERY`] while it fails,
/// the failure logged when it changes; until then the brand's posts get no special treatment.
#[derive(Debug, Default)]
pub struct BrandDids {
    /// Handles, without `@`.
    handles: Vec<String>,
    state: Mutex<Resolved>,
}

#[derive(Debug, Default)]
struct Resolved {
    /// DID → handle, once resolved.
    dids: Option<HashMap<String, String>>,
    /// When resolution was last tried, and its error.
    tried: Option<Instant>,
    error: Option<String>,
}

impl BrandDids {
    /// The accounts `handles`, as written in `brand_accounts`.
    pub fn new(handles: &[String]) -> BrandDids {
        BrandDids {
            handles: super::author::bluesky_handles(handles),
            state: Mutex::default(),
        }
    }

    /// DID → handle of the brand accounts, resolving them through `profiles` when due.
    pub async fn get(
        &self,
        source: &str,
        profiles: &Profiles,
        fetch: &Fetcher,
    ) -> HashMap<String, String> {
        {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(dids) = &state.dids {
                return dids.clone();
            }
            let due = state.tried.is_none_or(|t| t.elapsed() >= RESOLVE_EVERY);
            if self.handles.is_empty() || !due {
                return HashMap::new();
            }
        }
        let result = profiles.resolve(fetch, &self.handles).await;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.tried = Some(Instant::now());
        let error = match result {
            Ok(found) => {
                let dids: HashMap<String, String> =
                    found.into_iter().map(|p| (p.did, p.handle)).collect();
                if dids.len() < self.handles.len() {
                    tracing::warn!(
                        source = %source,
                        asked = self.handles.len(),
                        found = dids.len(),
                        "Some brand accounts have no Bluesky profile."
                    );
                }
                state.dids = Some(dids);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        if error.is_some() && error != state.error {
            tracing::warn!(
                source = %source,
                error = %error.as_deref().unwrap_or_default(),
                "Brand accounts not resolved; their posts are kept only in the wanted languages."
            );
        }
        state.error = error;
        state.dids.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fixture_and_fills_posts() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bluesky/getProfiles.json"
        ))
        .unwrap();
        let profiles = parse_profiles(&body).unwrap();
        assert_eq!(profiles.len(), 2);
        let mut post = Post {
            id: Some(format!("at://{}/app.bsky.feed.post/3abc", profiles[0].did)),
            author: Some(profiles[0].did.clone()),
            ..Post::default()
        };
        assert_eq!(did_of(&post), Some(profiles[0].did.as_str()));
        apply(&mut post, &profiles[0]);
        assert!(post.author.as_deref().unwrap().starts_with('@'));
        assert!(post.author_name.is_some());
        assert!(post.followers.is_some());
        assert!(parse_profiles(b"{\"profiles\":").is_err());
    }
}
