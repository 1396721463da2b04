"""services on the real engine: workers run the live release and only it. A deploy and a rollback move
them with the traffic; stop-first never runs two releases' workers at once, start-first overlaps them
briefly. The start and stop times are the engine's own (docker events)."""
import json
import time
from datetime import datetime

from loadgen import Load

IMAGE = "bgctl/demo-app:local"


def spec(project, order):
    project.write_spec(extra=f"""
deploy:
  drain_quiet: 1s
  drain_timeout: 10s
  analyze: 1s
  before_switch: [[/demo-app, task, --lines, "2", --sleep, "0.5"]]
watch: {{min_requests: 1}}
services:
  worker: {{command: [worker], replicas: 2, stop_timeout: 5s, env: {{QUEUE: default}}}}
services_order: {order}
""")


def workers(project):
    out = project.docker("ps", "--format", "{{.Names}}", "--filter", f"label=io.bgctl.project={project.name}",
                         "--filter", "label=io.bgctl.role=service").stdout
    return sorted(out.split())


def lifetimes(project, since, until):
    """Each service container's start and die times (seconds since the epoch) by the engine's events."""
    out = project.docker("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--format", "{{json .}}",
                         "--filter", f"label=io.bgctl.project={project.name}", "--filter", "label=io.bgctl.role=service",
                         "--filter", "type=container").stdout
    spans = {}
    for line in out.splitlines():
        event = json.loads(line)
        name = event["Actor"]["Attributes"]["name"]
        at = event["timeNano"] / 1e9
        if event["Action"] == "start":
            spans.setdefault(name, {})["start"] = at
        elif event["Action"] == "die":
            spans.setdefault(name, {})["die"] = at
    return spans


def overlap(spans, old, new):
    """Seconds during which a worker of `old` and one of `new` ran at once (negative: the gap between)."""
    last_die = max(s["die"] for n, s in spans.items() if f"-{old}-" in n)
    first_start = min(s["start"] for n, s in spans.items() if f"-{new}-" in n)
    return last_die - first_start


def move(project, *args, order):
    started = time.time()
    with Load(project.url, keepalive_clients=1, fresh_clients=1, rate_per_client=20, max_requests=4000, max_seconds=60) as load:
        time.sleep(0.3)
        t0 = time.monotonic()
        out = project.bgctl(*args, check=0, timeout=120)
        took = time.monotonic() - t0
    time.sleep(0.5)
    spans = lifetimes(project, started, time.time())
    return out, took, spans, load


def test_workers_follow_a_deploy_and_a_rollback_and_stop_first_never_overlaps(project):
    spec(project, "stop-first")
    project.bgctl("up", check=0)
    assert workers(project) == [f"{project.name}-blue-worker-1", f"{project.name}-blue-worker-2"]
    status = project.status(expect=0)
    assert status["services"] == [{"name": "worker", "release": "r-blue", "pool": "blue", "containers": [
        {"name": f"{project.name}-blue-worker-1", "state": "running"}, {"name": f"{project.name}-blue-worker-2", "state": "running"}]}], status

    out, took, spans, load = move(project, "deploy", "--image", IMAGE, "--release", "v2", order="stop-first")
    assert workers(project) == [f"{project.name}-green-worker-1", f"{project.name}-green-worker-2"], out.stderr
    deploy_err = out.stderr
    logs = project.docker("logs", f"{project.name}-green-worker-1").stdout
    assert "worker: started pool=green release=v2" in logs, logs
    deploy_gap = -overlap(spans, "blue", "green")
    assert deploy_gap >= 0, f"stop-first ran both releases' workers for {-deploy_gap:.3f} s: {spans}"
    assert load.result.failed == 0, load.result.summary()
    assert project.status(expect=0)["services"][0]["release"] == "v2"

    out, rollback_took, spans, load = move(project, "rollback", order="stop-first")
    assert workers(project) == [f"{project.name}-blue-worker-1", f"{project.name}-blue-worker-2"], out.stderr
    rollback_gap = -overlap(spans, "green", "blue")
    assert rollback_gap >= 0, f"stop-first overlapped on the rollback: {spans}"
    assert load.result.failed == 0, load.result.summary()
    phases = [line.strip() for line in deploy_err.splitlines() if line.startswith("✓")]
    print("\ndeploy phases:\n  " + "\n  ".join(phases))
    print(f"stop-first: deploy {took:.1f} s, gap {deploy_gap * 1000:.0f} ms; rollback {rollback_took:.1f} s, gap {rollback_gap * 1000:.0f} ms")


def test_start_first_starts_the_new_workers_before_the_old_stop(project):
    spec(project, "start-first")
    project.bgctl("up", check=0)
    out, took, spans, load = move(project, "switch", "green", order="start-first")
    assert workers(project) == [f"{project.name}-green-worker-1", f"{project.name}-green-worker-2"], out.stderr
    both = overlap(spans, "blue", "green")
    assert both > 0, f"start-first: the new workers started only after the old died: {spans}"
    assert both < 10, f"{both:.3f} s of overlap"
    assert load.result.failed == 0, load.result.summary()
    print(f"\nstart-first: switch {took:.1f} s, overlap {both * 1000:.0f} ms")


def test_up_restarts_a_dead_worker_and_down_stops_them(project):
    spec(project, "stop-first")
    project.bgctl("up", check=0)
    project.docker("rm", "-f", f"{project.name}-blue-worker-2")
    status = project.status(expect=3)
    assert any("service worker: 1 of 2 replicas running on blue" in p for p in status["problems"]), status["problems"]
    project.bgctl("up", check=0)
    assert workers(project) == [f"{project.name}-blue-worker-1", f"{project.name}-blue-worker-2"]
    project.bgctl("down", "--yes", check=0)
    assert workers(project) == []
