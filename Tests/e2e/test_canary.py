"""Canary deploys on the real engine: the same bad release shipped blue-green and as a canary under
the same load, and a good release promoted through every step with no failed request."""
import json
import os
import time

from loadgen import Load

CANARY_SPEC = """
watch:
  min_requests: 10
  error_rate_threshold: 5
deploy:
  drain_quiet: 1s
  drain_timeout: 10s
  analyze: 20s
"""

FIGURES = os.environ.get("BGCTL_CANARY_FIGURES")  # where to write the comparison, if set (make bench)


def shipped(project, *args, check):
    """Runs one deploy under steady load; returns (exit output, load result, seconds)."""
    with Load(project.url, keepalive_clients=2, fresh_clients=2, rate_per_client=25,
              max_requests=20000, max_seconds=90) as load:
        time.sleep(1.0)
        started = time.monotonic()
        out = project.bgctl("deploy", "--image", "bgctl/demo-app:local", *args, check=check, timeout=120)
        took = time.monotonic() - started
        time.sleep(1.0)
    return out, load.result, took


def test_a_bad_release_reaches_fewer_requests_as_a_canary_than_blue_green(project):
    project.write_spec(extra=CANARY_SPEC)
    project.bgctl("up", check=0)

    _, bluegreen, bg_seconds = shipped(project, "--release", "bad-bg", "--env", "CHAOS_MODE=error", check=6)
    assert project.status(expect=0)["live"] == "blue"
    out, canary, canary_seconds = shipped(project, "--release", "bad-canary", "--env", "CHAOS_MODE=error",
                                          "--canary", "10,50", "--step", "5s", check=6)
    status = project.status(expect=0)
    assert status["live"] == "blue"
    assert status.get("weights") in (None, {"blue": 100, "green": 0}), status.get("weights")

    def reached(result):
        return result.by_pool.get("green", 0) + result.failed_by_pool.get("green", 0)

    figures = {
        "blue_green": {"sent": bluegreen.sent, "reached_bad": reached(bluegreen), "failed": bluegreen.failed,
                       "seconds": round(bg_seconds, 1)},
        "canary_10_50": {"sent": canary.sent, "reached_bad": reached(canary), "failed": canary.failed,
                         "seconds": round(canary_seconds, 1)},
    }
    print("bad release:", json.dumps(figures))
    if FIGURES:
        with open(FIGURES, "a") as out_file:
            out_file.write(json.dumps({"bad_release": figures}) + "\n")
    assert "rolled back" in out.stdout
    assert canary.failed < bluegreen.failed, figures
    assert reached(canary) < reached(bluegreen), figures
    history = [json.loads(l) for l in project.bgctl("history", "--json", check=0).stdout.splitlines()]
    last = [h for h in history if h["action"] == "deploy"][-1]
    assert last["result"] == "rolled_back"


def test_a_good_release_is_promoted_through_every_step_with_no_failed_request(project):
    project.write_spec(extra=CANARY_SPEC)
    project.bgctl("up", check=0)
    out, result, seconds = shipped(project, "--release", "good", "--canary", "10,50", "--step", "4s", check=0)
    print(f"good canary: {seconds:.1f} s; {result.summary()}")
    assert result.failed == 0, result.failures[:10]
    assert result.by_pool.get("green", 0) > 50
    status = project.status(expect=0)
    assert status["live"] == "green" and status["pools"]["green"]["release"] == "good"
    assert status.get("weights") in (None, {"blue": 0, "green": 100}), status.get("weights")
    history = [json.loads(l) for l in project.bgctl("history", "--json", check=0).stdout.splitlines()]
    last = [h for h in history if h["action"] == "deploy"][-1]
    assert last["result"] == "promoted"
    if FIGURES:
        with open(FIGURES, "a") as out_file:
            out_file.write(json.dumps({"good_release": {"sent": result.sent, "failed": result.failed,
                                                        "seconds": round(seconds, 1)}}) + "\n")
