"""End to end: the watcher runs as the stack's fourth container and alerts a local Slack stand-in."""
import subprocess
import threading
import time
import urllib.request

from conftest import BGCTL
from receiver import Receiver


class Traffic:
    """GET / through the proxy at ~rate/s until stopped (bounded to max_seconds); status codes are counted."""

    def __init__(self, url, rate=60, max_seconds=120):
        self.url, self.interval, self.max_seconds = url, 1.0 / rate, max_seconds
        self.codes = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except Exception:
                code = 0
            self.codes[code] = self.codes.get(code, 0) + 1
            self._stop.wait(self.interval)


def chaos(port, action):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/chaos/{action}", method="POST", data=b"")
    urllib.request.urlopen(req, timeout=5).read()


WATCH = """
watch:
  window: 60
  window_seconds: 15
  min_requests: 10
  error_rate_threshold: 10
  cooldown: 2s
  ignore_paths: [/healthz]
  metrics: {enabled: false}   # no fixed host port: test_metrics.py serves them on a free one
alerts:
  slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}
"""


def test_the_stack_watcher_alerts_on_errors_failover_and_after_a_switch(project):
    with Receiver() as slack:
        project.write_spec(extra=WATCH)
        project.env = {"SLACK_WEBHOOK_URL": slack.url()}
        dry = project.bgctl("up", "--dry-run", check=0)
        assert "E2ESECRETTOKEN" not in dry.stdout + dry.stderr
        assert f"docker run --detach --name {project.name}-watcher --network host" in dry.stdout
        project.bgctl("up", check=0)
        assert f"{project.name}-watcher" in project.containers()
        status = project.status(expect=0)
        assert status["watcher"]["state"] == "running" and status["watcher"]["enabled"] is True
        assert "E2ESECRETTOKEN" not in project.bgctl("status", "--json").stdout

        with Traffic(project.url) as traffic:
            time.sleep(2)
            chaos(project.blue_port, "start?mode=error")
            fired = slack.wait_for(lambda t: "error rate" in t and "on blue" in t, 20)
            assert fired, slack.texts()
            chaos(project.blue_port, "stop")
            resolved = slack.wait_for(lambda t: "error rate back to" in t, 20)
            assert resolved, slack.texts()

            # A switch does not blind the watcher: errors on the new live pool alert too.
            project.bgctl("switch", "green", check=0)
            time.sleep(2.5)  # past the cooldown
            chaos(project.green_port, "start?mode=error")
            fired_green = slack.wait_for(lambda t: "error rate" in t and "on green" in t, 20)
            assert fired_green, slack.texts()
            chaos(project.green_port, "stop")
            assert slack.wait_for(lambda t: "error rate back to" in t, 20, count=2), slack.texts()

            # Killing the live pool: nginx fails over to blue and the watcher says so, once.
            time.sleep(2.5)
            project.docker("kill", f"{project.name}-green")
            failover = slack.wait_for(lambda t: "failover" in t and "blue" in t, 20)
            assert failover, slack.texts()
            time.sleep(2)
        assert traffic.codes.get(200, 0) > 100

        assert all(not r["problems"] for r in slack.requests), [r["problems"] for r in slack.requests]
        # One alert for one failover, however the pools alternated; later messages are cooldown reminders.
        assert len([t for t in slack.texts() if t.startswith("🚨") and "failover —" in t]) == 1, slack.texts()
        report = project.status(expect=3)["watcher"]["report"]
        assert report is not None and report["lines"] > 100
        logs = project.docker("logs", f"{project.name}-watcher").stdout + project.docker("logs", f"{project.name}-watcher").stderr
        assert "E2ESECRETTOKEN" not in logs


def test_maintenance_mode_is_picked_up_by_the_running_watcher(project):
    with Receiver() as slack:
        project.write_spec(extra=WATCH)
        project.env = {"SLACK_WEBHOOK_URL": slack.url()}
        project.bgctl("up", check=0)
        project.bgctl("maintenance", "on", "--reason", "e2e", check=0)
        with Traffic(project.url):
            time.sleep(2)
            chaos(project.blue_port, "start?mode=error")
            time.sleep(6)
            assert slack.texts() == [], "maintenance: logged, not sent"
            logs = project.docker("logs", f"{project.name}-watcher").stdout
            assert "maintenance: not sent" in logs
            chaos(project.blue_port, "stop")
            time.sleep(3)
            project.bgctl("maintenance", "off", check=0)
            time.sleep(3)  # past the cooldown of the suppressed alert
            chaos(project.blue_port, "start?mode=error")
            assert slack.wait_for(lambda t: "error rate" in t, 20), "alerts flow again after maintenance off"
            chaos(project.blue_port, "stop")


def test_watch_as_a_ci_gate_exits_5_when_an_alert_fired(project):
    project.write_spec()
    project.bgctl("up", check=0)
    chaos(project.blue_port, "start?mode=error")
    with Traffic(project.url, rate=40):
        gate = project.bgctl("watch", "--for", "4s", "--fail-on-alert", timeout=60)
    assert gate.returncode == 5, gate.stdout + gate.stderr
    assert "ALERT error_rate" in gate.stdout
    chaos(project.blue_port, "stop")
    with Traffic(project.url, rate=40):
        clean = project.bgctl("watch", "--for", "3s", "--fail-on-alert", timeout=60)
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_watch_once_json_summarises_the_real_access_log(project):
    import json
    project.write_spec()
    project.bgctl("up", check=0)
    with Traffic(project.url, rate=50):
        time.sleep(2)
    out = project.bgctl("watch", "--once", "--json", check=0)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["lines"] >= 50
    assert summary["by_pool"].get("blue", 0) >= 50
    assert summary["malformed"] == 0 and summary["status_5xx"] == 0
    assert summary["alerts"] == []


def test_watch_reads_standard_input_until_it_ends_including_odd_bytes(project):
    import json
    lines = [b'{"status":200,"pool":"blue","live":"blue","uri":"/a"}',
             b'{"status":502,"pool":"blue","live":"blue","uri":"/caf\xc3\xa9\xff\xfe"}',
             b'\x00\x01 binary garbage \xff',
             b'{"status":200,"pool":"green","live":"blue","upstream_status":"502, 200"}']
    data = b"\n".join(lines)  # the last line has no newline: it still counts at the end of input
    result = subprocess.run([BGCTL, "-f", str(project.spec), "watch", "--log", "-", "--json"],
                            input=data, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert summary["lines"] == 3 and summary["malformed"] == 1
    assert summary["by_pool"] == {"blue": 2, "green": 1}
    assert summary["status_5xx"] == 1 and summary["retried"] == 1
