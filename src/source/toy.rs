//! The `toy` source (proof of the registry's shape, reverted in the next commit): one greeting
//! per poll, from a URL it never fetches.

use std::path::Path;

use async_trait::async_trait;

use super::fetch::Fetcher;
use super::{Cursor, Kind, Page, Source, SourceError};
use crate::config::raw::Reader;
use crate::config::{values, KindDef, Settings, SourceSpec};
use crate::post::Post;

/// `kind = "toy"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "toy",
        required: &["url"],
        optional: &["greeting"],
        secrets: &[],
        read,
    },
    build,
};

/// A `toy` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToySettings {
    /// Where the posts claim to come from.
    pub url: String,
    /// The text of every post.
    pub greeting: String,
}

fn read(r: &mut Reader<'_, '_, '_>, _dir: &Path) -> Settings {
    let greeting = r.non_empty("greeting").map_or("bonjour".into(), |(g, _)| g);
    Settings::new(ToySettings {
        url: values::text(r, "url"),
        greeting,
    })
}

fn build(spec: &SourceSpec) -> Result<Box<dyn Source>, String> {
    Ok(Box::new(super::settings::<ToySettings>(spec)?.clone()))
}

#[async_trait]
impl Source for ToySettings {
    async fn poll(&self, _fetch: &Fetcher, _cursor: &Cursor) -> Result<Page, SourceError> {
        let post: Post = serde_json::from_value(serde_json::json!({
            "id": "1", "text": self.greeting, "url": self.url,
            "created_at": "2026-01-01T00:00:00Z"
        }))
        .map_err(|e| SourceError::Permanent(e.to_string()))?;
        Ok(Page {
            posts: vec![post],
            cursor: Cursor::default(),
        })
    }
}
