//! A cache of the dashboard's figures per (area, period): the two reports (the period and the
//! same period a year before), the population pyramid and the births and deaths by month.
//!
//! These are aggregate counts (no personal data); every request is still authorized for its
//! area before the cache is consulted. An entry is dropped when the register changes through
//! this server (every recorded event, correction and import calls [`FigureCache::invalidate`])
//! and after [`TTL`] in any case, which bounds how long a change made by another process (the
//! CLI's `renkou import`) can go unseen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use renkou_app::persons::{AgeGroupCount, MonthCount};
use renkou_app::report::Report;

/// How long an entry is used at most.
pub const TTL: Duration = Duration::from_secs(60);
/// Entries kept at most (the cache is emptied when full).
const MAX_ENTRIES: usize = 512;

/// What the dashboard shows for one area and period.
#[derive(Debug, Clone)]
pub struct DashboardFigures {
    /// The report of the period.
    pub report: Report,
    /// The report of the same period a year before.
    pub year_before: Report,
    /// Population pyramid at the end of the period.
    pub pyramid: Vec<AgeGroupCount>,
    /// Births and deaths by month.
    pub monthly: Vec<MonthCount>,
}

type Key = (String, NaiveDate, NaiveDate);
/// An entry: the generation it was computed at, when, and the figures.
type Entry = (u64, Instant, Arc<DashboardFigures>);

/// The cache (shared by all requests).
#[derive(Debug, Default)]
pub struct FigureCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl FigureCache {
    /// The figures of `key` if cached, fresh and computed since the last change.
    pub fn get(&self, area: &str, first: NaiveDate, last: NaiveDate) -> Option<Arc<DashboardFigures>> {
        let g = self.generation.load(Ordering::Acquire);
        let entries = self.entries.lock().expect("cache lock");
        entries.get(&(area.to_string(), first, last)).filter(|(eg, at, _)| *eg == g && at.elapsed() < TTL).map(|(_, _, f)| f.clone())
    }

    /// The generation to pass to [`FigureCache::put`]: read it *before* computing, so that a
    /// change during the computation makes the result stale at once.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores figures computed at generation `g`.
    pub fn put(&self, area: &str, first: NaiveDate, last: NaiveDate, g: u64, f: Arc<DashboardFigures>) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((area.to_string(), first, last), (g, Instant::now(), f));
    }

    /// The register changed: every entry is stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.lock().expect("cache lock").clear();
    }
}
