//! placeholder: being written (the HTTP fetcher for sources).

/// The HTTP client for sources.
#[derive(Debug, Default)]
pub struct Fetcher;
