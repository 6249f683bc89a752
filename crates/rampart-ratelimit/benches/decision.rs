//! One local rate decision: a warm key, and a random key of a table holding 1,000,000.
//! Also prints the tables' heap use for 1,000,000 keys against the documented bound.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_ratelimit::{KeyHasher, Local, Rate};

const MILLION: u64 = 1_000_000;

fn decisions(c: &mut Criterion) {
    let hasher = KeyHasher::new();
    let limit = hasher.limit_id("bench/per-consumer");
    let rate = Rate::new(1_000_000, Duration::from_secs(1), 1_000).expect("rate");
    let mut now = 1_000_000_000u64;

    let local = Local::new(MILLION as usize);
    let key = hasher.key(limit, b"consumer-1");
    c.bench_function("rate decision, one key (hash + decide)", |b| {
        b.iter(|| {
            now += 1_000;
            let key = hasher.key(limit, black_box(b"consumer-1"));
            black_box(local.rate(&rate, key, now))
        })
    });
    black_box(key);

    let big = Local::new(MILLION as usize);
    let keys: Vec<u64> = (0..MILLION)
        .map(|i| hasher.key(limit, format!("consumer-{i}").as_bytes()))
        .collect();
    for key in &keys {
        big.rate(&rate, *key, now);
    }
    let memory = big.memory();
    println!(
        "1,000,000 rate keys: {} keys held, {:.1} MiB heap ({:.1} bytes a key); bound {:.1} MiB for the rate table, {:.1} MiB for all three tables full",
        memory.keys,
        memory.heap_bytes as f64 / 1_048_576.0,
        memory.heap_bytes as f64 / memory.keys as f64,
        rampart_ratelimit::Table::<u64>::bound_bytes(MILLION as usize) as f64 / 1_048_576.0,
        memory.bound_bytes as f64 / 1_048_576.0
    );
    let mut i = 0usize;
    c.bench_function("rate decision, 1,000,000-key table", |b| {
        b.iter(|| {
            i = (i + 7_919) % keys.len();
            black_box(big.rate(&rate, keys[i], now))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = decisions
}
criterion_main!(benches);
