#!/usr/bin/env python3
"""make bench-fleet: the all-or-nothing switch across 1, 2 and 3 Docker hosts (each an engine in its own
network namespace, reached over ssh:// through the tests' ssh stand-in), with 0 and 20 ms added to
each ssh connection's set-up.

For each fleet size and delay, SWITCHES switches (alternating green and blue) with --json: the
command's wall time, and the mixed window — from the first host's flip answer to the last one's,
the time during which the hosts served different pools. Printed as median and worst.
The delay is added where the stand-in connects (ssh's set-up), not to every message of a session:
a switch opens one session per host, so the figure shows the cost of reaching each host, not of a
slow link during the flip. Traffic goes only to the test hosts' own addresses.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "e2e"))
from conftest import BGCTL  # noqa: E402
from fleet import DockerHost, SshStandIn, cleanup_stale, fleet_lock  # noqa: E402
from test_fleet import write_spec  # noqa: E402

SWITCHES = int(os.environ.get("SWITCHES", "10"))


def bgctl(spec, env, *args, timeout=300):
    result = subprocess.run([BGCTL, "-f", str(spec)] + list(args), capture_output=True, text=True, timeout=timeout,
                            env=dict(env, NO_COLOR="1"))
    if result.returncode != 0:
        raise SystemExit(f"bgctl {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench/fleet.py needs root (network namespaces)")
    rows = []
    with fleet_lock():
        cleanup_stale()
        for count in (1, 2, 3):
            work = Path(tempfile.mkdtemp(prefix="bgctl-bench-fleet-"))
            hosts = []
            try:
                for number in range(1, count + 1):
                    host = DockerHost(number, work / "fleet")
                    hosts.append(host)
                    host.load()
                ssh = SshStandIn(work / "ssh")
                env = ssh.full_env()
                spec = write_spec(work, hosts)
                began = time.monotonic()
                bgctl(spec, env, "up")
                up = time.monotonic() - began
                for delay in (0, 20):
                    ssh.set_faults({h.name: {"delay_ms": delay} for h in hosts} if delay else {})
                    walls, windows = [], []
                    for index in range(SWITCHES):
                        target = "green" if index % 2 == 0 else "blue"
                        began = time.monotonic()
                        result = json.loads(bgctl(spec, env, "switch", target, "--json").stdout)
                        walls.append((time.monotonic() - began) * 1000)
                        if result["result"] != "switched":
                            raise SystemExit(f"switch {target}: {result}")
                        windows.append(result["mixed_window_ms"])
                    rows.append((count, delay, up, walls, windows))
                    print(f"{count} host(s), +{delay} ms per ssh connection: switch wall median {statistics.median(walls):.0f} ms "
                          f"(worst {max(walls):.0f}), mixed window median {statistics.median(windows):.0f} ms (worst {max(windows):.0f})",
                          flush=True)
                bgctl(spec, env, "down", "--purge", "--yes")
            finally:
                for host in reversed(hosts):
                    host.stop()
                cleanup_stale()
    print("\nhosts  ssh delay  up      switch wall (median / worst)  mixed window (median / worst)")
    for count, delay, up, walls, windows in rows:
        print(f"{count:<6} {delay:>3} ms     {up:4.1f} s  {statistics.median(walls):6.0f} / {max(walls):5.0f} ms"
              f"               {statistics.median(windows):4.0f} / {max(windows):4.0f} ms")


if __name__ == "__main__":
    main()
