"""End to end: the events container follows the engine's events for the stack's containers, and the
watcher alerts on them: the idle pool killed reaches a webhook within 2 s, and resolves once `bgctl up`
starts it again. The watcher itself has no Docker socket."""
import json
import time

from receiver import Receiver

EVENTS = """
watch:
  cooldown: 2s
  metrics: {enabled: false}   # no fixed host port
alerts:
  webhooks: [{url: "${HOOK_URL}"}]
"""


def alerts(hook, kind, state):
    with hook.lock:
        return [r for r in hook.requests
                if r["json"] and r["json"].get("kind") == kind and r["json"].get("state") == state]


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    return predicate()


def mounts(project, name):
    out = project.docker("inspect", "--format", "{{json .Mounts}} {{.HostConfig.NetworkMode}}", name).stdout
    found, network = out.rsplit(" ", 1)
    return [m["Destination"] + (":ro" if not m["RW"] else "") for m in json.loads(found)], network.strip()


def test_the_idle_pool_killed_is_alerted_at_the_webhook_within_2_s_and_resolved_by_up(project):
    with Receiver() as hook:
        project.write_spec(extra=EVENTS)
        project.env = {"HOOK_URL": hook.url("/hook/E2ESECRETTOKEN")}
        dry = project.bgctl("up", "--dry-run", check=0)
        assert f"docker run --detach --name {project.name}-events --network none" in dry.stdout, dry.stdout
        project.bgctl("up", check=0)
        assert {f"{project.name}-watcher", f"{project.name}-events"} <= set(project.containers())
        status = project.status(expect=0)
        assert status["events"] == {"container": f"{project.name}-events", "state": "running", "enabled": True}, status["events"]

        # Only the events container has the engine's socket; the watcher reads its file read-only.
        events_mounts, events_network = mounts(project, f"{project.name}-events")
        assert "/bgctl/docker.sock:ro" in events_mounts and events_network == "none", (events_mounts, events_network)
        watcher_mounts, _ = mounts(project, f"{project.name}-watcher")
        assert "/bgctl/events:ro" in watcher_mounts and not any("docker.sock" in m for m in watcher_mounts), watcher_mounts

        time.sleep(1.5)  # the follower is subscribed and the watcher tails the events file
        killed = time.perf_counter()
        project.docker("kill", f"{project.name}-green")
        fired = wait_for(lambda: alerts(hook, "idle_pool_down", "firing"), 5)
        assert fired, [r["json"] for r in hook.requests]
        took = fired[0]["at"] - killed
        body = fired[0]["json"]
        assert body["pool"] == "green" and body["live"] == "blue", body
        assert "the idle pool green (release r-green) is down" in body["summary"] and "nothing to fail over to" in body["summary"], body
        assert took <= 2.0, f"the alert arrived {took:.2f} s after docker kill"
        print(f"\nevents: idle pool killed → webhook alert in {took * 1000:.0f} ms")

        # up starts the stopped pool (or Docker's restart policy did already): the alert resolves.
        project.bgctl("up", check=0)
        resolved = wait_for(lambda: alerts(hook, "idle_pool_down", "resolved"), 30)
        assert resolved and resolved[0]["json"]["pool"] == "green", [r["json"] for r in hook.requests]
        assert len(alerts(hook, "idle_pool_down", "firing")) == 1, "one alert for one kill"

        # The events container says what it follows; neither container prints the webhook's secret.
        logs = project.docker("logs", f"{project.name}-events").stderr
        assert "following the engine's events" in logs, logs
        assert "E2ESECRETTOKEN" not in logs + project.docker("logs", f"{project.name}-watcher").stderr

        project.bgctl("down", check=0)
        assert f"{project.name}-events" not in project.containers()
