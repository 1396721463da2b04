#!/usr/bin/env python3
"""make bench-watch: the watcher's figures.

1. Parser on one core (bgctl-bench parse) over a realistic 1M-line log it generates.
2. `bgctl watch --once` over the same file: wall time, lines/s, MB/s, ratio to `cat`, peak RSS.
3. Alert latency: a following `bgctl watch` (inotify), from appending the line that crosses the
   threshold to the webhook request arriving at a local receiver on 127.0.0.1 (p50, p90, max).
"""
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "e2e"))
from receiver import Receiver  # noqa: E402

BGCTL = os.environ.get("BGCTL_BIN", str(ROOT / ".build" / "release" / "bgctl"))
BENCH = os.environ.get("BGCTL_BENCH_BIN", str(ROOT / ".build" / "release" / "bgctl-bench"))
LINES = int(os.environ.get("LINES", "1000000"))
ROUNDS = int(os.environ.get("ROUNDS", "40"))


def timed(cmd, runs=3, **kw):
    best, rss, out = float("inf"), 0, None
    for _ in range(runs):
        started = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, **kw)
        best = min(best, time.perf_counter() - started)
        rss = max(rss, int(p.stderr.strip().splitlines()[-1]))
        out = p
    return best, rss, out


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def spec(tmp, url, extra=""):
    path = Path(tmp) / "bgctl.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        project: benchwatch
        pools:
          blue:  {{image: "bench:1", release: "b1"}}
          green: {{image: "bench:2", release: "g1"}}
        watch:
          window: 20
          window_seconds: 600
          min_requests: 20
          error_rate_threshold: 50
          cooldown: 0s
        alerts:
          webhooks: [{{url: "{url}"}}]
        """) + extra)
    return path


def main():
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        subprocess.run([BENCH, "generate", str(log), str(LINES)], check=True)
        size_mb = log.stat().st_size / 1e6
        print(f"bench-watch: {LINES} lines, {size_mb:.1f} MB generated")
        print(subprocess.run([BENCH, "parse", str(log)], capture_output=True, text=True, check=True).stdout, end="")

        cat_time, _, _ = timed(["sh", "-c", f"cat {log} > /dev/null"])
        with Receiver() as receiver:
            spec_path = spec(tmp, receiver.url("/hook"))
            watch_time, rss, out = timed([BGCTL, "-f", str(spec_path), "watch", "--once", "--log", str(log), "--json"])
            summary = out.stdout.strip().splitlines()[-1]
        print(f"watch --once: {watch_time:.3f} s = {LINES / watch_time / 1e6:.2f} M lines/s, {size_mb / watch_time:.0f} MB/s; "
              f"cat: {cat_time:.3f} s; ratio to cat {watch_time / cat_time:.1f}x; peak RSS {rss / 1024:.1f} MiB")
        print(f"watch --once summary: {summary[:160]}...")

        # Alert latency, following the file with inotify.
        live = Path(tmp) / "live.log"
        ok = '{"status":200,"pool":"blue","live":"blue","uri":"/"}\n'
        bad = '{"status":500,"pool":"blue","live":"blue","uri":"/fail"}\n'
        live.write_text(ok * 20)
        with Receiver() as receiver:
            spec_path = spec(tmp, receiver.url("/hook"))
            watcher = subprocess.Popen([BGCTL, "-f", str(spec_path), "watch", "--from-start", "--log", str(live)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(1.0)
                latencies = []
                fd = os.open(live, os.O_WRONLY | os.O_APPEND)
                for _ in range(ROUNDS):
                    before = len(receiver.requests)
                    started = time.perf_counter()
                    os.write(fd, (bad * 10).encode())  # the 10th line crosses 50%
                    deadline = time.monotonic() + 5
                    while len(receiver.requests) == before and time.monotonic() < deadline:
                        time.sleep(0.0002)
                    if len(receiver.requests) > before:
                        latencies.append((receiver.requests[before]["at"] - started) * 1000)
                    os.write(fd, (ok * 20).encode())  # resolves
                    deadline = time.monotonic() + 5
                    while len(receiver.requests) < before + 2 and time.monotonic() < deadline:
                        time.sleep(0.001)
                os.close(fd)
                with open(f"/proc/{watcher.pid}/status") as status:
                    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
            finally:
                watcher.terminate()
                watcher.wait(10)
        print(f"alert latency (append → webhook request arrives), {len(latencies)} of {ROUNDS} rounds: "
              f"p50 {statistics.median(latencies):.2f} ms, p90 {pct(latencies, 90):.2f} ms, max {max(latencies):.2f} ms; "
              f"following watcher peak RSS {hwm / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
