"""A fleet on real engines: two Docker hosts, each in its own network namespace, reached over ssh://
through the ssh stand-in. up brings the stack to both; a switch flips both or neither; a host that
cannot switch, or hangs past fleet.flip_timeout, leaves every host on one pool, and the command says
which host serves what."""
import json
import os
import signal
import subprocess
import textwrap
import time
import urllib.request

from conftest import BGCTL, free_subnet
from fleet import fleet_env, fleet_hosts, ssh_standin  # noqa: F401  (pytest fixtures)
from loadgen import Load

PORT = 18090


def write_spec(tmp_path, hosts, flip_timeout="10s", extra=""):
    project = "fleet-" + os.urandom(3).hex()
    listed = "\n".join(
        f'  - {{name: {h.name}, docker: "{h.ssh_url}", socket: {h.socket[len("unix://"):]}, state_root: {tmp_path}/{h.name}}}'
        for h in hosts)
    spec = tmp_path / "bgctl.yaml"
    spec.write_text(textwrap.dedent(f"""\
        version: 1
        project: {project}
        pull: never
        network: {{subnet: {free_subnet()}}}
        proxy:
          image: bgctl/nginx:local
          listen: "0.0.0.0:{PORT}"
          read_timeout: 3s
        app:
          port: 3000
          health: {{path: /healthz, interval: 1s, timeout: 1s, retries: 2, start_period: 5s}}
        pools:
          blue:  {{image: bgctl/demo-app:local, release: r-blue, preview_port: 18091}}
          green: {{image: bgctl/demo-app:local, release: r-green, preview_port: 18092}}
        active: blue
        fleet: {{flip_timeout: {flip_timeout}}}
        """) + extra + "hosts:\n" + listed + "\n")
    return spec


def bgctl(spec, env, *args, check=None, timeout=300):
    result = subprocess.run([BGCTL, "-f", str(spec)] + list(args), capture_output=True, text=True, timeout=timeout,
                            env=dict(env, NO_COLOR="1"))
    if check is not None:
        assert result.returncode == check, f"bgctl {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def serving(host):
    """The pool that answers a fresh request through the host's proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{host.address}:{PORT}/", timeout=3) as response:
        return response.headers.get("X-App-Pool")


def down(spec, env):
    bgctl(spec, env, "down", "--purge", "--yes", timeout=300)


def test_a_fleet_comes_up_and_switches_every_host_at_once(fleet_hosts, fleet_env, ssh_standin, tmp_path):
    h1, h2 = fleet_hosts(2)
    spec = write_spec(tmp_path, [h1, h2])
    try:
        started = time.monotonic()
        up = bgctl(spec, fleet_env, "up", check=0)
        up_took = time.monotonic() - started
        assert "h1: up" in up.stdout and "h2: up" in up.stdout, up.stdout + up.stderr
        assert "h1 | " in up.stderr and "h2 | " in up.stderr, "each host's lines name it"
        status = json.loads(bgctl(spec, fleet_env, "status", "--json", check=0).stdout)
        assert status["overall"] == "healthy" and status["live"] == "blue", status
        assert [h["host"] for h in status["hosts"]] == ["h1", "h2"]
        assert serving(h1) == "blue" and serving(h2) == "blue"
        # The state is the hosts': each keeps its own under its state root.
        assert (tmp_path / "h1" / spec.read_text().split("project: ")[1].split()[0] / ".bgctl" / "state.json").exists()

        loads = [Load(f"http://{h.address}:{PORT}/", keepalive_clients=2, fresh_clients=0, rate_per_client=20,
                      max_requests=2000, max_seconds=60) for h in (h1, h2)]
        for load in loads:
            load.start()
        time.sleep(0.5)
        switch = bgctl(spec, fleet_env, "switch", "green", "--json", check=0)
        time.sleep(0.5)
        for load in loads:
            load.stop()
        result = json.loads(switch.stdout)
        assert result["result"] == "switched", result
        assert [(h["host"], h["state"], h["serving"]) for h in result["hosts"]] == [("h1", "switched", "green"), ("h2", "switched", "green")]
        assert serving(h1) == "green" and serving(h2) == "green"
        failed = sum(load.result.failed for load in loads)
        assert failed == 0, [load.result.summary() for load in loads]
        again = json.loads(bgctl(spec, fleet_env, "switch", "green", "--json", check=0).stdout)
        assert again["result"] == "unchanged"
        # Every ssh call went through bgctl's wrapper: connection sharing, a connect timeout, keep-alives.
        calls = [c for c in ssh_standin.calls() if c.get("outcome") == "connect"]
        assert calls and all("ControlMaster=auto" in c["argv"] and "ConnectTimeout=10" in c["argv"]
                             and "ServerAliveInterval=5" in c["argv"] for c in calls), calls[:2]
        print(f"\nfleet of 2 over ssh: up {up_took:.1f} s; switch {result['total_ms']} ms, hosts differed for "
              f"{result['mixed_window_ms']} ms; {sum(l.result.sent for l in loads)} requests by clients that retry once on a reused connection, {failed} failed; "
              f"{ssh_standin.connections()} ssh connections in all")
    finally:
        down(spec, fleet_env)


def test_a_host_that_cannot_switch_leaves_every_host_where_it_was(fleet_hosts, fleet_env, tmp_path):
    h1, h2 = fleet_hosts(2)
    spec = write_spec(tmp_path, [h1, h2])
    try:
        bgctl(spec, fleet_env, "up", check=0)
        project = spec.read_text().split("project: ")[1].split()[0]
        h2.docker("stop", f"{project}-green")
        out = bgctl(spec, fleet_env, "switch", "green", check=1)
        assert "no host was flipped" in out.stdout, out.stdout + out.stderr
        assert serving(h1) == "blue" and serving(h2) == "blue"
        table = out.stdout
        assert "h1" in table and "untouched" in table, table
        status = json.loads(bgctl(spec, fleet_env, "status", "--json", check=3).stdout)
        assert status["live"] == "blue", status
        # h2's proxy stopped: h2 cannot prepare (nothing to route through), so no host flips.
        h2.docker("start", f"{project}-green")
        h2.docker("stop", f"{project}-proxy")
        out = bgctl(spec, fleet_env, "switch", "green", "--json", check=1)
        result = json.loads(out.stdout)
        assert result["result"] == "aborted" and "h2" in result["reason"], result
        assert all(h["state"] == "untouched" for h in result["hosts"]), result
        assert serving(h1) == "blue"
    finally:
        down(spec, fleet_env)


def test_a_host_hanging_past_the_flip_timeout_is_unknown_and_the_others_flip_back(fleet_hosts, fleet_env, tmp_path):
    h1, h2 = fleet_hosts(2)
    spec = write_spec(tmp_path, [h1, h2], flip_timeout="2s")
    frozen = []
    try:
        bgctl(spec, fleet_env, "up", check=0)
        project = spec.read_text().split("project: ")[1].split()[0]
        # h2's nginx workers frozen (the container still runs, its master too): the flip's rename is done,
        # but its check through the proxy cannot finish within the flip timeout.
        top = h2.docker("top", f"{project}-proxy", "-eo", "pid,args").stdout.splitlines()[1:]
        workers = [int(line.split()[0]) for line in top if "worker process" in line]
        assert workers, top
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        frozen.extend(workers)
        started = time.monotonic()
        out = bgctl(spec, fleet_env, "switch", "green", "--json", check=13)
        took = time.monotonic() - started
        result = json.loads(out.stdout)
        rows = {h["host"]: h for h in result["hosts"]}
        assert rows["h1"]["state"] == "flipped_back" and rows["h1"]["serving"] == "blue", result
        assert rows["h2"]["state"] == "unknown" and rows["h2"]["serving"] is None, result
        assert serving(h1) == "blue"
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        frozen.clear()
        # h2's agent undid its own flip when its check failed and its session ended.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and serving(h2) != "blue":
            time.sleep(0.2)
        assert serving(h2) == "blue"
        status = json.loads(bgctl(spec, fleet_env, "status", "--json", check=0).stdout)
        assert status["live"] == "blue" and status["overall"] == "healthy", status
        print(f"\nfleet: h2 frozen past a 2 s flip timeout: the switch ended after {took:.1f} s, h1 flipped back")
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        down(spec, fleet_env)
