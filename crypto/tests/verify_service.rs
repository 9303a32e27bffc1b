//! The async `VerifyService`: many producers, batching, per-job answers, backpressure.

use std::sync::Arc;
use std::time::Duration;

use chainkey_crypto::batch::{BatchVerifier, Job, ServiceConfig, ServiceError, VerifyService};
use chainkey_crypto::{Ciphersuite, MinSig, SecretKey};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn job(suite: &Ciphersuite<MinSig>, key: &SecretKey, message: &[u8], valid: bool) -> Job {
    let signed: &[u8] = if valid { message } else { b"something else" };
    let signature = suite.sign(key, signed);
    Job::new(suite.signature_claim(&key.public_key(), message, &signature))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_each_get_their_own_verdict() {
    let (service, task) = VerifyService::spawn(
        Arc::new(BatchVerifier::default()),
        ServiceConfig {
            max_batch: 64,
            max_delay: Duration::from_millis(2),
            queue_capacity: 32,
        },
    );
    let suite = Arc::new(Ciphersuite::<MinSig>::basic());
    let mut rng = StdRng::seed_from_u64(7);
    let keys: Arc<Vec<SecretKey>> =
        Arc::new((0..4).map(|_| SecretKey::generate(&mut rng)).collect());
    let producers: Vec<_> = (0..200u32)
        .map(|i| {
            let (service, suite, keys) = (service.clone(), Arc::clone(&suite), Arc::clone(&keys));
            tokio::spawn(async move {
                let valid = i % 7 != 3;
                let job = job(&suite, &keys[i as usize % 4], &i.to_be_bytes(), valid);
                (valid, service.verify(job).await)
            })
        })
        .collect();
    for producer in producers {
        let (valid, verdict) = producer.await.unwrap();
        assert_eq!(verdict, Ok(valid));
    }
    drop(service);
    // With every handle gone the collector drains and stops.
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_pushes_back() {
    let (service, _task) = VerifyService::spawn(
        Arc::new(BatchVerifier::default()),
        ServiceConfig {
            max_batch: 8,
            max_delay: Duration::from_millis(1),
            queue_capacity: 2,
        },
    );
    let suite = Ciphersuite::<MinSig>::basic();
    let key = SecretKey::generate(&mut StdRng::seed_from_u64(1));
    // The collector has not run yet (single-threaded runtime, no await so far).
    let first = service.try_verify(job(&suite, &key, b"1", true)).unwrap();
    let second = service.try_verify(job(&suite, &key, b"2", false)).unwrap();
    assert_eq!(
        service
            .try_verify(job(&suite, &key, b"3", true))
            .unwrap_err(),
        ServiceError::QueueFull
    );
    assert_eq!(first.await, Ok(true));
    assert_eq!(second.await, Ok(false));
    // Space is free again.
    assert_eq!(
        service.verify(job(&suite, &key, b"4", true)).await,
        Ok(true)
    );
}

// One thread: the collector cannot drain the queue while jobs are queued.
#[tokio::test(flavor = "current_thread")]
async fn verify_all_answers_each_job_and_names_the_refused() {
    let (service, _task) = VerifyService::spawn(
        Arc::new(BatchVerifier::default()),
        ServiceConfig {
            max_batch: 8,
            max_delay: Duration::from_millis(1),
            queue_capacity: 4,
        },
    );
    let suite = Ciphersuite::<MinSig>::basic();
    let key = SecretKey::generate(&mut StdRng::seed_from_u64(9));
    let valid = [true, false, true];
    let jobs = valid
        .iter()
        .enumerate()
        .map(|(i, &ok)| job(&suite, &key, &[i as u8], ok));
    let verdicts = service.verify_all(jobs).await;
    assert_eq!(verdicts, vec![Some(true), Some(false), Some(true)]);
    // More jobs than the queue holds: the overflow is refused, not lost silently.
    let jobs = (0..16u8).map(|i| job(&suite, &key, &[i], true));
    let verdicts = service.verify_all(jobs).await;
    assert_eq!(verdicts.len(), 16);
    assert!(verdicts.iter().all(|v| *v == Some(true) || v.is_none()));
    assert!(verdicts.contains(&None), "{verdicts:?}");
}
