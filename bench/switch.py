#!/usr/bin/env python3
"""make bench-switch: N switches under a steady load through the real proxy.

Prints failed requests, the switch command's wall time, and the time from issuing the switch to the
first response from the new pool (median, p90, max). Traffic: 127.0.0.1 only, bounded in count and time.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "e2e"))
from conftest import BGCTL, Project, remove_project  # noqa: E402
from loadgen import Load  # noqa: E402
from test_tls import make_ca_and_certificate, tls_spec  # noqa: E402
from conftest import free_port  # noqa: E402

SWITCHES = int(os.environ.get("SWITCHES", "20"))
RATE = int(os.environ.get("RATE", "200"))  # requests per second in total
TLS = os.environ.get("TLS", "") not in ("", "0")  # TLS=1: the load goes over HTTPS to proxy.tls


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


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
            clients = 4
            with Load(url, keepalive_clients=2, fresh_clients=2, rate_per_client=RATE // clients,
                      max_requests=RATE * (SWITCHES * 2 + 30), max_seconds=SWITCHES * 3 + 60, cafile=cafile) as load:
                time.sleep(1.0)
                walls, firsts = [], []
                target = "green"
                for _ in range(SWITCHES):
                    issued = time.monotonic()
                    project.bgctl("switch", target, check=0)
                    done = time.monotonic()
                    walls.append((done - issued) * 1000)
                    time.sleep(1.0)
                    with load._lock:
                        first = next((s.at for s in load.result.samples if s.at >= issued and s.pool == target), None)
                    if first is not None:
                        firsts.append((first - issued) * 1000)
                    target = "blue" if target == "green" else "green"
                time.sleep(0.5)
            r = load.result
        finally:
            subprocess.run([BGCTL, "-f", str(project.spec), "down", "--purge"], capture_output=True)
            remove_project(project.name)

    print(f"bench-switch: {SWITCHES} switches under ~{RATE} req/s over {'HTTPS' if TLS else 'HTTP'} "
          "(2 keep-alive + 2 new-connection clients)")
    print(f"  requests: {r.sent} sent, {r.ok} ok, {r.failed} failed, "
          f"{r.stale_retries} idle keep-alive connections closed by a reload and retried")
    for name, values in (("switch command wall time", walls), ("issue → first response from new pool", firsts)):
        print(f"  {name:38s} median {statistics.median(values):6.1f} ms  p90 {pct(values, 90):6.1f} ms  max {max(values):6.1f} ms")
    if len(firsts) != SWITCHES:
        print(f"  WARNING: the new pool was not seen after {SWITCHES - len(firsts)} switches")
    if r.failed:
        print("  failures:", r.failures[:10])
        sys.exit(1)


if __name__ == "__main__":
    main()
