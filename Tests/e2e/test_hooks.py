"""Hooks on the real engine: each runs on the host with the documented environment and nothing of the
spec's secrets; a failing pre_deploy stops the deploy before anything changes; a failing post hook
is reported and recorded, and what was done stands."""
import json
import stat
import time

from loadgen import Load

HOOK = """#!/bin/sh
env | grep -E '^(BGCTL_|DB_PASSWORD|SHARED_SECRET)' | sort > "$(dirname "$0")/$BGCTL_HOOK.env"
echo "hook $BGCTL_HOOK says hello"
exit "${EXIT_WITH:-0}"
"""


def hook_spec(project, pre_exit=0, post_exit=0):
    hooks = project.dir / "hooks"
    hooks.mkdir(exist_ok=True)
    for name, code in (("pre.sh", pre_exit), ("post.sh", post_exit), ("switched.sh", 0)):
        path = hooks / name
        path.write_text(HOOK.replace("${EXIT_WITH:-0}", str(code)))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    project.write_spec(extra="""
deploy: {drain_quiet: 1s, drain_timeout: 10s, analyze: 1s}
watch: {min_requests: 1}
hooks:
  timeout: 20s
  pre_deploy: [./hooks/pre.sh]
  post_deploy: [./hooks/post.sh, --verbose]
  post_switch: [./hooks/switched.sh]
""")
    text = project.spec.read_text().replace('release: "r-blue",', 'release: "r-blue", env: {DB_PASSWORD: "${DB_PASSWORD}"},')
    project.spec.write_text(text)
    project.env["DB_PASSWORD"] = "hunter2-secret"
    return hooks


def deploy(project, *args, check):
    """A deploy under light traffic: its analysis needs requests to judge."""
    with Load(project.url, keepalive_clients=1, fresh_clients=1, rate_per_client=20, max_requests=4000, max_seconds=60):
        time.sleep(0.5)
        return project.bgctl("deploy", "--image", "bgctl/demo-app:local", *args, check=check, timeout=120)


def seen(hooks, name):
    return dict(line.split("=", 1) for line in (hooks / f"{name}.env").read_text().splitlines())


def test_hooks_see_the_documented_environment_and_no_secret(project):
    hooks = hook_spec(project)
    project.bgctl("up", check=0)
    out = deploy(project, "--release", "v2", check=0)
    assert "hook pre_deploy | hook pre_deploy says hello" in out.stderr, out.stderr
    pre, post = seen(hooks, "pre_deploy"), seen(hooks, "post_deploy")
    assert pre == {"BGCTL_HOOK": "pre_deploy", "BGCTL_PROJECT": project.name, "BGCTL_RELEASE": "v2",
                   "BGCTL_IMAGE": "bgctl/demo-app:local", "BGCTL_FROM": "blue", "BGCTL_TO": "green", "BGCTL_VERDICT": ""}, pre
    assert post["BGCTL_VERDICT"] == "promoted" and post["BGCTL_TO"] == "green"
    project.bgctl("switch", "blue", check=0)
    switched = seen(hooks, "post_switch")
    assert switched["BGCTL_FROM"] == "green" and switched["BGCTL_TO"] == "blue"
    for name in ("pre_deploy", "post_deploy", "post_switch"):
        assert "hunter2" not in (hooks / f"{name}.env").read_text()
    assert "hunter2" not in out.stdout + out.stderr
    dry = project.bgctl("deploy", "--image", "bgctl/demo-app:local", "--dry-run", check=0)
    assert "./hooks/pre.sh" in dry.stdout and "./hooks/post.sh --verbose" in dry.stdout, dry.stdout


def test_a_failing_pre_hook_changes_nothing_and_a_failing_post_hook_undoes_nothing(project):
    hooks = hook_spec(project, pre_exit=3)
    project.bgctl("up", check=0)
    green = project.docker("inspect", "-f", "{{.Id}}", f"{project.name}-green").stdout
    out = deploy(project, "--release", "v2", check=10)
    assert "hook pre_deploy exited 3; nothing was changed" in out.stderr, out.stderr
    assert "hook pre_deploy says hello" in out.stderr, "its last lines are shown"
    assert project.docker("inspect", "-f", "{{.Id}}", f"{project.name}-green").stdout == green
    assert project.status(expect=0)["live"] == "blue"

    hook_spec(project, post_exit=4)
    out = deploy(project, "--release", "v3", check=0)
    assert "hook post_deploy exited 4; what the operation did stands" in out.stderr, out.stderr
    assert project.status(expect=0)["live"] == "green"
    history = [json.loads(line) for line in project.bgctl("history", "--json", check=0).stdout.splitlines()]
    assert [h["result"] for h in history if h["action"] == "hook"] == ["failed"]
    assert [h["result"] for h in history if h["action"] == "deploy"] == ["promoted"]
