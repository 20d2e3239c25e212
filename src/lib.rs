//! vigie: a brand-monitoring keyword-listening daemon.
//!
//! ```text
//! scheduler ─due─▶ Source::poll ─Page─▶ normalize + RuleSet::matches ─▶ store::commit (one
//! transaction: posts, hits, source state, detect → alerts + outbox) ─wake─▶ dispatch ─▶ Notifier
//! ```
//!
//! Every CLI command runs a prefix of that pipeline: `check` loads `config`; `match` runs
//! `normalize` and `matcher`. The library exists so that `tests/` and `benches/` can call the
//! stages one by one; `main.rs` is the only place that maps errors to exit codes.
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod matcher;
pub mod normalize;
pub mod post;
pub mod source;
pub mod store;
