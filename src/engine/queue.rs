//! A priority queue of typed events ordered by (time, insertion sequence).
//!
//! The sequence number makes ties deterministic: of two events scheduled for the same
//! microsecond, the one pushed first pops first. Events are stored by value in one binary
//! heap whose buffer is reused, so scheduling allocates only when the heap outgrows its
//! largest size so far.

use super::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// 16 bytes of key: with a 4-byte event an entry is as small as a bare `(u64, u64)` pair,
/// which keeps the heap cache-friendly at 100,000 pending events.
struct Entry<E> {
    time: SimTime,
    seq: u32,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.time.cmp(&self.time).then_with(|| other.seq.cmp(&self.seq))
    }
}

/// The future event list of one replication.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u32,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self { heap: BinaryHeap::with_capacity(capacity), next_seq: 0, now: 0 }
    }

    /// The time of the event popped last (0 before the first pop).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at absolute time `time`, which must not lie in the past.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        assert!(time >= self.now, "event scheduled in the past: {time} < {}", self.now);
        let seq = self.next_seq;
        // A replication is bounded far below 2^32 events (see `experiment::world`).
        self.next_seq = seq.checked_add(1).expect("more than 2^32 events scheduled in one queue");
        self.heap.push(Entry { time, seq, event });
    }

    /// Schedules `event` `delay` after now.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimTime, event: E) {
        self.schedule(self.now.saturating_add(delay), event);
    }

    /// Removes the earliest event and advances the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let entry = self.heap.pop()?;
        debug_assert!(entry.time >= self.now);
        self.now = entry.time;
        Some((entry.time, entry.event))
    }

    /// The time of the earliest pending event.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    /// Advances the clock without an event (for work done between events, such as
    /// requests generated in a tight loop). Must not go backwards or past a pending event.
    #[inline]
    pub fn advance_to(&mut self, time: SimTime) {
        assert!(time >= self.now, "clock moved backwards");
        if let Some(next) = self.peek_time() {
            assert!(time <= next, "clock advanced past a pending event");
        }
        self.now = time;
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule(10, 'a');
        q.schedule(5, 'b');
        q.schedule(10, 'c');
        q.schedule(5, 'd');
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(5, 'b'), (5, 'd'), (10, 'a'), (10, 'c')]);
        assert_eq!(q.now(), 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(7),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        #[test]
        fn pops_are_time_monotone_and_stable(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q = EventQueue::new();
            for (i, &t) in times.iter().enumerate() {
                q.schedule(t, i);
            }
            let mut last: Option<(u64, usize)> = None;
            let mut count = 0;
            while let Some((t, i)) = q.pop() {
                prop_assert_eq!(t, times[i]);
                if let Some((lt, li)) = last {
                    prop_assert!(t > lt || (t == lt && i > li));
                }
                last = Some((t, i));
                count += 1;
            }
            prop_assert_eq!(count, times.len());
        }
    }
}
