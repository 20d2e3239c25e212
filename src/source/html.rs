//! The `html` source: a web page's items, found by CSS selectors (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings; this version cannot poll it
//! yet (`build` says so), and its `poll`/`parse` will live here. The syntax of selectors is
//! `config::syntax`'s; URL keys are checked by `config::validate`.

use std::path::Path;

use toml::de::DeValue;

use super::{Env, Kind, PostFields, Source};
use crate::config::raw::{article, Reader};
use crate::config::syntax::selector;
use crate::config::values::{self, POST_FIELDS};
use crate::config::{KindDef, Settings, SourceSpec};

/// `kind = "html"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "html",
        required: &["url", "item", "select"],
        optional: &[],
        secrets: &[],
        read,
    },
    build,
};

/// An `html` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlSettings {
    /// The page's URL.
    pub url: String,
    /// The CSS selector of one item.
    pub item: String,
    /// Per field, where to read it inside an item.
    pub select: PostFields<HtmlSelect>,
}

/// Where one field is read inside an item: an element's text, or one of its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlSelect {
    /// The CSS selector, relative to the item.
    pub css: String,
    /// The attribute to read (`href`, `datetime`), or the element's text when `None`.
    pub attr: Option<String>,
}

/// The item selector and, per field, a selector or `{ css, attr }`.
fn read(r: &mut Reader<'_, '_, '_>, _dir: &Path) -> Settings {
    let item = r.non_empty("item");
    if let Some((item, span)) = &item {
        if let Err(e) = selector(item) {
            r.error(span.start, format!("\"item\": {e}"));
        }
    }
    let mut select = PostFields::default();
    if let Some((t, at)) = r.table("select") {
        let mut s = Reader::new(r.file(), t, at, &mut *r.errors);
        for field in POST_FIELDS {
            let Some(v) = s.raw(field) else { continue };
            let sel = match v.get_ref() {
                DeValue::Table(_) => {
                    let Some((t, at)) = s.table(field) else {
                        continue;
                    };
                    let mut c = Reader::new(s.file(), t, at, &mut *s.errors);
                    if !c.has("css") {
                        c.error(at, format!("\"select.{field}\" needs \"css\""));
                    }
                    let css = c.non_empty("css");
                    let attr = c.non_empty("attr").map(|(a, _)| a);
                    c.finish(&["css", "attr"]);
                    css.map(|css| (css, attr))
                }
                DeValue::String(_) => s.non_empty(field).map(|css| (css, None)),
                other => {
                    let got = other.type_str();
                    s.error(
                        v.span().start,
                        format!(
                            "\"select.{field}\" must be a CSS selector or {{ css = \"…\", attr = \"…\" }}, not {} {got}",
                            article(got)
                        ),
                    );
                    None
                }
            };
            if let Some(((css, span), attr)) = sel {
                if let Err(e) = selector(&css) {
                    s.error(span.start, format!("\"select.{field}\": {e}"));
                }
                select.set(field, HtmlSelect { css, attr });
            }
        }
        if !s.has("text") {
            s.error(at, "[source.select] needs \"text\"");
        }
        s.finish(POST_FIELDS);
    }
    Settings::new(HtmlSettings {
        url: values::text(r, "url"),
        item: item.map(|(i, _)| i).unwrap_or_default(),
        select,
    })
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    super::settings::<HtmlSettings>(spec)?;
    super::planned(spec)
}
