"""End to end: bgctl deploy on the real engine — promote, automatic rollback, refusal, locking."""
import json
import os
import signal
import subprocess
import time
import urllib.request

from conftest import BGCTL
from loadgen import Load
from receiver import Receiver
from test_route import workers
from test_watcher import Traffic

ALERTS = """
watch:
  min_requests: 10
  error_rate_threshold: 5
  metrics: {enabled: false}   # no fixed host port: test_metrics.py serves them on a free one
alerts:
  slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}
  webhooks: [{url: "${HOOK_URL}"}]
deploy:
  drain_quiet: 1s
  drain_timeout: 10s
  smoke: [{path: /healthz, status: 200}]
"""


def served_by(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers["X-Bgctl-Pool"], r.headers["X-Release-Id"]


def test_a_good_release_under_load_is_promoted_with_no_failed_request(project):
    project.write_spec(extra="deploy: {drain_quiet: 1s}\nwatch: {min_requests: 10}\n")
    project.bgctl("up", check=0)
    green_id = project.docker("inspect", "-f", "{{.Id}}", f"{project.name}-green").stdout
    dry = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "v2", "--dry-run", check=0)
    # The plan: numbered steps, each docker command indented under its step, in the order they run.
    commands = [line.strip() for line in dry.stdout.splitlines() if line.strip().startswith("docker ")]
    assert commands[0] == f"docker rm --force --volumes {project.name}-green"
    assert commands[1].startswith(f"docker run --detach --name {project.name}-green") and "io.bgctl.release=v2" in commands[1]
    assert not [c for c in commands if "--signal HUP" in c], "a deploy reloads nothing: the release is not in nginx's configuration"
    assert "drain green" in dry.stdout and "analyse the proxy's log" in dry.stdout
    assert project.docker("inspect", "-f", "{{.Id}}", f"{project.name}-green").stdout == green_id, "dry run changed nothing"
    before = workers(project)
    with Load(project.url, keepalive_clients=2, fresh_clients=2, max_requests=6000, max_seconds=60) as load:
        time.sleep(1)
        started = time.monotonic()
        out = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "v2", "--analyze", "4s", check=0)
        wall = time.monotonic() - started
        time.sleep(0.5)
    print(f"good deploy: {wall:.1f} s; {load.result.summary()}")
    assert workers(project) == before, "the deploy replaced nginx's workers (a reload took place)"
    assert "promoted v2 on green" in out.stdout
    assert "drained green" in out.stderr
    assert load.result.failed == 0, load.result.failures[:10]
    assert load.result.by_pool.get("green", 0) > 50
    status = project.status(expect=0)
    assert status["live"] == "green" and status["pools"]["green"]["release"] == "v2"
    assert served_by(project.url) == ("green", "v2")
    history = [json.loads(l) for l in project.bgctl("history", "--json", check=0).stdout.splitlines()]
    deploy = [h for h in history if h["action"] == "deploy"][-1]
    assert deploy["result"] == "promoted" and deploy["release"] == "v2" and deploy["figures"]["requests"] >= 10
    # up keeps the deployed release instead of reverting to the spec's.
    assert "nothing to change" in project.bgctl("up", check=0).stdout


def test_a_bad_release_is_rolled_back_automatically_and_people_are_told(project):
    with Receiver() as slack:
        project.env = {"SLACK_WEBHOOK_URL": slack.url(), "HOOK_URL": slack.url("/generic")}
        project.write_spec(extra=ALERTS + "  analyze: 30s\n")
        project.bgctl("up", check=0)
        with Traffic(project.url, rate=60) as traffic:
            time.sleep(1)
            started = time.monotonic()
            out = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "v9-bad",
                                "--env", "CHAOS_MODE=error", check=6)
            took = time.monotonic() - started
            time.sleep(1)
            after = dict(traffic.codes)
            time.sleep(2)
            final = {k: traffic.codes.get(k, 0) - after.get(k, 0) for k in traffic.codes}
        print(f"bad deploy rolled back in {took:.1f} s; codes during: {after}; after: {final}")
        assert "rolled back to blue" in out.stdout and "error rate" in out.stdout
        assert took < 25, "rolled back within the 30 s analysis window, as soon as it was clear"
        assert final.get(500, 0) == 0 and final.get(200, 0) > 50, "traffic ends on the previous pool"
        assert served_by(project.url) == ("blue", "r-blue")
        status = project.status(expect=0)
        assert status["live"] == "blue"
        texts = slack.wait_for(lambda t: "rolled back v9-bad" in t, 10)
        assert texts, slack.texts()
        generic = [r for r in slack.requests if r["path"] == "/generic"]
        assert generic and json.loads(generic[-1]["body"])["state"] == "rolled_back"
        assert json.loads(generic[-1]["body"])["figures"]["errors"] >= 1
        assert all(not r["problems"] for r in slack.requests)
        history = [json.loads(l) for l in project.bgctl("history", "--json").stdout.splitlines()]
        assert [h["result"] for h in history if h["action"] == "deploy"] == ["rolled_back"]


def test_a_failing_smoke_check_stops_the_deploy_before_the_switch(project):
    project.write_spec(extra="deploy: {drain_quiet: 1s, smoke: [{path: /version, status: 200}]}\n")
    project.bgctl("up", check=0)
    out = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--env", "CHAOS_MODE=error", check=1)
    assert "smoke check GET /version answered 500, expected 200" in out.stderr
    assert project.status(expect=0)["live"] == "blue"


def test_a_release_that_never_becomes_healthy_is_not_switched(project):
    project.write_spec(extra="deploy: {drain_quiet: 1s}\n")
    project.bgctl("up", check=0)
    with Load(project.url, keepalive_clients=1, fresh_clients=1, max_requests=3000, max_seconds=60) as load:
        # An image whose process exits at once (nginx without its configuration): never healthy.
        out = project.bgctl("deploy", "--image", "bgctl/nginx:local", "--timeout", "6s", "--analyze", "2s", check=1)
    assert "is not healthy" in out.stderr and "Not switched: blue is still live and untouched" in out.stderr
    assert load.result.failed == 0, load.result.failures[:10]
    assert load.result.by_pool == {"blue": load.result.ok}
    status = project.status(expect=3)
    assert status["live"] == "blue" and status["proxy"]["served_by"] == "blue"


def test_a_second_deploy_waits_or_names_the_holder_and_a_killed_holders_lock_is_recovered(project):
    project.write_spec(extra="deploy: {drain_quiet: 1s}\nwatch: {min_requests: 1}\n")
    project.bgctl("up", check=0)
    env = dict(os.environ, NO_COLOR="1")
    with Traffic(project.url, rate=30):
        first = subprocess.Popen([BGCTL, "-f", str(project.spec), "deploy", "--image", "bgctl/demo-app:local",
                                  "--release", "first", "--analyze", "20s"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            second = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "second", "--lock-wait", "1s", check=1)
            assert "another bgctl operation holds the lock: deploy bgctl/demo-app:local by" in second.stderr
            assert f"(pid {first.pid})" in second.stderr
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        third = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "third", "--analyze", "2s", check=0)
    # The killed deploy's lock went with it; its journal says what it was doing, and the next deploy
    # undoes it first (verdict "aborted" in the history), then promotes.
    assert "interrupted deploy bgctl/demo-app:local to green" in third.stderr
    assert "recovered the deploy bgctl/demo-app:local to green" in third.stderr
    assert "promoted third" in third.stdout
    assert not (project.dir / "state" / "lock.json").exists()
    results = [json.loads(line)["result"] for line in (project.dir / "state" / "history.jsonl").read_text().splitlines()]
    assert "aborted" in results and results[-1] == "promoted"


def container_env(project, name):
    out = project.docker("inspect", "-f", "{{json .Config.Env}}", name).stdout
    return dict(item.split("=", 1) for item in json.loads(out))


def test_a_rolled_back_releases_settings_never_reach_the_next_release(project):
    """A release gets the spec's settings plus its own flags: nothing of what ran on the pool before."""
    project.write_spec(extra="deploy: {drain_quiet: 1s, drain_timeout: 10s}\nwatch: {min_requests: 10, error_rate_threshold: 5}\n")
    project.bgctl("up", check=0)
    for mode in (["--canary", "none", "--analyze", "3s"], ["--canary", "50", "--step", "3s"]):
        with Load(project.url, keepalive_clients=2, fresh_clients=2, rate_per_client=25, max_requests=8000, max_seconds=90):
            time.sleep(1)
            bad = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "bad", "--env", "CHAOS_MODE=error",
                                *mode, check=6, timeout=120)
            assert "rolled back" in bad.stdout or "rolled_back" in bad.stdout, bad.stdout
            idle = "green" if project.status(expect=0)["live"] == "blue" else "blue"
            assert container_env(project, f"{project.name}-{idle}").get("CHAOS_MODE") == "error", "the bad release ran with its flag"
            good = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "good", *mode,
                                 check=0, timeout=120)
            assert "promoted good" in good.stdout, good.stdout
        live = project.status(expect=0)["live"]
        assert "CHAOS_MODE" not in container_env(project, f"{project.name}-{live}"), f"{mode}: the rolled-back flag came back"


def test_rollback_to_a_release_gives_it_its_own_flags_again(project):
    """rollback --to RELEASE: the spec's settings plus that release's --env, nothing of the releases since;
    the history names the variables, state.json alone holds their values."""
    project.write_spec(extra="deploy: {drain_quiet: 1s, drain_timeout: 10s}\nwatch: {min_requests: 10}\n")
    project.bgctl("up", check=0)
    quick = ["--canary", "none", "--analyze", "1s"]
    # Traffic for the analysis to judge (it waits for watch.min_requests).
    load = Load(project.url, keepalive_clients=1, fresh_clients=1, rate_per_client=20, max_requests=8000, max_seconds=100)
    load.start()
    project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "one", "--env", "GREETING=from-one", *quick, check=0, timeout=120)
    project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "two", "--env", "OTHER=from-two", *quick, check=0, timeout=120)
    history = (project.dir / "state" / "history.jsonl").read_text()
    deploys = [json.loads(line) for line in history.splitlines() if json.loads(line)["action"] == "deploy"]
    assert [(d["release"], d.get("env")) for d in deploys] == [("one", ["GREETING"]), ("two", ["OTHER"])]
    assert "from-one" not in history and "from-two" not in history, "values never reach the history"
    state = project.dir / "state" / "state.json"
    assert os.stat(state).st_mode & 0o777 == 0o600

    project.bgctl("rollback", "--to", "one", "--analyze", "1s", check=0, timeout=120)
    load.stop()
    env = container_env(project, f"{project.name}-{project.status(expect=0)['live']}")
    assert env.get("GREETING") == "from-one" and "OTHER" not in env, env

    # Values gone from state.json (an older bgctl wrote it, or it was edited): refused, nothing changed.
    record = json.loads(state.read_text())
    record.pop("release_flags")
    state.write_text(json.dumps(record))
    live = project.status(expect=0)["live"]
    refused = project.bgctl("rollback", "--to", "two", check=64)
    assert "release two was deployed with --env OTHER" in refused.stderr and "--env OTHER=…" in refused.stderr, refused.stderr
    assert project.status(expect=0)["live"] == live
