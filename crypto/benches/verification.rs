//! Criterion benches of the batch engine and its baselines on the same workloads
//! as `chainkey bench`. Run with `cargo bench --bench verification`.

use chainkey_crypto::batch::BatchVerifier;
use chainkey_crypto::workloads::{Shape, Workload};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn verification(c: &mut Criterion) {
    let verifier = BatchVerifier::default();
    for shape in Shape::ALL {
        let mut group = c.benchmark_group(shape.to_string());
        group.sample_size(10);
        for size in [64usize, 1024] {
            let workload = Workload::generate(shape, size, size as u64);
            group.throughput(Throughput::Elements(size as u64));
            group.bench_with_input(BenchmarkId::new("chainkey", size), &workload, |b, w| {
                b.iter(|| w.run_engine(&verifier))
            });
            if shape.is_bls() {
                group.bench_with_input(BenchmarkId::new("blst batch", size), &workload, |b, w| {
                    b.iter(|| w.run_blst_batch())
                });
            }
            group.bench_with_input(BenchmarkId::new("one by one", size), &workload, |b, w| {
                b.iter(|| w.run_one_by_one(w.len()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, verification);
criterion_main!(benches);
