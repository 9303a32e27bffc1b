//! `VerifyService`: the async façade through which a node verifies everything.
//!
//! Many producers (network handlers, the consensus loop) submit single jobs;
//! a collector task cuts them into batches by size or deadline, runs each
//! batch on a blocking thread (off the async runtime), and answers every job
//! through its own channel. The queue is bounded: when it is full,
//! [`VerifyService::verify`] waits (backpressure) and
//! [`VerifyService::try_verify`] fails at once, so memory never grows
//! without bound.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{BatchVerifier, Job};

/// Batching and queueing limits of a [`VerifyService`].
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Largest batch handed to the verifier.
    pub max_batch: usize,
    /// Longest time the first job of a batch waits for others.
    pub max_delay: Duration,
    /// Jobs that may wait in the queue before submitters are pushed back.
    pub queue_capacity: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            max_batch: 1024,
            max_delay: Duration::from_millis(2),
            queue_capacity: 8192,
        }
    }
}

/// Why a job got no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The queue is full (only from [`VerifyService::try_verify`]).
    #[error("verification queue is full")]
    QueueFull,
    /// The service has stopped.
    #[error("verification service has stopped")]
    Stopped,
}

struct Request {
    job: Job,
    reply: oneshot::Sender<bool>,
}

/// Cloneable handle to a running verification service.
#[derive(Clone, Debug)]
pub struct VerifyService {
    requests: mpsc::Sender<Request>,
}

impl VerifyService {
    /// Starts the collector task on the current tokio runtime. The task ends
    /// when every handle is dropped and the queue is drained.
    ///
    /// # Panics
    /// If called outside a tokio runtime, or with a zero `max_batch` or `queue_capacity`.
    pub fn spawn(verifier: Arc<BatchVerifier>, config: ServiceConfig) -> (Self, JoinHandle<()>) {
        assert!(config.max_batch > 0, "max_batch must be positive");
        let (requests, receiver) = mpsc::channel(config.queue_capacity);
        let task = tokio::spawn(collect_and_verify(verifier, config, receiver));
        (VerifyService { requests }, task)
    }

    /// Verifies one job, waiting for queue space if needed.
    ///
    /// # Errors
    /// [`ServiceError::Stopped`] if the service is gone.
    pub async fn verify(&self, job: Job) -> Result<bool, ServiceError> {
        let (reply, verdict) = oneshot::channel();
        self.requests
            .send(Request { job, reply })
            .await
            .map_err(|_| ServiceError::Stopped)?;
        verdict.await.map_err(|_| ServiceError::Stopped)
    }

    /// Queues one job without waiting; the verdict arrives on the returned channel.
    ///
    /// # Errors
    /// [`ServiceError::QueueFull`] or [`ServiceError::Stopped`].
    pub fn try_verify(&self, job: Job) -> Result<oneshot::Receiver<bool>, ServiceError> {
        let (reply, verdict) = oneshot::channel();
        self.requests
            .try_send(Request { job, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => ServiceError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => ServiceError::Stopped,
            })?;
        Ok(verdict)
    }

    /// Queues every job without waiting, so they can share batches, then
    /// awaits their verdicts: `None` for a job the service refused (queue
    /// full) or lost (stopped).
    pub async fn verify_all(&self, jobs: impl IntoIterator<Item = Job>) -> Vec<Option<bool>> {
        let queued: Vec<_> = jobs.into_iter().map(|job| self.try_verify(job)).collect();
        let mut verdicts = Vec::with_capacity(queued.len());
        for verdict in queued {
            verdicts.push(match verdict {
                Ok(verdict) => verdict.await.ok(),
                Err(_) => None,
            });
        }
        verdicts
    }
}

/// The collector loop: cut a batch, verify it off the runtime, answer, repeat.
async fn collect_and_verify(
    verifier: Arc<BatchVerifier>,
    config: ServiceConfig,
    mut receiver: mpsc::Receiver<Request>,
) {
    while let Some(first) = receiver.recv().await {
        let deadline = Instant::now() + config.max_delay;
        let mut batch = vec![first];
        while batch.len() < config.max_batch {
            tokio::select! {
                next = receiver.recv() => match next {
                    Some(request) => batch.push(request),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        let (jobs, replies): (Vec<Job>, Vec<oneshot::Sender<bool>>) = batch
            .into_iter()
            .map(|request| (request.job, request.reply))
            .unzip();
        let verifier = Arc::clone(&verifier);
        let Ok(verdicts) = tokio::task::spawn_blocking(move || verifier.verify(&jobs)).await else {
            // The verifier panicked: drop the replies so callers see `Stopped`.
            continue;
        };
        for (reply, verdict) in replies.into_iter().zip(verdicts) {
            // A caller that stopped waiting is not an error.
            let _ = reply.send(verdict);
        }
    }
}
