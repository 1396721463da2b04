"""deploy.before_switch on the real engine: commands run inside the new release's container once it is
healthy and before any traffic moves. A command that fails, one that overruns its timeout, and a signal
to bgctl each end the deploy with the live pool untouched and nothing of the command left running in
the container; a bgctl killed outright leaves the command to the next one (recover), which stops it."""
import json
import os
import signal
import subprocess
import time

from conftest import BGCTL
from loadgen import Load

IMAGE = "bgctl/demo-app:local"


def spec(project, *commands, timeout="10m"):
    listed = "\n".join(f"    - {json.dumps(['/demo-app', 'task'] + list(c))}" for c in commands)
    project.write_spec(extra=f"""
deploy:
  drain_quiet: 1s
  drain_timeout: 10s
  analyze: 1s
  before_switch_timeout: {timeout}
  before_switch:
{listed}
watch: {{min_requests: 1}}
""")


def tasks_in(project, pool):
    """The processes in the pool's container that a before_switch command started."""
    top = project.docker("top", f"{project.name}-{pool}", "-eo", "pid,args", check=False)
    # A container that is not running (being replaced while the release is staged) runs nothing.
    return [line for line in top.stdout.splitlines()[1:] if "/demo-app task" in line] if top.returncode == 0 else []


def last_deploy(project):
    history = [json.loads(line) for line in project.bgctl("history", "--json", check=0).stdout.splitlines()]
    return [h for h in history if h["action"] == "deploy"][-1]


def test_the_commands_run_in_the_new_release_before_traffic_moves(project):
    spec(project, ["--lines", "3", "--sleep", "1"], ["--lines", "1"])
    project.bgctl("up", check=0)
    with Load(project.url, keepalive_clients=2, fresh_clients=1, rate_per_client=20, max_requests=4000, max_seconds=60) as load:
        time.sleep(0.5)
        started = time.monotonic()
        out = project.bgctl("deploy", "--image", IMAGE, "--release", "v2", check=0, timeout=120)
        took = time.monotonic() - started
    err = out.stderr
    assert "before_switch | task: line 3 of 3" in err and "before_switch | task: line 1 of 1" in err, err
    # In order, the first done (its 1 s) before the second starts, and both before the switch.
    first, second = err.index("task --lines 3 --sleep 1 passed"), err.index("task --lines 1 passed")
    assert first < second < err.index("switching to green") if "switching to green" in err else first < second, err
    assert project.status(expect=0)["live"] == "green"
    assert load.result.failed == 0, load.result.summary()
    print(f"\ndeploy with a 1 s migration: {took:.1f} s; {load.result.summary()}")


def test_a_failing_command_leaves_the_live_pool_untouched(project):
    spec(project, ["--lines", "2", "--exit", "3"], ["--lines", "1"])
    project.bgctl("up", check=0)
    with Load(project.url, keepalive_clients=2, fresh_clients=1, rate_per_client=20, max_requests=4000, max_seconds=60) as load:
        time.sleep(0.3)
        out = project.bgctl("deploy", "--image", IMAGE, "--release", "v2", check=12, timeout=120)
        time.sleep(0.3)
    assert "before_switch /demo-app task --lines 2 --exit 3 exited 3; not switched: blue is still live and untouched" in out.stderr, out.stderr
    assert "task --lines 1" not in out.stderr.split("exited 3")[1], "the next command never started"
    assert project.status(expect=0)["live"] == "blue"
    assert set(load.result.by_pool) == {"blue"}, load.result.summary()
    assert load.result.failed == 0, load.result.summary()
    entry = last_deploy(project)
    assert entry["result"] == "before_switch_failed" and entry["release"] == "v2", entry
    assert "task: line 2 of 2" in entry["detail"] and "task: done, exit 3" in entry["detail"], entry
    assert tasks_in(project, "green") == []
    as_json = project.bgctl("deploy", "--image", IMAGE, "--release", "v3", "--json", check=12, timeout=120)
    result = json.loads(as_json.stdout)
    assert result["ok"] is False and result["result"] == "before_switch_failed", result


def test_a_command_past_its_timeout_is_stopped_inside_the_container(project):
    # --child forks a child that ignores SIGTERM: only SIGKILL to every process of the command stops it.
    spec(project, ["--lines", "1", "--sleep", "600", "--child"], timeout="2s")
    project.bgctl("up", check=0)
    started = time.monotonic()
    out = project.bgctl("deploy", "--image", IMAGE, "--release", "v2", check=12, timeout=120)
    took = time.monotonic() - started
    assert "ran past deploy.before_switch_timeout (2 s) and was stopped" in out.stderr, out.stderr
    assert "stopped inside" in out.stderr and "SIGKILL" in out.stderr, out.stderr
    assert tasks_in(project, "green") == [], "the command and its child are gone"
    assert project.status(expect=0)["live"] == "blue"
    assert took < 30, f"{took:.1f} s"
    print(f"\ntimeout 2 s: the deploy ended after {took:.1f} s")


def start_deploy(project):
    proc = subprocess.Popen([BGCTL, "-f", str(project.spec), "deploy", "--image", IMAGE, "--release", "v2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not tasks_in(project, "green"):
        time.sleep(0.1)
    assert tasks_in(project, "green"), "the command never started"
    return proc


def test_a_sigterm_during_a_command_stops_it_inside_the_container(project):
    spec(project, ["--lines", "1", "--sleep", "600"])
    project.bgctl("up", check=0)
    with Load(project.url, keepalive_clients=2, fresh_clients=1, rate_per_client=20, max_requests=4000, max_seconds=60) as load:
        proc = start_deploy(project)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    assert proc.returncode == 8, f"exit {proc.returncode}\n{err}"
    assert "stopped by a signal at before-switch; not switched: blue is still live and untouched" in out + err, out + err
    assert tasks_in(project, "green") == []
    assert project.status(expect=0)["live"] == "blue"
    assert set(load.result.by_pool) == {"blue"} and load.result.failed == 0, load.result.summary()
    assert last_deploy(project)["result"] == "aborted"
    print(f"\nSIGTERM during a migration: bgctl exited {took:.2f} s later")


def test_a_command_left_by_a_killed_bgctl_is_stopped_by_the_next_command(project):
    spec(project, ["--lines", "1", "--sleep", "600"])
    project.bgctl("up", check=0)
    proc = start_deploy(project)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert tasks_in(project, "green"), "a docker exec client's death does not stop the command"
    out = project.bgctl("recover", check=0)
    assert "stopped inside" in out.stderr, out.stderr
    assert tasks_in(project, "green") == []
    assert project.status(expect=0)["live"] == "blue"
