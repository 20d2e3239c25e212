//! The keys of each source and notifier kind (SPEC §3): one table, so that validation, error
//! messages ("`instance` is not a key of kind `rss`") and suggestions agree.
//!
//! Adding a kind means one row here, one variant in `validate`, and the module that implements
//! it (`source::build` / `notify::build`).

/// Keys every source takes.
pub const SOURCE_COMMON: &[&str] = &["name", "kind", "every", "max_bytes"];

/// Keys every notifier takes.
pub const NOTIFIER_COMMON: &[&str] = &["name", "kind"];

/// One kind: its name, required keys, optional keys, and which keys hold secrets.
pub struct Kind {
    /// As written in `kind = "…"`.
    pub name: &'static str,
    /// Keys that must be present.
    pub required: &'static [&'static str],
    /// Keys that may be present.
    pub optional: &'static [&'static str],
    /// Keys whose values are secrets (also accepted as `<key>_file`; the first one also as
    /// `credential`).
    pub secrets: &'static [&'static str],
}

impl Kind {
    /// Every key this kind accepts, besides the common ones.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        let files = self.secrets.iter().map(|s| format!("{s}_file"));
        let cred = self.secrets.first().map(|_| "credential".to_string());
        self.required
            .iter()
            .chain(self.optional)
            .map(|k| k.to_string())
            .chain(files)
            .chain(cred)
    }
}

/// Source kinds.
pub const SOURCES: &[Kind] = &[
    Kind {
        name: "rss",
        required: &["url"],
        optional: &[],
        secrets: &[],
    },
    Kind {
        name: "jsonl",
        required: &["path"],
        optional: &[],
        secrets: &[],
    },
    Kind {
        name: "mastodon",
        required: &["instance"],
        optional: &["hashtags", "timeline", "token"],
        secrets: &["token"],
    },
    Kind {
        name: "bluesky",
        required: &["mode"],
        optional: &[
            "service",
            "query",
            "lang",
            "identifier",
            "app_password",
            "endpoint",
            "langs",
        ],
        secrets: &["app_password"],
    },
    Kind {
        name: "reddit",
        required: &["subreddits"],
        optional: &["query", "client_id", "client_secret", "base_url"],
        secrets: &["client_secret"],
    },
    Kind {
        name: "hackernews",
        required: &["query"],
        optional: &["tags", "base_url"],
        secrets: &[],
    },
    Kind {
        name: "discourse",
        required: &["url"],
        optional: &["mode", "query", "api_key", "api_username"],
        secrets: &["api_key"],
    },
    Kind {
        name: "x",
        required: &["query", "bearer_token", "max_posts_per_day"],
        optional: &["max_results", "base_url"],
        secrets: &["bearer_token"],
    },
    Kind {
        name: "facebook",
        required: &["page_id", "access_token"],
        optional: &["base_url"],
        secrets: &["access_token"],
    },
    Kind {
        name: "json",
        required: &["url", "items", "fields"],
        optional: &["time_format", "next", "headers"],
        secrets: &[],
    },
    Kind {
        name: "html",
        required: &["url", "item", "select"],
        optional: &[],
        secrets: &[],
    },
];

/// Notifier kinds.
pub const NOTIFIERS: &[Kind] = &[
    Kind {
        name: "email",
        required: &["smtp_url", "from", "to"],
        optional: &["username", "password"],
        secrets: &["password"],
    },
    Kind {
        name: "webhook",
        required: &["url"],
        optional: &["secret", "headers"],
        secrets: &["secret", "url"],
    },
    Kind {
        name: "slack",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
    },
    Kind {
        name: "mattermost",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
    },
    Kind {
        name: "teams",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
    },
    Kind {
        name: "discord",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
    },
    Kind {
        name: "console",
        required: &[],
        optional: &[],
        secrets: &[],
    },
];

/// Keys whose values may be written in clear although they are secrets (webhook URLs hold
/// their token in the path; they are still kept as secrets so they never print).
pub const CLEAR_OK: &[&str] = &["url"];
