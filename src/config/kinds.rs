//! The keys of each source and notifier kind (SPEC §3): one table, so that validation, error
//! messages ("`instance` is not a key of kind `rss`") and suggestions agree.
//!
//! Adding a kind means one row here (with the function in `values` that checks its keys' values),
//! one variant in `validate`, and the module that implements it (`source::build` /
//! `notify::build`).

use super::raw::Reader;
use super::values;

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
    /// Checks the values of the kind's own keys (`values`), reading each one typed.
    pub check: fn(&mut Reader<'_, '_, '_>),
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
        check: values::nothing_more,
    },
    Kind {
        name: "jsonl",
        required: &["path"],
        optional: &["shift_to_now"],
        secrets: &[],
        check: values::jsonl,
    },
    Kind {
        name: "mastodon",
        required: &["instance"],
        optional: &["hashtags", "timeline", "token"],
        secrets: &["token"],
        check: values::mastodon,
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
        check: values::bluesky,
    },
    Kind {
        name: "reddit",
        required: &["subreddits"],
        optional: &["query", "client_id", "client_secret", "base_url"],
        secrets: &["client_secret"],
        check: values::reddit,
    },
    Kind {
        name: "hackernews",
        required: &["query"],
        optional: &["tags", "base_url"],
        secrets: &[],
        check: values::hackernews,
    },
    Kind {
        name: "discourse",
        required: &["url"],
        optional: &["mode", "query", "api_key", "api_username"],
        secrets: &["api_key"],
        check: values::discourse,
    },
    Kind {
        name: "x",
        required: &["query", "bearer_token", "max_posts_per_day"],
        optional: &["max_results", "base_url"],
        secrets: &["bearer_token"],
        check: values::x,
    },
    Kind {
        name: "facebook",
        required: &["page_id", "access_token"],
        optional: &["base_url"],
        secrets: &["access_token"],
        check: values::facebook,
    },
    Kind {
        name: "json",
        required: &["url", "items", "fields"],
        optional: &["time_format", "next", "headers"],
        secrets: &[],
        check: values::json,
    },
    Kind {
        name: "html",
        required: &["url", "item", "select"],
        optional: &[],
        secrets: &[],
        check: values::html,
    },
];

/// Notifier kinds.
pub const NOTIFIERS: &[Kind] = &[
    Kind {
        name: "email",
        required: &["smtp_url", "from", "to"],
        optional: &["username", "password"],
        secrets: &["password"],
        check: values::email,
    },
    Kind {
        name: "webhook",
        required: &["url"],
        optional: &["secret", "headers"],
        secrets: &["secret", "url"],
        check: values::webhook,
    },
    Kind {
        name: "slack",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
        check: values::nothing_more,
    },
    Kind {
        name: "mattermost",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
        check: values::nothing_more,
    },
    Kind {
        name: "teams",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
        check: values::nothing_more,
    },
    Kind {
        name: "discord",
        required: &["url"],
        optional: &[],
        secrets: &["url"],
        check: values::nothing_more,
    },
    Kind {
        name: "console",
        required: &[],
        optional: &[],
        secrets: &[],
        check: values::nothing_more,
    },
];

/// Keys whose values may be written in clear although they are secrets (webhook URLs hold
/// their token in the path; they are still kept as secrets so they never print).
pub const CLEAR_OK: &[&str] = &["url"];
