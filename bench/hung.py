#!/usr/bin/env python3
"""make bench-switch, part 2: a hung live pool (docker pause: connections accepted, never answered)
for HANG seconds under ~RATE req/s from 10 kept-alive connections that never retry. Run twice: with
the stack's watcher, which probes the live pool and moves the route, and without it (nginx's passive
checks alone, as bgctl 0.2 had). Prints failed requests, requests over 1 s (and how many were sent
after the route moved), and the time from the hang to the route move. 127.0.0.1 only, bounded.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "e2e"))
from conftest import BGCTL, Project, remove_project  # noqa: E402
from loadgen import NaiveLoad  # noqa: E402
from receiver import Receiver  # noqa: E402
from test_watcher import WATCH  # noqa: E402

HANG = float(os.environ.get("HANG", "60"))
RATE = int(os.environ.get("RATE", "200"))


def run(with_watcher):
    with tempfile.TemporaryDirectory() as tmp, Receiver() as slack:
        project = Project(Path(tmp))
        remove_project(project.name)
        try:
            if with_watcher:
                project.write_spec(extra=WATCH)
                project.env = {"SLACK_WEBHOOK_URL": slack.url()}
            project.bgctl("up", check=0)
            link = project.dir / "state" / "nginx" / "route" / "current"
            time.sleep(1.5)
            with NaiveLoad(project.url, connections=10, rate_per_connection=RATE // 10, max_requests=int(RATE * (HANG + 10)),
                           max_seconds=HANG + 15) as load:
                time.sleep(1.0)
                hung = time.monotonic()
                project.docker("pause", f"{project.name}-blue")
                moved = None
                while time.monotonic() - hung < HANG:
                    if moved is None and os.readlink(link) == "green":
                        moved = time.monotonic()
                    time.sleep(0.01)
                project.docker("unpause", f"{project.name}-blue")
                time.sleep(1.0)
        finally:
            subprocess.run([BGCTL, "-f", str(project.spec), "down", "--purge", "--yes"], capture_output=True)
            remove_project(project.name)
    after = [s for b, s in load.slow if moved is not None and b > moved]
    label = "with the watcher's probe" if with_watcher else "nginx passive checks only"
    print(f"  {label:26s} {load.sent} sent, {load.failed} failed, {len(load.slow)} over 1 s"
          + (f" ({len(after)} sent after the route moved), route moved {(moved - hung) * 1000:.0f} ms after the hang" if moved else
             ", the route never moved"))
    return load.failed, after


def main():
    print(f"bench-hung: the live pool hangs for {HANG:.0f} s under ~{RATE} req/s (10 connections, no retries)")
    failed, after = run(True)
    run(False)
    if failed or after:
        sys.exit(1)


if __name__ == "__main__":
    main()
