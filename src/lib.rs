//! vigie: a brand-monitoring keyword-listening daemon.
//!
//! ```text
//! scheduler ─due─▶ Source::poll ─Page─▶ normalize + RuleSet::matches ─▶ store::commit (one
//! transaction: posts, hits, source state, detect → alerts + outbox) ─wake─▶ dispatch ─▶ Notifier
//! ```
//!
//! The matching stage on its own, as `vigie match` runs it:
//!
//! ```
//! use vigie::matcher::RuleSpec;
//! use vigie::matcher::RuleSet;
//! use vigie::post::Post;
//!
//! let rules = RuleSet::compile(&[
//!     RuleSpec::with_query("livraison", r#"colis AND (retard* OR "pas reçu")"#).unwrap(),
//! ])
//! .unwrap();
//! let post = Post::from_text("Mon COLIS n'est pas reçu, 10 jours de RETARD");
//! let hits = rules.matches(&post);
//! let hit = hits.get(0).unwrap();
//! assert_eq!(hit.rule, "livraison");
//! assert_eq!(hit.matched().next().unwrap().text(&post.text), "COLIS");
//! assert!(rules.matches(&Post::from_text("retardataire")).is_empty());
//! ```
//!
//! Every CLI command runs a prefix of that pipeline: `check` loads `config`; `match` runs
//! `normalize` and `matcher`. The library exists so that `tests/` and `benches/` can call the
//! stages one by one; `main.rs` is the only place that maps errors to exit codes.
#![warn(missing_docs)]

pub mod cases;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod detect;
pub mod matcher;
pub mod normalize;
pub mod notify;
pub mod post;
pub mod source;
pub mod store;

// Imports run one way, the store only stores: the rules the compiler cannot check.
#[cfg(test)]
mod shape;
