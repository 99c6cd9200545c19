#!/usr/bin/env python3
"""rollsim against a SimPy model of the same per-request canary, side by side in one run.

    python3 benches/peers/bench.py [--duration 20m] [--runs 3]

Installs SimPy (pinned) with pip into target/peers-venv, builds rollsim in release mode,
then runs, in turn and `--runs` times each, rollsim's request fidelity on
benches/peers/canary.yaml (one replication, one thread) and benches/peers/canary_simpy.py
over the same simulated time. Each run's CPU time (user + system, the operating system's
accounting of the finished child) divides the requests it simulated: the table shows the
median requests per CPU-second of each, the median of the run-by-run ratios, and the
counts of both models, which should agree in size (same traffic and error rates).
Issue 5's target: rollsim at least 50x SimPy.
"""

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(ROOT, "benches", "peers")
VENV = os.path.join(ROOT, "target", "peers-venv")
SIMPY = "simpy==4.1.1"


def seconds(text):
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def venv_python():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", SIMPY], check=True)
    return python


def timed(cmd):
    """Runs cmd; returns its standard output and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, cpu


def rollsim_run(binary, duration, out_dir):
    cmd = [binary, "run", os.path.join(PEERS, "canary.yaml"), "--replications", "1",
           "--threads", "1", "--set", "spec.fidelity=request",
           "--set", f"spec.duration={int(duration)}s", "--out", out_dir, "--format", "csv"]
    _, cpu = timed(cmd)
    with open(os.path.join(out_dir, "runs.csv"), newline="") as f:
        row = next(csv.DictReader(f))
    counts = {k: int(float(row[k])) for k in ("requests", "new_version_requests", "bad_requests",
                                             "users_affected")}
    return counts, cpu


def simpy_run(python, duration):
    out, cpu = timed([python, os.path.join(PEERS, "canary_simpy.py"), "--duration", str(duration)])
    counts = json.loads(out)
    return {k: counts[k] for k in ("requests", "new_version_requests", "bad_requests",
                                   "users_affected")}, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="20m", help="simulated time, e.g. 20m or 1h")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    duration = seconds(args.duration)
    python = venv_python()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "rollsim")
    rates = {"rollsim": [], "simpy": []}
    ratios = []
    last = {}
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(args.runs):
            r_counts, r_cpu = rollsim_run(binary, duration, out_dir)
            s_counts, s_cpu = simpy_run(python, duration)
            r_rate, s_rate = r_counts["requests"] / r_cpu, s_counts["requests"] / s_cpu
            rates["rollsim"].append(r_rate)
            rates["simpy"].append(s_rate)
            ratios.append(r_rate / s_rate)
            last = {"rollsim": r_counts, "simpy": s_counts}
    print(f"the bench canary, {args.duration} simulated, {args.runs} runs each, one core")
    print(f"{'':<10} {'requests/CPU-s':>15} {'requests':>10} {'new version':>12} {'bad':>8} {'users hit':>10}")
    for name in ("rollsim", "simpy"):
        c = last[name]
        print(f"{name:<10} {statistics.median(rates[name]):>15,.0f} {c['requests']:>10,} "
              f"{c['new_version_requests']:>12,} {c['bad_requests']:>8,} {c['users_affected']:>10,}")
    print(f"rollsim's request fidelity is {statistics.median(ratios):.0f}x SimPy "
          f"(median of the run-by-run ratios; range {min(ratios):.0f}x-{max(ratios):.0f}x)")


if __name__ == "__main__":
    main()
