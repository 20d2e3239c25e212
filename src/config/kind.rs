//! What the config knows of a source or notifier kind: its keys, which of them are secrets, and
//! the function that checks their values and returns its settings ([`KindDef`]).
//!
//! The config layer stays generic: it never names a kind. The kinds it accepts are handed to
//! [`super::load`] as [`Kinds`] by the layer that can build them (`daemon::pipeline::kinds`), and
//! each kind lives in one file beside its `poll` or `send` (`source::rss`, `notify::email`…). A
//! kind's settings are opaque here ([`Settings`]): the kind that read them downcasts them back.

use std::any::Any;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::raw::Reader;

/// Keys every source takes.
pub const SOURCE_COMMON: &[&str] = &["name", "kind", "every", "max_bytes"];

/// Keys every notifier takes.
pub const NOTIFIER_COMMON: &[&str] = &["name", "kind"];

/// Keys whose values may be written in clear although they are secrets (webhook URLs hold
/// their token in the path; they are still kept as secrets so they never print).
pub const CLEAR_OK: &[&str] = &["url"];

/// One kind as the config sees it: its name, its keys, and how to read them.
pub struct KindDef {
    /// As written in `kind = "…"`.
    pub name: &'static str,
    /// Keys that must be present.
    pub required: &'static [&'static str],
    /// Keys that may be present.
    pub optional: &'static [&'static str],
    /// Keys whose values are secrets (also accepted as `<key>_file`; the first one also as
    /// `credential`).
    pub secrets: &'static [&'static str],
    /// Checks the values of the kind's own keys (errors located through the [`Reader`]) and
    /// returns its settings; `dir` (the config's folder) resolves relative paths and secret
    /// files. Required keys, secrets written in clear and URL keys are checked before, by
    /// `validate`, for every kind alike.
    pub read: fn(&mut Reader<'_, '_, '_>, dir: &Path) -> Settings,
}

impl KindDef {
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

impl fmt::Debug for KindDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindDef").field("name", &self.name).finish()
    }
}

/// The kinds the config accepts, handed in by the layer that can build them.
#[derive(Debug, Clone, Copy)]
pub struct Kinds<'a> {
    /// Source kinds (`kind` of a `[[source]]`).
    pub sources: &'a [&'a KindDef],
    /// Notifier kinds (`kind` of a `[[notifier]]`).
    pub notifiers: &'a [&'a KindDef],
}

/// A kind's parsed settings, opaque to the config: the kind's own struct (`RssSettings`), shared
/// and compared by value, so that a reload sees whether a source or notifier changed.
#[derive(Clone)]
pub struct Settings(Arc<dyn AnySettings>);

/// What [`Settings`] needs of a kind's struct; implemented for every fitting type.
trait AnySettings: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn Any) -> bool;
}

impl<T: Any + fmt::Debug + PartialEq + Send + Sync> AnySettings for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }
}

impl Settings {
    /// Wraps a kind's settings.
    pub fn new<T: Any + fmt::Debug + PartialEq + Send + Sync>(settings: T) -> Settings {
        Settings(Arc::new(settings))
    }

    /// The settings as `T`, if they are a `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }
}

impl PartialEq for Settings {
    fn eq(&self, other: &Settings) -> bool {
        self.0.same(other.0.as_any())
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    #[derive(Debug, PartialEq)]
    struct A(u32);
    #[derive(Debug, PartialEq)]
    struct B(u32);

    #[test]
    fn settings_compare_by_type_and_value() {
        assert_eq!(Settings::new(A(1)), Settings::new(A(1)));
        assert_ne!(Settings::new(A(1)), Settings::new(A(2)));
        assert_ne!(Settings::new(A(1)), Settings::new(B(1)));
        assert_eq!(Settings::new(A(3)).get::<A>(), Some(&A(3)));
        assert_eq!(Settings::new(A(3)).get::<B>(), None);
    }
}
