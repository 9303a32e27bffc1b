//! Canister code run for HTTP requests — queries and
//! `canister_inspect_message` — on a few threads of its own, at a lower
//! CPU priority than the rest of the node: each run makes an instance
//! with a copy of its canister's heap, and a client flooding queries at a
//! canister with a large heap must not take the cores consensus needs.
//! The pool's size bounds the heaps copied at once; requests beyond it
//! wait their turn.

/// Threads of the pool.
pub const THREADS: usize = 1;

/// The `nice` value of the pool's threads (Linux; 0 is the default, 19
/// the lowest priority): under contention they get about a tenth of the
/// CPU time a default thread gets.
const NICE: i32 = 19;

/// The pool.
pub struct CanisterRuns {
    pool: rayon::ThreadPool,
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
        CanisterRuns { pool }
    }

    /// Runs `work` on the pool and returns its result (`None` if it
    /// panicked).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let _ = answer.send(work());
        });
        answered.await.ok()
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
