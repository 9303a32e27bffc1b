//! What every benchmark of `chainkey bench` shares: timing a piece of work
//! and writing its results.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Writes `value` as pretty-printed JSON to `path`.
pub fn write_json(path: &std::path::Path, value: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|error| error.to_string())?;
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Runs `work` once to warm up, then repeatedly (at least 3 and at most 50
/// times, within `budget`), and returns the median duration.
pub fn median_time(budget: Duration, mut work: impl FnMut()) -> Duration {
    work();
    let started = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || (times.len() < 50 && started.elapsed() < budget) {
        let run = Instant::now();
        work();
        times.push(run.elapsed());
    }
    times.sort_unstable();
    times[times.len() / 2]
}
