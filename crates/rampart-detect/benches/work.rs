//! Runs one benign workload a fixed number of times, for instruction counts that the noise
//! of a shared machine does not move: `bench/detect_instructions.sh` runs it under
//! callgrind twice (N and N + 200 iterations) and reports the difference per iteration.
//! Usage: `work get|json|prose ITERATIONS`.

mod workloads;

use std::hint::black_box;

use rampart_detect::Policy;
use rampart_detect::extract::Place;
use workloads::{HEADERS, QUERY};

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_default();
    let iterations: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let policy = Policy::default();
    let body = workloads::order();
    let prose = workloads::prose();
    for _ in 0..iterations {
        match workload.as_str() {
            "get" => drop(black_box(workloads::get_head(
                &policy,
                black_box(QUERY),
                black_box(HEADERS),
            ))),
            "json" => drop(black_box(workloads::json_body(&policy, black_box(&body)))),
            "prose" => drop(black_box(rampart_detect::inspect_at(
                Place::Body,
                black_box(&prose),
                false,
                1,
                false,
            ))),
            other => {
                eprintln!("unknown workload {other:?}: get, json or prose");
                std::process::exit(2);
            }
        }
    }
}
