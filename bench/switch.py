#!/usr/bin/env python3
"""make bench-switch: switches under steady load through the real proxy, HTTP or HTTPS (TLS=1).

Each figure is printed beside the one measured on bgctl 0.2, whose switch was an nginx reload.
1. SWITCHES switches under ~RATE req/s from clients that never retry (10 kept-alive connections, as
   wrk or a load balancer in front) and, at the same time, from clients that retry as browsers and
   HTTP libraries do (2 kept-alive + 2 new-connection clients, loadgen.Load): failed requests of each;
   the nginx worker PIDs before and after; the switch command's wall time; issue → first response
   from the new pool, split into issue → rename (bgctl's own checks: lock, inspect, health probe,
   journal) and rename → first response (nginx).
2. With wrk installed: wrk -c10 through SWITCHES switches, its socket errors.
3. PAIRS back-to-back `switch X` + fresh request pairs, no load: requests that reached the old pool.
Traffic goes to 127.0.0.1 only, bounded in count and time.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "e2e"))
from conftest import BGCTL, Project, free_port, remove_project  # noqa: E402
from loadgen import Load, NaiveLoad  # noqa: E402
from test_tls import make_ca_and_certificate, tls_spec  # noqa: E402

SWITCHES = int(os.environ.get("SWITCHES", "20"))
PAIRS = int(os.environ.get("PAIRS", "200"))
RATE = int(os.environ.get("RATE", "200"))  # requests per second from the clients that never retry
TLS = os.environ.get("TLS", "") not in ("", "0")

# bgctl 0.2 (switch = nginx reload), measured on this machine kind; see bench/README.md.
BEFORE = {
    "no-retry errors": "177 read errors in 18 reloads (~1 per connection per switch)",
    "workers": "replaced by every switch",
    "wall": "~200-240 ms",
    "first": "~150-210 ms",
    "pairs": "1 of 40 reached the old pool",
}


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def figures(values):
    if not values:
        return "no samples"
    return f"median {statistics.median(values):6.1f} ms  p90 {pct(values, 90):6.1f} ms  max {max(values):6.1f} ms"


def workers(project):
    out = project.docker("top", f"{project.name}-proxy").stdout.splitlines()
    column = out[0].split().index("PID")
    return sorted(line.split()[column] for line in out[1:] if "nginx: worker process" in line)


class RenameWatch:
    """Notes when nginx/route/current changes its target (polled every 0.2 ms while a switch runs)."""

    def __init__(self, link):
        self.link, self.at, self._stop = link, None, threading.Event()

    def __enter__(self):
        self.before = os.readlink(self.link)
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def _poll(self):
        deadline = time.monotonic() + 10
        while not self._stop.is_set() and time.monotonic() < deadline:
            if os.readlink(self.link) != self.before:
                self.at = time.monotonic()
                return
            time.sleep(0.0002)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def fresh_pool(url, cafile):
    request = urllib.request.Request(url + "healthz", headers={"Connection": "close"})
    context = None
    if cafile:
        import ssl
        context = ssl.create_default_context(cafile=cafile)
    with urllib.request.urlopen(request, timeout=5, context=context) as response:
        return response.headers["X-Bgctl-Pool"]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp))
        remove_project(project.name)
        try:
            url, cafile = project.url, None
            if TLS:
                tls_port = free_port()
                ca, cert, key = make_ca_and_certificate(Path(tmp) / "tls")
                tls_spec(project, tls_port, cert, key)
                url, cafile = f"https://127.0.0.1:{tls_port}/", str(ca)
            project.bgctl("up", check=0)
            link = str(project.dir / "state" / "nginx" / "route" / "current")
            before_workers = workers(project)
            walls, firsts, to_rename, rename_to_first = [], [], [], []
            seconds = SWITCHES * 1.5 + 30
            with NaiveLoad(url, connections=10, rate_per_connection=max(1, RATE // 10), max_requests=RATE * int(seconds),
                           max_seconds=seconds, cafile=cafile) as naive, \
                    Load(url, keepalive_clients=2, fresh_clients=2, rate_per_client=25, max_requests=100 * int(seconds),
                         max_seconds=seconds, cafile=cafile) as standard:
                time.sleep(1.0)
                target = "green"
                for _ in range(SWITCHES):
                    with RenameWatch(link) as rename:
                        issued = time.monotonic()
                        project.bgctl("switch", target, check=0)
                        done = time.monotonic()
                    walls.append((done - issued) * 1000)
                    time.sleep(1.0)
                    with naive._lock:
                        first = next((at for at, pool in naive.samples if at >= issued and pool == target), None)
                    if first is not None:
                        firsts.append((first - issued) * 1000)
                        if rename.at is not None:
                            to_rename.append((rename.at - issued) * 1000)
                            rename_to_first.append((first - rename.at) * 1000)
                    target = "blue" if target == "green" else "green"
                time.sleep(0.5)
            after_workers = workers(project)

            wrk_line = None
            if shutil.which("wrk"):
                duration = SWITCHES * 0.5 + 2
                wrk = subprocess.Popen(["wrk", "-t2", "-c10", f"-d{duration:.0f}s", url], stdout=subprocess.PIPE, text=True)
                time.sleep(1.0)
                for _ in range(SWITCHES):
                    project.bgctl("switch", target, check=0)
                    target = "blue" if target == "green" else "green"
                    time.sleep(0.5)
                out, _ = wrk.communicate(timeout=duration + 30)
                requests = re.search(r"(\d+) requests in", out)
                errors = re.search(r"Socket errors: (.*)", out)
                non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
                wrk_line = (f"{requests.group(1) if requests else '?'} requests, socket errors: "
                            f"{errors.group(1) if errors else 'none'}, non-2xx: {non2xx.group(1) if non2xx else 0}")

            stale = []
            for n in range(PAIRS):
                project.bgctl("switch", target, check=0)
                served = fresh_pool(url, cafile)
                if served != target:
                    stale.append((n, target, served))
                target = "blue" if target == "green" else "green"
        finally:
            subprocess.run([BGCTL, "-f", str(project.spec), "down", "--purge", "--yes"], capture_output=True)
            remove_project(project.name)

    r = standard.result
    print(f"bench-switch over {'HTTPS' if TLS else 'HTTP'}: {SWITCHES} switches under ~{RATE} req/s (no retries, 10 connections)"
          f" + ~100 req/s (retrying clients); before = bgctl 0.2, a reload per switch")
    print(f"  clients that never retry: {naive.sent} sent, {naive.failed} failed          before: {BEFORE['no-retry errors']}")
    print(f"  retrying clients:         {r.sent} sent, {r.failed} failed, {r.stale_retries} stale keep-alive retries, "
          f"{r.idle_closed} idle connections closed")
    same = before_workers == after_workers
    print(f"  nginx workers:            {'the same' if same else 'replaced'} ({' '.join(before_workers)} → {' '.join(after_workers)})"
          f"          before: {BEFORE['workers']}")
    print(f"  switch wall time:                     {figures(walls)}   before: {BEFORE['wall']}")
    print(f"  issue → first response from new pool: {figures(firsts)}   before: {BEFORE['first']}")
    print(f"    of which issue → rename (bgctl):    {figures(to_rename)}")
    print(f"    of which rename → first response:   {figures(rename_to_first)}")
    if wrk_line:
        print(f"  wrk -c10 through {SWITCHES} switches:    {wrk_line}")
    else:
        print("  wrk: not installed (apt-get install wrk), not measured")
    print(f"  {PAIRS} back-to-back switch + fresh request pairs: {len(stale)} reached the old pool   before: {BEFORE['pairs']}")
    if len(firsts) != SWITCHES:
        print(f"  WARNING: the new pool was not seen after {SWITCHES - len(firsts)} switches")
    if naive.failed or r.failed or stale or not same:
        print("  failures:", (naive.errors + r.failures)[:10], stale[:10])
        sys.exit(1)


if __name__ == "__main__":
    main()
