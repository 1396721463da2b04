"""End to end: bgctl owns the proxy's log rotation. The stack's watcher (in the proxy's PID namespace)
renames access.log past logs.max_size and sends USR1 to nginx; no line is lost or counted twice, and
with a small logs.keep the disk stays bounded."""
import glob
import json
import os
import time

from loadgen import Load
from receiver import Receiver

RATE = 200  # requests per second: 4 clients x 50


def spec_extra(keep):
    return f"""
watch:
  window: 60
  window_seconds: 15
  min_requests: 10
alerts:
  slack: {{webhook_url: "${{SLACK_WEBHOOK_URL}}"}}
logs: {{max_size: 64KiB, keep: {keep}}}
"""


def log_files(project):
    return sorted(glob.glob(str(project.dir / "state" / "logs" / "access.log*")))


def disk_lines(project):
    total = 0
    for path in log_files(project):
        with open(path, "rb") as f:
            total += f.read().count(b"\n")
    return total


def load_lines(project):
    """Lines of the load generator's requests (its User-Agent) across access.log*."""
    total = 0
    for path in log_files(project):
        with open(path, "rb") as f:
            total += sum(1 for line in f if b'"user_agent":"bgctl-e2e-load"' in line)
    return total


def disk_bytes(project):
    return sum(os.path.getsize(p) for p in log_files(project) if os.path.exists(p))


def watcher_status(project):
    path = project.dir / "state" / "watcher" / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return predicate()


def run_load(project, requests, sample=None):
    """Sends `requests` GETs at RATE per second and waits for all of them; `sample` runs every 0.2 s meanwhile."""
    load = Load(project.url, rate_per_client=RATE // 4, max_requests=requests, max_seconds=60)
    load.start()
    while any(t.is_alive() for t in load._threads):
        if sample:
            sample()
        time.sleep(0.2)
    return load.stop()


def stack_status(project):
    return json.loads(project.bgctl("status", "--json").stdout)


def watcher_lines(project):
    status = watcher_status(project)
    return status["lines"] if status else -1


def test_the_stack_watcher_rotates_the_access_log_without_losing_a_line(project):
    with Receiver() as slack:
        project.write_spec(extra=spec_extra(keep=50))
        project.env = {"SLACK_WEBHOOK_URL": slack.url()}
        project.bgctl("up", check=0)
        watcher = project.docker("inspect", "--format", "{{.HostConfig.PidMode}} {{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}",
                                 f"{project.name}-watcher").stdout
        assert watcher.startswith(f"container:") and " json-file " in watcher and '"max-file":"50"' in watcher, watcher
        assert wait_until(lambda: watcher_status(project) is not None, 10), "the watcher writes its status"

        # Phase 1: every rotated file kept; counts must match exactly.
        time.sleep(1.5)  # past a status tick; nothing else writes to the log (health checks are not logged)
        lines_before = disk_lines(project)
        watched_before = watcher_lines(project)
        result = run_load(project, 3000)
        answered = result.sent - result.failed
        assert result.failed == 0, result.summary() + f" {result.failures[:5]}"
        assert answered == 3000, result.summary()
        assert wait_until(lambda: disk_lines(project) - lines_before >= answered, 10)
        assert load_lines(project) == answered, "the load's lines across access.log* equal the answers it got"
        assert disk_lines(project) - lines_before == answered, "nothing else was logged and nothing twice"
        assert wait_until(lambda: watcher_lines(project) - watched_before == answered, 15), (
            f"the watcher counted {watcher_lines(project) - watched_before} of {answered}")
        rotated = [p for p in log_files(project) if not p.endswith("access.log")]
        assert len(rotated) >= 3, rotated
        assert (watcher_status(project) or {}).get("rotated", 0) >= 3, watcher_status(project)
        status = project.status(expect=0)
        assert status["watcher"]["state"] == "running"

        # Phase 2: keep 2. The spec change recreates the proxy (docker's log limits changed), so up
        # recreates the watcher in the new proxy's PID namespace; up itself removes the files past 2.
        with open(log_files(project)[-1], "rb") as f:
            longest = max((len(line) for line in f), default=400)
        project.write_spec(extra=spec_extra(keep=2))
        project.bgctl("up", check=0)
        assert set(os.path.basename(p) for p in log_files(project)) <= {"access.log", "access.log.1", "access.log.2"}
        assert wait_until(lambda: stack_status(project)["watcher"]["state"] == "running", 15), stack_status(project)
        # The old watcher is gone (up removed it); the recreated one counts its rotations from zero and
        # writes its status within a second.
        (project.dir / "state" / "watcher" / "status.json").unlink(missing_ok=True)
        assert wait_until(lambda: watcher_status(project) is not None, 10), "the recreated watcher writes its status"
        rotated_before = (watcher_status(project) or {}).get("rotated", 0)
        peak = [0]
        result = run_load(project, 2000, sample=lambda: peak.__setitem__(0, max(peak[0], disk_bytes(project))))
        peak = peak[0]
        assert result.failed == 0, result.summary()
        time.sleep(1.5)
        peak = max(peak, disk_bytes(project))
        # Three files of 64 KiB, each allowed to pass it by what one watcher tick (1 s) brings, twice
        # over for the renamed file nginx writes into until it has reopened.
        bound = 3 * (64 * 1024 + 2 * RATE * longest)
        assert peak <= bound, f"at most {bound} bytes on disk with keep 2, peaked at {peak}"
        assert set(os.path.basename(p) for p in log_files(project)) <= {"access.log", "access.log.1", "access.log.2"}
        assert wait_until(lambda: (watcher_status(project) or {}).get("rotated", 0) >= rotated_before + 3, 10), (
            "the recreated watcher rotates too", watcher_status(project))
        print(f"rotation e2e: phase 1 {answered} requests, {len(rotated)} rotated files; phase 2 peak {peak} bytes (bound {bound})")
