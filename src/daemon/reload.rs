//! What a reload keeps: the new config's sources matched against the running ones by name.
//!
//! A source whose settings did not change keeps its built `Source` (a followed file stays
//! open), its cursor, its failure count and its place in the timetable, and a poll of it in
//! flight reports to its new index. A new or changed source starts afresh and is due at once;
//! a removed one is dropped (a poll of it in flight finishes, and its report is ignored). The
//! new pipeline is built before the swap (`Pipeline::build`, here through [`load_and_build`]),
//! so the swap itself cannot fail. Settings that only a restart changes are logged here.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::pipeline::{Pipeline, SourceEntry};
use super::scheduler::Timetable;
use crate::config::{self, Config, SourceSpec};
use crate::source::{Cursor, Source};

/// Where a running source stands: its cursor and its failures, kept by the control loop.
#[derive(Default)]
pub(super) struct Progress {
    pub cursor: Cursor,
    pub failures: u32,
    pub last_error: Option<String>,
}

/// One running source: its settings, the built source and where it stands.
pub(super) struct Slot {
    pub spec: SourceSpec,
    pub source: Arc<dyn Source>,
    pub state: Progress,
}

/// Whether a source's settings are the same (where its table sits in the file does not count).
fn same(a: &SourceSpec, b: &SourceSpec) -> bool {
    a.kind == b.kind && a.settings == b.settings && a.every == b.every && a.max_bytes == b.max_bytes
}

/// The slots and timetable for the new sources, reusing the unchanged ones; `running` (task →
/// slot index) is rewritten to the new indices, and loses the tasks of removed sources.
pub(super) fn swap<K: Eq + std::hash::Hash + Copy>(
    old: Vec<Slot>,
    timetable: &Timetable,
    running: &mut HashMap<K, usize>,
    specs: &[SourceSpec],
    built: Vec<SourceEntry>,
    now: DateTime<Utc>,
) -> (Vec<Slot>, Timetable) {
    let old_due: Vec<Option<DateTime<Utc>>> = (0..old.len()).map(|i| timetable.at(i)).collect();
    let mut old: Vec<Option<Slot>> = old.into_iter().map(Some).collect();
    let mut moved: HashMap<usize, usize> = HashMap::new();
    let mut slots = Vec::with_capacity(specs.len());
    let mut due = Vec::with_capacity(specs.len());
    for (i, (spec, entry)) in specs.iter().zip(built).enumerate() {
        let kept = old.iter().position(|s| {
            s.as_ref()
                .is_some_and(|s| s.spec.name == spec.name && same(&s.spec, spec))
        });
        match kept.and_then(|j| old[j].take().map(|s| (j, s))) {
            Some((j, slot)) => {
                moved.insert(j, i);
                due.push(old_due[j]);
                slots.push(Slot {
                    spec: spec.clone(),
                    ..slot
                });
            }
            None => {
                let changed = old.iter().flatten().any(|s| s.spec.name == spec.name);
                if changed {
                    tracing::info!(source = %spec.name, "Source changed; it starts afresh.");
                } else {
                    tracing::info!(source = %spec.name, "Source added.");
                }
                due.push(Some(now));
                slots.push(Slot {
                    spec: spec.clone(),
                    source: Arc::from(entry.source),
                    state: Progress::default(),
                });
            }
        }
    }
    for slot in old.iter().flatten() {
        if !specs.iter().any(|s| s.name == slot.spec.name) {
            tracing::info!(source = %slot.spec.name, "Source removed.");
        }
    }
    running.retain(|_, i| match moved.get(i) {
        Some(&new) => {
            *i = new;
            true
        }
        None => false,
    });
    (slots, Timetable::new(due))
}

/// The config at `path`, loaded and built (the start-up path), or every error as text.
pub(super) fn load_and_build(path: &Path) -> Result<(Config, Pipeline), Vec<String>> {
    let config = config::load(path, &super::pipeline::kinds())
        .map_err(|errors| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    let pipeline = Pipeline::build(&config).map_err(|e| vec![e.to_string()])?;
    Ok((config, pipeline))
}

/// Logs the settings that a reload cannot change (the running value stays).
pub(super) fn needs_restart(old: &Config, new: &Config) {
    if old.daemon.database != new.daemon.database {
        tracing::warn!(setting = "database", running = %old.daemon.database.display(), "Setting changed; it takes effect at the next restart.");
    }
    if old.daemon.listen != new.daemon.listen {
        tracing::warn!(setting = "listen", running = ?old.daemon.listen, "Setting changed; it takes effect at the next restart.");
    }
}

/// Whether the notifiers differ (names or settings): the dispatcher is then restarted.
pub(super) fn notifiers_changed(old: &Config, new: &Config) -> bool {
    let specs = |c: &Config| -> Vec<(String, &'static str, crate::config::Settings)> {
        c.notifiers
            .iter()
            .map(|n| (n.name.clone(), n.kind, n.settings.clone()))
            .collect()
    };
    specs(old) != specs(new)
}
