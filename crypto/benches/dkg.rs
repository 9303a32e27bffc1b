//! Criterion benches of the NIDKG: dealing creation, single and batched
//! verification of n dealings, and share decryption, for n = 13, 28, 40.
//! Run with `cargo bench --bench dkg`.

use chainkey_crypto::workloads::DkgWorkload;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn dkg(c: &mut Criterion) {
    let mut group = c.benchmark_group("nidkg");
    group.sample_size(10);
    for nodes in [13usize, 28, 40] {
        let workload = DkgWorkload::generate(nodes).expect("honest DKG");
        group.bench_with_input(
            BenchmarkId::new("create dealing", nodes),
            &workload,
            |b, w| b.iter(|| w.create_dealing()),
        );
        group.bench_with_input(
            BenchmarkId::new("verify one dealing", nodes),
            &workload,
            |b, w| b.iter(|| assert!(w.verify_single())),
        );
        group.bench_with_input(
            BenchmarkId::new("verify n dealings, batched", nodes),
            &workload,
            |b, w| b.iter(|| assert!(w.verify_batched())),
        );
        group.bench_with_input(
            BenchmarkId::new("verify n dealings, one by one", nodes),
            &workload,
            |b, w| b.iter(|| assert!(w.verify_one_by_one())),
        );
        group.bench_with_input(
            BenchmarkId::new("decrypt share", nodes),
            &workload,
            |b, w| b.iter(|| w.decrypt_share().expect("share")),
        );
    }
    group.finish();
}

criterion_group!(benches, dkg);
criterion_main!(benches);
