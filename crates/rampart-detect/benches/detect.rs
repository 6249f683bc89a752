//! The detector's cost on benign traffic, the case that decides throughput: the values of
//! `bench/detect_bench.py`'s two workloads (a GET with a query and browser headers, a 2 KB
//! JSON order), scored as the gateway scores them. `cargo bench -p rampart-detect`.

mod workloads;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use rampart_detect::Policy;
use rampart_detect::extract::Place;
use workloads::{HEADERS, QUERY};

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    c.bench_function("get-query head", |b| {
        b.iter(|| workloads::get_head(&policy, black_box(QUERY), black_box(HEADERS)))
    });
    let body = workloads::order();
    assert!((1900..2200).contains(&body.len()), "{}", body.len());
    c.bench_function("json-2k body", |b| {
        b.iter(|| workloads::json_body(&policy, black_box(&body)))
    });
    let prose = workloads::prose();
    c.bench_function("prose 1.4k value", |b| {
        b.iter(|| rampart_detect::inspect_at(Place::Body, black_box(&prose), false, 1, false))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
