//! Canister code run for HTTP requests — queries and
//! `canister_inspect_message` — on a few threads of its own, at a lower
//! CPU priority than the rest of the node: each run makes an instance of
//! its canister's heap (mapping the heap's image copy-on-write and copying
//! its changed pages), and a client flooding queries at a canister must
//! not take the cores consensus needs. The pool's size bounds the
//! instances alive at once; at most [`MAX_WAITING`] more requests wait
//! their turn, and further ones are refused at once, so a flood of queries
//! cannot pile up memory.

/// Runs waiting for a thread, at most.
pub const MAX_WAITING: usize = 64;

/// Why a run did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// [`MAX_WAITING`] runs are waiting already.
    #[error("too many queries and inspections are waiting; retry later")]
    Busy,
    /// The run panicked.
    #[error("running the canister failed")]
    Failed,
}

/// Threads of the pool.
pub const THREADS: usize = 1;

/// The `nice` value of the pool's threads (Linux; 0 is the default, 19
/// the lowest priority): under contention they get about a tenth of the
/// CPU time a default thread gets.
const NICE: i32 = 19;

/// The pool.
pub struct CanisterRuns {
    pool: rayon::ThreadPool,
    /// Runs accepted and not yet started or finished.
    in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CanisterRuns {
    /// A pool of [`THREADS`] low-priority threads.
    pub fn new() -> CanisterRuns {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(THREADS)
            .thread_name(|i| format!("canister-run-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .expect("the canister-run threads start");
        CanisterRuns {
            pool,
            in_flight: Default::default(),
        }
    }

    /// Runs `work` on the pool and returns its result, unless too many
    /// runs are waiting already.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, RunError> {
        use std::sync::atomic::Ordering;
        let in_flight = std::sync::Arc::clone(&self.in_flight);
        if in_flight.fetch_add(1, Ordering::AcqRel) >= THREADS + MAX_WAITING {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(RunError::Busy);
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let _ = answer.send(work());
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
        answered.await.map_err(|_| RunError::Failed)
    }
}

impl Default for CanisterRuns {
    fn default() -> Self {
        CanisterRuns::new()
    }
}

/// Lowers the calling thread's CPU priority (best effort).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority reads no memory of ours; it changes the priority
    // of this thread only (its own thread id).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_beyond_the_waiting_bound_are_refused_at_once() {
        let runs = Arc::new(CanisterRuns::new());
        let released = Arc::new(AtomicBool::new(false));
        let mut accepted = Vec::new();
        // The running ones wait for the release; MAX_WAITING more queue.
        for _ in 0..THREADS + MAX_WAITING {
            let (runs, released) = (Arc::clone(&runs), Arc::clone(&released));
            accepted.push(tokio::spawn(async move {
                runs.run(move || {
                    while !released.load(Ordering::Acquire) {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                })
                .await
            }));
        }
        while runs.in_flight.load(Ordering::Acquire) < THREADS + MAX_WAITING {
            tokio::task::yield_now().await;
        }
        assert_eq!(runs.run(|| ()).await, Err(RunError::Busy));
        released.store(true, Ordering::Release);
        for run in accepted {
            assert_eq!(run.await.unwrap(), Ok(()));
        }
        assert_eq!(runs.run(|| 7).await, Ok(7));
    }
}
