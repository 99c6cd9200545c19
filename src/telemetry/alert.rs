//! Prometheus alerting as pure arithmetic: one alert's state machine, the instants at which
//! rule groups evaluate and targets are scraped, when Prometheus (re)sends an alert, and when
//! Alertmanager sends a group's notifications.
//!
//! The state machine follows prometheus/prometheus `rules/alerting.go` (`AlertingRule.Eval`,
//! `Alert.needsSending`, `sendAlerts`); the timing follows `rules/group.go`
//! (`EvalTimestamp`, `run`) and `scrape/target.go` (`offset`); the notification timing
//! follows prometheus/alertmanager `dispatch/dispatch.go` (aggregation groups) and
//! `notify/notify.go` (`DedupStage.needsUpdate`).
//!
//! Not modelled: restoring `for` state after a Prometheus restart (`for-grace-period`,
//! `for-outage-tolerance`), `query_offset`, the `limit` on alerts per rule, missed
//! evaluations (a slow group skips slots; here every slot runs), the notifier's queue and
//! batching (an alert reaches Alertmanager at the evaluation that sends it), and
//! Alertmanager inhibition, silences and clustering.

use crate::engine::{HOUR, MINUTE, SECOND, SimTime};

/// Prometheus's default `evaluation_interval` and `scrape_interval` (global config).
pub const DEFAULT_EVALUATION_INTERVAL: SimTime = MINUTE;
pub const DEFAULT_SCRAPE_INTERVAL: SimTime = MINUTE;
/// `--rules.alert.resend-delay`.
pub const DEFAULT_RESEND_DELAY: SimTime = MINUTE;
/// How long a resolved alert is kept, and re-sent as resolved (`resolvedRetention`).
pub const RESOLVED_RETENTION: SimTime = 15 * MINUTE;

/// Alertmanager route defaults.
pub const DEFAULT_GROUP_WAIT: SimTime = 30 * SECOND;
pub const DEFAULT_GROUP_INTERVAL: SimTime = 5 * MINUTE;
pub const DEFAULT_REPEAT_INTERVAL: SimTime = 4 * HOUR;
/// Alertmanager's global `resolve_timeout`.
pub const DEFAULT_RESOLVE_TIMEOUT: SimTime = 5 * MINUTE;

/// An alerting rule's durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleTiming {
    /// `for`: how long the condition must hold (at evaluations) before the alert fires.
    pub for_: SimTime,
    /// `keep_firing_for`: how long a firing alert keeps firing once the condition is false.
    pub keep_firing_for: SimTime,
}

/// One alert (one label set of one alerting rule). `Inactive` is "not in the rule's active
/// map": never seen, a pending alert whose condition went away, or a resolved alert past its
/// retention.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlertState {
    #[default]
    Inactive,
    Pending {
        active_at: SimTime,
    },
    Firing {
        active_at: SimTime,
        fired_at: SimTime,
        /// The first evaluation at which the condition was false while firing, when
        /// `keep_firing_for` holds the alert up.
        keep_firing_since: Option<SimTime>,
        last_sent_at: Option<SimTime>,
    },
    /// Was firing; kept for [`RESOLVED_RETENTION`] so that the resolution reaches
    /// Alertmanager (Prometheus's `StateInactive` with `ResolvedAt` set).
    Resolved {
        active_at: SimTime,
        fired_at: SimTime,
        resolved_at: SimTime,
        last_sent_at: Option<SimTime>,
    },
}

/// What one evaluation did to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changed (still inactive, pending, firing or resolved).
    Unchanged,
    /// The condition became true: a new alert, pending since now.
    Pending,
    /// The alert fired: pending for at least `for` (with `for: 0`, in the same evaluation
    /// that created it).
    Fired,
    /// Firing, condition false, held up by `keep_firing_for`.
    KeptFiring,
    /// Firing → pending: `for` was raised above the time since `active_at`.
    Unfired,
    /// Firing → resolved.
    Resolved,
    /// A pending alert whose condition went away: dropped at once, its `for` timer lost.
    PendingDropped,
    /// A resolved alert past its retention: forgotten.
    Forgotten,
}

impl AlertState {
    /// One evaluation of the rule at `now` (an evaluation instant), where `expr_true` says
    /// whether this alert's label set is in the expression's result. The same checks, in the
    /// same order, as `AlertingRule.Eval`:
    /// 1. True and not already pending or firing (inactive, or resolved and retained): a new
    ///    pending alert with `active_at = now`.
    /// 2. False: a firing alert with `keep_firing_for > 0` records the first false evaluation
    ///    and keeps firing while `now − keep_firing_since < keep_firing_for`. A pending alert
    ///    is dropped. A resolved alert is forgotten once `now − resolved_at > 15 min`
    ///    (strictly). A firing alert not kept is resolved at `now`.
    /// 3. True: `keep_firing_since` is cleared.
    /// 4. Pending with `now − active_at >= for`: fires at `now`.
    /// 5. Firing (or kept firing) with `now − active_at < for`, possible only if `for` was
    ///    raised (Prometheus 3 rule reloads): back to pending.
    pub fn eval(&mut self, now: SimTime, expr_true: bool, rule: &RuleTiming) -> Transition {
        let mut transition = Transition::Unchanged;
        if expr_true {
            match self {
                AlertState::Inactive | AlertState::Resolved { .. } => {
                    *self = AlertState::Pending { active_at: now };
                    transition = Transition::Pending;
                }
                AlertState::Firing { keep_firing_since, .. } => *keep_firing_since = None,
                AlertState::Pending { .. } => {}
            }
        } else {
            match *self {
                AlertState::Inactive => return Transition::Unchanged,
                AlertState::Pending { .. } => {
                    *self = AlertState::Inactive;
                    return Transition::PendingDropped;
                }
                AlertState::Resolved { resolved_at, .. } => {
                    assert!(now >= resolved_at, "evaluations go forward in time");
                    if now - resolved_at > RESOLVED_RETENTION {
                        *self = AlertState::Inactive;
                        return Transition::Forgotten;
                    }
                    return Transition::Unchanged;
                }
                AlertState::Firing { active_at, fired_at, keep_firing_since, last_sent_at } => {
                    let since = keep_firing_since.unwrap_or(now);
                    assert!(now >= since, "evaluations go forward in time");
                    if rule.keep_firing_for > 0 && now - since < rule.keep_firing_for {
                        *self = AlertState::Firing {
                            active_at,
                            fired_at,
                            keep_firing_since: Some(since),
                            last_sent_at,
                        };
                        transition = Transition::KeptFiring;
                    } else {
                        *self = AlertState::Resolved { active_at, fired_at, resolved_at: now, last_sent_at };
                        return Transition::Resolved;
                    }
                }
            }
        }
        if let AlertState::Pending { active_at } = *self {
            assert!(now >= active_at, "evaluations go forward in time");
            if now - active_at >= rule.for_ {
                *self = AlertState::Firing {
                    active_at,
                    fired_at: now,
                    keep_firing_since: None,
                    last_sent_at: None,
                };
                transition = Transition::Fired;
            }
        }
        // Only reachable when `for` grew while the alert was firing (a rule reload): back to
        // pending, its sends and keep_firing_for forgotten.
        if let AlertState::Firing { active_at, .. } = *self
            && now - active_at < rule.for_
        {
            *self = AlertState::Pending { active_at };
            transition = Transition::Unfired;
        }
        transition
    }

    pub fn is_firing(&self) -> bool {
        matches!(self, AlertState::Firing { .. })
    }

    pub fn is_pending(&self) -> bool {
        matches!(self, AlertState::Pending { .. })
    }

    /// `ActiveAt`: when the condition (this time) became true.
    pub fn active_at(&self) -> Option<SimTime> {
        match *self {
            AlertState::Inactive => None,
            AlertState::Pending { active_at }
            | AlertState::Firing { active_at, .. }
            | AlertState::Resolved { active_at, .. } => Some(active_at),
        }
    }

    /// `FiredAt`, which is also the `StartsAt` that Prometheus sends to Alertmanager.
    pub fn fired_at(&self) -> Option<SimTime> {
        match *self {
            AlertState::Firing { fired_at, .. } | AlertState::Resolved { fired_at, .. } => Some(fired_at),
            _ => None,
        }
    }

    /// `ResolvedAt`, which is also the `EndsAt` that Prometheus sends once resolved.
    pub fn resolved_at(&self) -> Option<SimTime> {
        match *self {
            AlertState::Resolved { resolved_at, .. } => Some(resolved_at),
            _ => None,
        }
    }

    /// Whether the evaluation at `now` sends this alert to Alertmanager (`needsSending`):
    /// never while pending or inactive; a resolution not yet sent goes at once; otherwise
    /// once `last_sent_at + resend_delay < now` (strictly, so with a 1m resend delay and a
    /// 1m evaluation interval a firing alert is re-sent every second evaluation).
    pub fn needs_sending(&self, now: SimTime, resend_delay: SimTime) -> bool {
        let (last_sent_at, resolved_at) = match *self {
            AlertState::Inactive | AlertState::Pending { .. } => return false,
            AlertState::Firing { last_sent_at, .. } => (last_sent_at, None),
            AlertState::Resolved { last_sent_at, resolved_at, .. } => (last_sent_at, Some(resolved_at)),
        };
        let Some(last) = last_sent_at else { return true };
        if resolved_at.is_some_and(|r| r > last) {
            return true;
        }
        last + resend_delay < now
    }

    /// Records that the evaluation at `now` sent the alert.
    pub fn mark_sent(&mut self, now: SimTime) {
        match self {
            AlertState::Firing { last_sent_at, .. } | AlertState::Resolved { last_sent_at, .. } => {
                *last_sent_at = Some(now)
            }
            _ => panic!("only firing or resolved alerts are sent"),
        }
    }
}

/// The `EndsAt` Prometheus puts on a firing alert it sends at `now` (`ValidUntil`): four
/// times the larger of the resend delay and the evaluation interval, so that Alertmanager
/// resolves the alert by itself only after several missed sends.
pub fn valid_until(now: SimTime, resend_delay: SimTime, evaluation_interval: SimTime) -> SimTime {
    now + 4 * resend_delay.max(evaluation_interval)
}

/// Instants on a fixed grid: `offset + k × interval`, with `0 ≤ offset < interval`. A rule
/// group evaluates on such a grid (`EvalTimestamp`: the slot is pinned to absolute time, its
/// phase is a hash of the group's name and file modulo the interval); a scrape target is
/// scraped on one (its phase is a hash of the target's labels, XOR a per-server seed, modulo
/// the interval), and upstream snaps sample timestamps to that grid when a scrape starts
/// within a few milliseconds of it.
///
/// The offset is an input here, not derived: upstream's hashes are xxhash64 over the label
/// set's serialisation, and the simulator has no group names or file names to hash. Model it
/// as a uniform phase (alerting.md §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: SimTime,
    pub offset: SimTime,
}

impl Schedule {
    pub fn new(interval: SimTime, offset: SimTime) -> Self {
        assert!(interval > 0, "an interval must be positive");
        assert!(offset < interval, "the offset is taken modulo the interval");
        Self { interval, offset }
    }

    /// The last slot at or before `t` (`EvalTimestamp(t)`); `None` before the first slot.
    pub fn at_or_before(&self, t: SimTime) -> Option<SimTime> {
        let adjusted = t.checked_sub(self.offset)?;
        Some(adjusted - adjusted % self.interval + self.offset)
    }

    /// The first slot at or after `t`: when a condition that became true at `t` is first
    /// seen by an evaluation.
    pub fn at_or_after(&self, t: SimTime) -> SimTime {
        match self.at_or_before(t) {
            Some(slot) if slot == t => t,
            Some(slot) => slot + self.interval,
            None => self.offset,
        }
    }

    /// The first slot strictly after `t`. A rule group (or scrape loop) started at `t`
    /// first runs here: `run` sleeps until `EvalTimestamp(t) + interval`.
    pub fn after(&self, t: SimTime) -> SimTime {
        match self.at_or_before(t) {
            Some(slot) => slot + self.interval,
            None => self.offset,
        }
    }

    /// The slots in `[from, until)`.
    pub fn between(&self, from: SimTime, until: SimTime) -> impl Iterator<Item = SimTime> + use<> {
        let interval = self.interval;
        std::iter::successors(Some(self.at_or_after(from)), move |&t| Some(t + interval))
            .take_while(move |&t| t < until)
    }
}

/// When an Alertmanager aggregation group's first notification goes out, for a group created
/// at `created_at` by an alert whose `StartsAt` (Prometheus's `FiredAt`) is `starts_at`:
/// after `group_wait`, unless the alert started more than `group_wait` before the group was
/// created (`StartsAt + group_wait < now`, strictly), in which case at once.
pub fn first_notification(created_at: SimTime, starts_at: SimTime, group_wait: SimTime) -> SimTime {
    if starts_at + group_wait < created_at { created_at } else { created_at + group_wait }
}

/// A group flushes at its first notification and then every `group_interval` (the timer is
/// re-armed at each flush). The first flush at or after `t`: when an alert that joins an
/// existing group at `t` is notified.
pub fn next_flush(first_flush: SimTime, group_interval: SimTime, t: SimTime) -> SimTime {
    assert!(group_interval > 0, "group_interval must be positive");
    if t <= first_flush {
        return first_flush;
    }
    first_flush + (t - first_flush).div_ceil(group_interval) * group_interval
}

/// When an unchanged group is notified again, given its last notification at a flush
/// instant: at the first flush at which that notification is more than `repeat_interval` old (`DedupStage`: strictly before
/// `now − repeat_interval`). With the defaults (5m, 4h) that is 4h05m after the last one.
pub fn repeat_notification(
    last_notified: SimTime,
    group_interval: SimTime,
    repeat_interval: SimTime,
) -> SimTime {
    assert!(group_interval > 0, "group_interval must be positive");
    last_notified + (repeat_interval / group_interval + 1) * group_interval
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MILLISECOND as MILLI;
    use proptest::prelude::*;

    fn rule(for_: SimTime, keep_firing_for: SimTime) -> RuleTiming {
        RuleTiming { for_, keep_firing_for }
    }

    /// Runs `truth` at the given instants and returns each evaluation's transition and
    /// resulting state.
    fn run(times: &[SimTime], truth: &[bool], rule: &RuleTiming) -> Vec<(Transition, AlertState)> {
        let mut state = AlertState::default();
        times.iter().zip(truth).map(|(&t, &b)| (state.eval(t, b, rule), state)).collect()
    }

    fn every(step: SimTime, n: u64) -> Vec<SimTime> {
        (0..n).map(|i| i * step).collect()
    }

    #[derive(Debug, PartialEq)]
    enum S {
        I,
        P,
        F,
        R,
    }

    fn short(s: &AlertState) -> S {
        match s {
            AlertState::Inactive => S::I,
            AlertState::Pending { .. } => S::P,
            AlertState::Firing { .. } => S::F,
            AlertState::Resolved { .. } => S::R,
        }
    }

    /// prometheus/prometheus `rules/alerting_test.go` `TestAlertingRule` (controllers.md
    /// §5.3): `for: 1m`, samples every 5m, `http_requests < 100`. Instance 0 reads 75 85 95
    /// 105 105 95 85, instance 1 reads 80 90 100 110 120 130 140.
    #[test]
    fn upstream_alerting_rule_vector() {
        let times = every(5 * MINUTE, 7);
        let r = rule(MINUTE, 0);
        let below = |xs: [f64; 7]| xs.map(|x| x < 100.0);
        let i0 = run(&times, &below([75.0, 85.0, 95.0, 105.0, 105.0, 95.0, 85.0]), &r);
        let i1 = run(&times, &below([80.0, 90.0, 100.0, 110.0, 120.0, 130.0, 140.0]), &r);
        let states = |v: &[(Transition, AlertState)]| v.iter().map(|(_, s)| short(s)).collect::<Vec<_>>();
        // t0 both pending; t5m both firing; t10m only instance 0; t15m, t20m none firing
        // (resolved, retained); t25m instance 0 pending again; t30m firing.
        assert_eq!(states(&i0), [S::P, S::F, S::F, S::R, S::R, S::P, S::F]);
        // Instance 1 resolved at 10m is still retained at 25m (exactly 15m) and forgotten at
        // 30m.
        assert_eq!(states(&i1), [S::P, S::F, S::R, S::R, S::R, S::R, S::I]);
        // The second episode is a new alert: ActiveAt is 25m, not 0.
        assert_eq!(i0[5].1.active_at(), Some(25 * MINUTE));
        assert_eq!(i0[6].1.fired_at(), Some(30 * MINUTE));
        assert_eq!(i1[2].1.resolved_at(), Some(10 * MINUTE));
        assert_eq!(i1[1].0, Transition::Fired);
        assert_eq!(i1[2].0, Transition::Resolved);
    }

    /// `TestKeepFiringFor` (controllers.md §5.3): `for: 1m`, `keep_firing_for: 1m`, samples
    /// every minute 75 85 70 70 10 10, `> 50`. Firing from 1m, kept at 4m, resolved at 5m:
    /// one evaluation later than "last true + keep".
    #[test]
    fn upstream_keep_firing_for_vector() {
        let out = run(&every(MINUTE, 6), &[true, true, true, true, false, false], &rule(MINUTE, MINUTE));
        let transitions: Vec<_> = out.iter().map(|(t, _)| *t).collect();
        use Transition::*;
        assert_eq!(transitions, [Pending, Fired, Unchanged, Unchanged, KeptFiring, Resolved]);
        assert_eq!(out[4].1.active_at(), Some(0));
        assert_eq!(out[5].1.resolved_at(), Some(5 * MINUTE));
    }

    /// `TestPendingAndKeepFiringFor`: keep_firing_for does not hold up a pending alert.
    #[test]
    fn keep_firing_for_does_not_apply_to_pending_alerts() {
        let out = run(&every(MINUTE, 2), &[true, false], &rule(10 * MINUTE, 10 * MINUTE));
        assert_eq!(out[1], (Transition::PendingDropped, AlertState::Inactive));
    }

    /// A condition that returns while an alert is kept clears `keep_firing_since`: the next
    /// false stretch gets the whole `keep_firing_for` again.
    #[test]
    fn a_true_evaluation_resets_keep_firing_since() {
        let truth = [true, false, true, false, false, false];
        let out = run(&every(MINUTE, 6), &truth, &rule(0, 2 * MINUTE));
        let transitions: Vec<_> = out.iter().map(|(t, _)| *t).collect();
        use Transition::*;
        assert_eq!(transitions, [Fired, KeptFiring, Unchanged, KeptFiring, KeptFiring, Resolved]);
        assert!(matches!(out[4].1, AlertState::Firing { keep_firing_since: Some(t), .. } if t == 3 * MINUTE));
    }

    /// `for: 0` fires in the evaluation that first sees the condition; `for` is compared with
    /// `>=`, so `for: 2m` at a 1m interval fires at the third true evaluation.
    #[test]
    fn for_zero_fires_at_once_and_for_is_inclusive() {
        let out = run(&[7 * SECOND], &[true], &rule(0, 0));
        assert_eq!(out[0].0, Transition::Fired);
        assert_eq!(out[0].1.active_at(), out[0].1.fired_at());
        let out = run(&every(MINUTE, 3), &[true; 3], &rule(2 * MINUTE, 0));
        assert_eq!(out.iter().map(|(t, _)| *t).collect::<Vec<_>>()[2], Transition::Fired);
        assert_eq!(out[1].1, AlertState::Pending { active_at: 0 });
        assert_eq!(out[2].1.fired_at(), Some(2 * MINUTE));
    }

    /// Prometheus 3: a firing alert whose rule's `for` was raised above its age goes back to
    /// pending, and fires again once old enough, as a new firing (a new `FiredAt`).
    #[test]
    fn raising_for_unfires_a_young_alert() {
        let mut a = AlertState::default();
        assert_eq!(a.eval(0, true, &rule(MINUTE, 0)), Transition::Pending);
        assert_eq!(a.eval(MINUTE, true, &rule(MINUTE, 0)), Transition::Fired);
        a.mark_sent(MINUTE);
        assert_eq!(a.eval(2 * MINUTE, true, &rule(5 * MINUTE, 0)), Transition::Unfired);
        assert_eq!(a, AlertState::Pending { active_at: 0 });
        assert_eq!(a.eval(5 * MINUTE, true, &rule(5 * MINUTE, 0)), Transition::Fired);
        assert_eq!(a.fired_at(), Some(5 * MINUTE));
        assert!(a.needs_sending(5 * MINUTE, DEFAULT_RESEND_DELAY));
    }

    /// A resolved alert is kept while `now − resolved_at <= 15m` and forgotten at the first
    /// evaluation past that (strictly greater). A condition that returns in the meantime
    /// starts a new pending alert.
    #[test]
    fn resolved_alerts_are_retained_for_fifteen_minutes() {
        let mut a = AlertState::default();
        let r = rule(0, 0);
        assert_eq!(a.eval(0, true, &r), Transition::Fired);
        assert_eq!(a.eval(MINUTE, false, &r), Transition::Resolved);
        assert_eq!(a.eval(16 * MINUTE, false, &r), Transition::Unchanged);
        assert_eq!(a.resolved_at(), Some(MINUTE));
        assert_eq!(a.eval(17 * MINUTE, false, &r), Transition::Forgotten);
        assert_eq!(a, AlertState::Inactive);

        let mut b = AlertState::default();
        let r = rule(MINUTE, 0);
        b.eval(0, true, &r);
        b.eval(MINUTE, true, &r);
        b.eval(2 * MINUTE, false, &r);
        assert_eq!(b.eval(3 * MINUTE, true, &r), Transition::Pending);
        assert_eq!(b, AlertState::Pending { active_at: 3 * MINUTE });
    }

    /// `needsSending`: sent on firing, re-sent once `last + resend_delay < now` (strict),
    /// resolution sent at once, then re-sent as resolved every resend delay while retained.
    #[test]
    fn sending_follows_the_resend_delay() {
        let r = rule(0, 0);
        let mut a = AlertState::default();
        let mut sent = vec![];
        for i in 0..20u64 {
            let now = i * MINUTE;
            a.eval(now, i < 5, &r);
            if a.needs_sending(now, DEFAULT_RESEND_DELAY) {
                a.mark_sent(now);
                sent.push(i);
            }
        }
        // Firing 0..4: sent at 0, 2, 4 (1m after a send is not yet "more than" 1m). Resolved
        // at 5: sent at once, then 7, 9, … until forgotten after 20m (> 15m past 5m).
        assert_eq!(sent, [0, 2, 4, 5, 7, 9, 11, 13, 15, 17, 19]);
        assert!(!AlertState::Pending { active_at: 0 }.needs_sending(MINUTE, 0));
        assert_eq!(valid_until(MINUTE, DEFAULT_RESEND_DELAY, 15 * SECOND), 5 * MINUTE);
    }

    #[test]
    fn schedule_slots() {
        let s = Schedule::new(MINUTE, 20 * SECOND);
        assert_eq!(s.at_or_before(10 * SECOND), None);
        assert_eq!(s.at_or_before(20 * SECOND), Some(20 * SECOND));
        assert_eq!(s.at_or_before(79 * SECOND), Some(20 * SECOND));
        assert_eq!(s.at_or_before(80 * SECOND), Some(80 * SECOND));
        assert_eq!(s.at_or_after(0), 20 * SECOND);
        assert_eq!(s.at_or_after(80 * SECOND), 80 * SECOND);
        assert_eq!(s.at_or_after(81 * SECOND), 140 * SECOND);
        assert_eq!(s.after(80 * SECOND), 140 * SECOND);
        assert_eq!(s.after(0), 20 * SECOND);
        let slots: Vec<_> = s.between(0, 3 * MINUTE).collect();
        assert_eq!(slots, [20 * SECOND, 80 * SECOND, 140 * SECOND]);
    }

    /// alerting.md §1.2: with evaluation every 60 s aligned with the outage start, a 100%
    /// outage's 1h/5m page (true from 51.84 s) fires at 60 s, and with Pyrra's `for: 2m` at
    /// 180 s.
    #[test]
    fn discrete_evaluation_of_the_workbook_page() {
        let s = Schedule::new(MINUTE, 0);
        let true_from = 51_840 * MILLI;
        for (for_, expected) in [(0, 60 * SECOND), (2 * MINUTE, 180 * SECOND)] {
            let mut a = AlertState::default();
            let fired = s
                .between(MINUTE, HOUR)
                .find(|&t| a.eval(t, t >= true_from, &rule(for_, 0)) == Transition::Fired);
            assert_eq!(fired, Some(expected), "for {for_}");
        }
        assert_eq!(s.at_or_after(true_from), 60 * SECOND);
    }

    /// alerting.md §1.3, the Workbook's Figure 5-6: 15% errors for 10 min against the 1h/5m
    /// page at 14.4 × 0.1% = 1.44%, from a clean history, fluid traffic. The long window
    /// crosses at 345.6 s, the short one drops back 271.2 s after the errors stop (871.2 s):
    /// the rule (both windows, strictly above) holds on (345.6 s, 871.2 s).
    fn figure_5_6(t: SimTime) -> bool {
        let t = t as f64 / SECOND as f64;
        let errors_in = |w: f64| 0.15 * (t.min(600.0) - (t - w).clamp(0.0, 600.0)).max(0.0) / w;
        errors_in(3600.0) > 0.0144 && errors_in(300.0) > 0.0144
    }

    #[test]
    fn figure_5_6_detection_and_reset() {
        // The fluid crossings.
        assert!(!figure_5_6(345_599 * MILLI) && figure_5_6(345_601 * MILLI));
        assert!(figure_5_6(871_199 * MILLI) && !figure_5_6(871_201 * MILLI));
        // Evaluated every minute from the error onset (aligned), or with a 30 s phase; with
        // `for: 0` and with Pyrra's `for: 2m`.
        let cases = [
            (0, 0, 360 * SECOND, 900 * SECOND),
            (0, 2 * MINUTE, 480 * SECOND, 900 * SECOND),
            (30 * SECOND, 0, 390 * SECOND, 930 * SECOND),
        ];
        for (phase, for_, fires, resolves) in cases {
            let s = Schedule::new(MINUTE, phase);
            let r = rule(for_, 0);
            let mut a = AlertState::default();
            let mut fired = None;
            let mut resolved = None;
            for t in s.between(0, 2 * HOUR) {
                match a.eval(t, figure_5_6(t), &r) {
                    Transition::Fired => fired = Some(t),
                    Transition::Resolved => resolved = Some(t),
                    _ => {}
                }
            }
            assert_eq!((fired, resolved), (Some(fires), Some(resolves)), "phase {phase} for {for_}");
            // The first page goes out group_wait after firing.
            assert_eq!(first_notification(fires, fires, DEFAULT_GROUP_WAIT), fires + 30 * SECOND);
        }
    }

    #[test]
    fn alertmanager_notification_timing() {
        // A fresh alert opens a group: first notification after group_wait.
        assert_eq!(first_notification(100 * SECOND, 100 * SECOND, DEFAULT_GROUP_WAIT), 130 * SECOND);
        // Exactly group_wait old is not "before": still waits.
        assert_eq!(first_notification(130 * SECOND, 100 * SECOND, DEFAULT_GROUP_WAIT), 160 * SECOND);
        // An alert that started long ago (e.g. after an Alertmanager restart) goes at once.
        assert_eq!(first_notification(131 * SECOND, 100 * SECOND, DEFAULT_GROUP_WAIT), 131 * SECOND);
        // Joining a group that has flushed: the next flush.
        assert_eq!(next_flush(30 * SECOND, DEFAULT_GROUP_INTERVAL, 0), 30 * SECOND);
        assert_eq!(next_flush(30 * SECOND, DEFAULT_GROUP_INTERVAL, 31 * SECOND), 330 * SECOND);
        assert_eq!(next_flush(30 * SECOND, DEFAULT_GROUP_INTERVAL, 330 * SECOND), 330 * SECOND);
        // Repeat: 4h is exactly 48 group intervals, not "more than" 4h: 4h05m.
        assert_eq!(
            repeat_notification(0, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL),
            4 * HOUR + 5 * MINUTE
        );
        assert_eq!(repeat_notification(0, 7 * MINUTE, HOUR), 63 * MINUTE);
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(5),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// Against a direct reading of the rules: with evaluations every `step`, the alert is
        /// firing after evaluation k exactly when the condition has held at every evaluation
        /// from some j with t_k − t_j ≥ for, or (with keep_firing_for) when it was firing and
        /// the false evaluations since the last true one began less than keep_firing_for ago.
        #[test]
        fn matches_a_direct_model(
            truth in proptest::collection::vec(any::<bool>(), 1..80),
            for_steps in 0u64..5,
            keep_steps in 0u64..4,
            phase in 0u64..60,
        ) {
            let step = MINUTE;
            let r = rule(for_steps * step, keep_steps * step);
            let times: Vec<_> = (0..truth.len() as u64).map(|i| phase * SECOND + i * step).collect();
            let mut a = AlertState::default();
            let mut firing = false;
            let mut run_start: Option<usize> = None;
            let mut false_since: Option<usize> = None;
            for (k, (&t, &b)) in times.iter().zip(&truth).enumerate() {
                a.eval(t, b, &r);
                if b {
                    false_since = None;
                    let j = *run_start.get_or_insert(k);
                    if !firing && times[k] - times[j] >= r.for_ {
                        firing = true;
                    }
                } else {
                    run_start = None;
                    if firing {
                        let f = *false_since.get_or_insert(k);
                        firing = r.keep_firing_for > 0 && times[k] - times[f] < r.keep_firing_for;
                        if !firing {
                            false_since = None;
                        }
                    }
                }
                prop_assert_eq!(a.is_firing(), firing, "evaluation {}", k);
                prop_assert_eq!(a.is_pending(), b && !firing, "evaluation {}", k);
            }
        }

        /// The schedule's slots lie on the grid, `at_or_after` is the least slot ≥ t and
        /// `after` the least slot > t.
        #[test]
        fn schedule_is_the_grid(interval in 1u64..1_000, offset_raw in 0u64..1_000, t in 0u64..100_000) {
            let s = Schedule::new(interval, offset_raw % interval);
            let on_grid = |x: SimTime| x >= s.offset && (x - s.offset).is_multiple_of(interval);
            let ge = s.at_or_after(t);
            prop_assert!(on_grid(ge) && ge >= t && ge < t + interval);
            let gt = s.after(t);
            prop_assert!(on_grid(gt) && gt > t && gt <= t + interval);
            if let Some(le) = s.at_or_before(t) {
                prop_assert!(on_grid(le) && le <= t && t - le < interval);
            } else {
                prop_assert!(t < s.offset);
            }
        }
    }
}
