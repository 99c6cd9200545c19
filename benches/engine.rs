//! Engine benchmark: the classic *hold* model of a future event list.
//!
//! N events are pending (N = 10, 1 000, 100 000). One hold operation pops the earliest event
//! and schedules one new event at now + an exponential delay (mean 1 s, in `SimTime`
//! microseconds, drawn from a `SimRng`), so the queue stays at N events. Each benchmark
//! iteration runs a batch of 10 000 holds and reports throughput per hold (divan
//! `ItemsCount`), so the time per event is read directly off the output.
//!
//! The same loop runs on [`rollsim::engine::EventQueue<u32>`] and on a bare
//! `BinaryHeap<Reverse<(time, seq)>>` with the same seed and therefore the same RNG draws
//! (`main` checks both pop the same times before benchmarking). Both live in this file so
//! their ratio is measured in one run, on one machine state.
//!
//! Run:
//!
//! ```text
//! cargo bench --bench engine
//! ```
//!
//! Targets, per event: `engine_queue` ≤ 1.3 × `bare_heap` for N ≤ 1 000, and ≤ 2 × at
//! N = 100 000 (compare the median time of the same N).

use divan::Bencher;
use divan::counter::ItemsCount;
use rollsim::engine::{EventQueue, SECOND, SimRng, SimTime, Stream};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Hold operations per benchmark iteration.
const BATCH: usize = 10_000;
const SEED: u64 = 0x5EED_5EED;

fn main() {
    check_same_work();
    divan::main();
}

/// An exponential delay with mean 1 s, in microseconds.
#[inline]
fn delay(rng: &mut SimRng) -> SimTime {
    rng.exponential(SECOND as f64) as SimTime
}

fn filled_queue(n: usize, rng: &mut SimRng) -> EventQueue<u32> {
    let mut q = EventQueue::with_capacity(n + 1);
    for i in 0..n {
        q.schedule(delay(rng), i as u32);
    }
    q
}

#[inline]
fn hold_queue(q: &mut EventQueue<u32>, rng: &mut SimRng) -> SimTime {
    let (now, event) = q.pop().expect("hold keeps the queue non-empty");
    q.schedule_in(delay(rng), event);
    now
}

struct Bare {
    heap: BinaryHeap<Reverse<(SimTime, u64)>>,
    seq: u64,
}

fn filled_bare(n: usize, rng: &mut SimRng) -> Bare {
    let mut heap = BinaryHeap::with_capacity(n + 1);
    for seq in 0..n as u64 {
        heap.push(Reverse((delay(rng), seq)));
    }
    Bare { heap, seq: n as u64 }
}

#[inline]
fn hold_bare(b: &mut Bare, rng: &mut SimRng) -> SimTime {
    let Reverse((now, _)) = b.heap.pop().expect("hold keeps the heap non-empty");
    b.heap.push(Reverse((now + delay(rng), b.seq)));
    b.seq += 1;
    now
}

/// Both loops must do the same work, or their ratio means nothing.
fn check_same_work() {
    for n in [10, 1_000] {
        let (mut r1, mut r2) = (SimRng::new(SEED, Stream::Traffic), SimRng::new(SEED, Stream::Traffic));
        let (mut q, mut b) = (filled_queue(n, &mut r1), filled_bare(n, &mut r2));
        for _ in 0..BATCH {
            assert_eq!(hold_queue(&mut q, &mut r1), hold_bare(&mut b, &mut r2));
        }
    }
}

#[divan::bench(args = [10, 1_000, 100_000])]
fn engine_queue(bencher: Bencher, n: usize) {
    let mut rng = SimRng::new(SEED, Stream::Traffic);
    let mut q = filled_queue(n, &mut rng);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        let mut last = 0;
        for _ in 0..BATCH {
            last = hold_queue(&mut q, &mut rng);
        }
        last
    });
}

#[divan::bench(args = [10, 1_000, 100_000])]
fn bare_heap(bencher: Bencher, n: usize) {
    let mut rng = SimRng::new(SEED, Stream::Traffic);
    let mut b = filled_bare(n, &mut rng);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        let mut last = 0;
        for _ in 0..BATCH {
            last = hold_bare(&mut b, &mut rng);
        }
        last
    });
}
