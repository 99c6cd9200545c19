//! Destinations: where a request goes before it reaches a pod.
//!
//! A destination is what a route names: a Service (the stable and canary Services of Argo's
//! host-level mode, Flagger's `<app>-primary` and `<app>-canary`) or a mesh subset (a
//! `DestinationRule` subset of one host). Each has its own list of Ready endpoints, and a
//! pod may be an endpoint of several (a stable Service and a canary Service that both
//! select it). A request is routed in two steps, as in Istio/Envoy (`controllers.md` §4):
//! the route's weighted pick chooses a destination, each request independently, and the
//! destination spreads its requests evenly over its endpoints (kube-proxy or Envoy's
//! round robin over endpoints, modelled as a uniform pick). Without a mesh there is one
//! destination, a Service whose endpoints are the pods of every version it selects, so the
//! versions divide traffic by endpoint count.

use super::Tally;
use super::mesh::WeightedRoute;

/// A destination of the traffic's route, in the order `TrafficSim::add_destination`
/// created them; destination 0 always exists (the Service of a scenario without a mesh).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestinationId(pub u32);

impl DestinationId {
    /// The destination every traffic model starts with, and the default route's only one.
    pub const DEFAULT: DestinationId = DestinationId(0);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One destination: its endpoints and what it received since the tallies were last taken.
#[derive(Clone, Debug, Default)]
pub(super) struct Destination {
    /// Endpoint pods, in the order they were added (the order fixes which random draw picks
    /// which pod, so it is kept stable across removals).
    pub endpoints: Vec<u32>,
    /// `member[pod]`: the pod is in `endpoints` (missing entries are `false`).
    member: Vec<bool>,
    /// Whether the current route can pick this destination (a kept, positive weight).
    pub routed: bool,
    /// Requests routed here, and those of them that failed or were dropped, since the last
    /// `take_destination_tallies`.
    pub tally: Tally,
}

impl Destination {
    pub fn has(&self, pod: u32) -> bool {
        self.member.get(pod as usize).copied().unwrap_or(false)
    }

    /// Adds or removes `pod`; returns whether anything changed.
    pub fn set(&mut self, pod: u32, serving: bool) -> bool {
        if self.has(pod) == serving {
            return false;
        }
        let i = pod as usize;
        if self.member.len() <= i {
            self.member.resize(i + 1, false);
        }
        self.member[i] = serving;
        if serving {
            self.endpoints.push(pod);
        } else if let Some(at) = self.endpoints.iter().position(|&e| e == pod) {
            self.endpoints.remove(at);
        }
        true
    }
}

/// The destinations and the route over them.
#[derive(Clone, Debug)]
pub(super) struct Routing {
    pub destinations: Vec<Destination>,
    pub route: WeightedRoute<DestinationId>,
    /// The route's destinations with their probabilities, in route order (cached).
    pub shares: Vec<(DestinationId, f64)>,
    /// The destination of a plain route, which takes every request without a draw.
    pub single: Option<DestinationId>,
}

impl Routing {
    /// One destination, 0, that gets everything.
    pub fn new() -> Self {
        let mut routing = Self {
            destinations: vec![Destination::default()],
            route: WeightedRoute::plain(DestinationId::DEFAULT),
            shares: Vec::new(),
            single: None,
        };
        routing.refresh();
        routing
    }

    /// One request's destination: Envoy's weighted pick, or the only one without a draw.
    #[inline]
    pub fn pick(&self, rng: &mut crate::engine::SimRng) -> DestinationId {
        match self.single {
            Some(d) => d,
            None => self.route.pick(rng),
        }
    }

    pub fn add(&mut self) -> DestinationId {
        let id = DestinationId(u32::try_from(self.destinations.len()).expect("fewer than 2^32 destinations"));
        self.destinations.push(Destination::default());
        id
    }

    /// Replaces the route (its destinations must exist).
    pub fn set_route(&mut self, route: &WeightedRoute<DestinationId>) {
        for d in route.destinations() {
            assert!(d.index() < self.destinations.len(), "route names unknown destination {d:?}");
        }
        self.route = route.clone();
        self.refresh();
    }

    fn refresh(&mut self) {
        self.shares.clear();
        self.shares.extend(self.route.destinations().enumerate().map(|(i, d)| (d, self.route.share(i))));
        self.single = (self.route.total_weight().is_none()).then(|| self.shares[0].0);
        for d in &mut self.destinations {
            d.routed = false;
        }
        for &(d, _) in &self.shares {
            self.destinations[d.index()].routed = true;
        }
    }

    /// The number of routed destinations that have `pod` as an endpoint.
    pub fn routed_memberships(&self, pod: u32) -> u32 {
        self.destinations.iter().filter(|d| d.routed && d.has(pod)).count() as u32
    }

    /// Whether `pod` is an endpoint of a routed destination that comes before the `i`-th
    /// one of the route (so that pods in several destinations are counted once).
    pub fn in_earlier_routed(&self, i: usize, pod: u32) -> bool {
        self.shares[..i].iter().any(|&(d, _)| self.destinations[d.index()].has(pod))
    }
}
