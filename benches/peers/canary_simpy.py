"""The bench canary (benches/peers/canary.yaml) as a per-request SimPy model.

rollsim's peer benchmark: the same release simulated the way a SimPy user would write it,
one process per request, to measure how many requests per CPU-second each simulator gets
through. The model follows the scenario:

* 1,000 requests/s, Poisson arrivals, from 10,000 users (each request picks one uniformly);
* a Rollout of 20 pods of version 1 (0.1% errors) behind an Istio route; at 5m it releases
  version 2 (0.1% errors plus a 1% fault, so 1 - 0.999 * 0.99 fail) with the steps
  setWeight 10, pause 10m, setWeight 50, pause 10m, setWeight 100: each step scales the
  canary to ceil(weight% of 20) pods, waits until they are Ready, then sets the weight;
* a pod starts after a log-normal delay (median 20 s, p99 60 s) and is Ready at its next
  readiness probe (every 5 s from its start);
* each request goes to the canary with probability weight/100, to a uniformly chosen Ready
  pod of that side; a pod serves at most 200 requests per aligned second (the rest are
  dropped); a request fails with its version's error probability, and otherwise takes a
  log-normal latency (p50 50 ms, p99 250 ms), after which it completes (30 s timeout);
* after the last step the stable side is version 2; the old pods go 30 s later.

Simplified against rollsim (the cost per request is what is compared, not the results):
no node scheduling or image pulls, no endpoint propagation delay, no in-flight kills.

Prints one JSON object with the counts.
"""

import argparse
import json
import math
import random

import simpy

Z99 = 2.3263478740408408  # the standard normal's 99th percentile


def lognormal(median, p99):
    return math.log(median), math.log(p99 / median) / Z99


class Pod:
    __slots__ = ("version", "ready", "second", "served")

    def __init__(self, version):
        self.version = version
        self.ready = False
        self.second = -1
        self.served = 0


class Canary:
    def __init__(self, env, rng, duration):
        self.env = env
        self.rng = rng
        self.duration = duration
        self.replicas = 20
        self.stable = [Pod(1) for _ in range(self.replicas)]
        for p in self.stable:
            p.ready = True
        self.canary = []
        self.weight = 0.0
        self.error = {1: 0.001, 2: 1.0 - 0.999 * 0.99}
        self.latency = lognormal(0.050, 0.250)
        self.startup = lognormal(20.0, 60.0)
        self.counts = dict(requests=0, succeeded=0, failed=0, dropped=0, timed_out=0,
                           new_version_requests=0, bad_requests=0)
        self.bad_users = set()

    def start_pod(self, pod):
        mu, sigma = self.startup
        started = self.rng.lognormvariate(mu, sigma)
        yield self.env.timeout(started)
        yield self.env.timeout(5.0)  # the first readiness probe
        pod.ready = True

    def scale_canary(self, n):
        while len(self.canary) < n:
            pod = Pod(2)
            self.canary.append(pod)
            self.env.process(self.start_pod(pod))

    def rollout(self):
        yield self.env.timeout(300.0)  # the release at 5m
        for weight, pause in ((10, 600.0), (50, 600.0), (100, None)):
            self.scale_canary(math.ceil(self.replicas * weight / 100))
            while not all(p.ready for p in self.canary):
                yield self.env.timeout(1.0)
            self.weight = weight / 100.0
            if pause is not None:
                yield self.env.timeout(pause)
        # Promoted: the canary pods are the stable ones; the old ones go after 30 s.
        yield self.env.timeout(30.0)
        self.stable, self.canary, self.weight = self.canary, [], 0.0

    def arrivals(self):
        env, rng = self.env, self.rng
        while True:
            yield env.timeout(rng.expovariate(1000.0))
            env.process(self.request())

    def request(self):
        env, rng, c = self.env, self.rng, self.counts
        c["requests"] += 1
        user = rng.randrange(10000)
        side = self.canary if self.canary and rng.random() < self.weight else self.stable
        ready = [p for p in side if p.ready]
        if not ready:
            c["dropped"] += 1
            return
        pod = rng.choice(ready)
        new = pod.version == 2
        if new:
            c["new_version_requests"] += 1
        second = int(env.now)
        if pod.second != second:
            pod.second, pod.served = second, 0
        if pod.served >= 200:
            c["dropped"] += 1
            self.bad(new, user)
            return
        pod.served += 1
        if rng.random() < self.error[pod.version]:
            c["failed"] += 1
            self.bad(new, user)
            return
        mu, sigma = self.latency
        latency = rng.lognormvariate(mu, sigma)
        if latency > 30.0:
            yield env.timeout(30.0)
            c["failed"] += 1
            c["timed_out"] += 1
            self.bad(new, user)
            return
        yield env.timeout(latency)
        c["succeeded"] += 1

    def bad(self, new, user):
        if new:
            self.counts["bad_requests"] += 1
            self.bad_users.add(user)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3600.0, help="simulated seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = simpy.Environment()
    model = Canary(env, random.Random(args.seed), args.duration)
    env.process(model.arrivals())
    env.process(model.rollout())
    env.run(until=args.duration)
    out = dict(model.counts, users_affected=len(model.bad_users))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
