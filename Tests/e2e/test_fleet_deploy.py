"""Deploys, rollbacks and recovery on a fleet of two real engines (network namespaces, ssh:// through the
ssh stand-in), behind a test nginx that balances across the hosts' proxies as a user's load balancer
would. Clients that retry once on a reused connection (as urllib3 does) and clients that never retry
(as wrk and many load balancers) hit the front for the whole test; both counts are printed."""
import json
import os
import signal
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
import re

from conftest import BGCTL
from fleet import fleet_env, fleet_hosts, ssh_standin  # noqa: F401  (pytest fixtures)
from loadgen import Load, NaiveLoad
from test_fleet import PORT, bgctl, down, write_spec

FRONT_PORT = 18099
BALANCER_PORT = 18098
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
QUICK = "deploy: {drain_quiet: 1s}\nwatch: {min_requests: 10}\n"


class Front:
    """nginx on 127.0.0.1:FRONT_PORT in front of the hosts' proxies: keep-alive to them, and a request
    a host fails is passed to the other (passive checks: stock nginx has no active ones)."""

    def __init__(self, folder, hosts):
        self.folder = folder
        os.makedirs(folder / "logs", exist_ok=True)
        servers = "\n".join(f"        server {h.address}:{PORT} max_fails=1 fail_timeout=2s;" for h in hosts)
        (folder / "nginx.conf").write_text(textwrap.dedent(f"""\
            worker_processes 1;
            daemon off;
            pid {folder}/nginx.pid;
            error_log {folder}/logs/error.log warn;
            events {{ worker_connections 1024; }}
            http {{
                access_log off;
                upstream fleet {{
            {servers}
                    keepalive 32;
                }}
                server {{
                    listen 127.0.0.1:{FRONT_PORT};
                    location / {{
                        proxy_pass http://fleet;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_next_upstream error timeout http_502 http_503;
                        proxy_connect_timeout 1s;
                        proxy_read_timeout 5s;
                    }}
                }}
            }}
            """))
        self.process = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{FRONT_PORT}/healthz", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the front nginx did not answer")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Balancer:
    """HAProxy on 127.0.0.1:BALANCER_PORT, configured from examples/fleet/haproxy.cfg (checks every 200 ms
    instead of 1 s): it drains a host whose fleet health path answers 503."""

    def __init__(self, folder, hosts):
        os.makedirs(folder, exist_ok=True)
        text = open(os.path.join(EXAMPLES, "fleet", "haproxy.cfg")).read()
        lines = [line for line in text.splitlines() if not re.match(r"\s*server web\d", line)]
        text = "\n".join(lines).replace("bind :80", f"bind 127.0.0.1:{BALANCER_PORT}").replace("inter 1s", "inter 200ms")
        text += "\n" + "\n".join(f"    server {h.name} {h.address}:{PORT}" for h in hosts) + "\n"
        assert "option httpchk GET /_bgctl/fleet" in text, "the example checks the fleet health path"
        self.config = folder / "haproxy.cfg"
        self.config.write_text(text)
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def pools(self, count=20):
        """The pools that answer `count` fresh requests through the balancer."""
        seen = []
        for _ in range(count):
            with urllib.request.urlopen(f"http://127.0.0.1:{BALANCER_PORT}/", timeout=3) as response:
                seen.append(response.headers.get("X-App-Pool"))
        return seen

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def fleet_health(host):
    """The status code of the host's fleet health path."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{host.address}:{PORT}/_bgctl/fleet", timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def answer(host, path="/"):
    """Pool and release of a fresh request through one host's proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{host.address}:{PORT}{path}", timeout=3) as response:
        return response.headers.get("X-App-Pool"), response.headers.get("X-Release-Id")


def history(spec, env, host):
    """The host's own history, read through its agent."""
    project = spec.read_text().split("project: ")[1].split()[0]
    out = host.docker("exec", "-e", f"BGCTL_FLEET_HOST={host.name}", "-e", f"DOCKER_HOST={host.socket}", f"{project}-agent", "/usr/local/bin/bgctl", "-f",
                      f"{spec.parent}/{host.name}/{project}/bgctl.yaml", "history", "--json").stdout
    return [json.loads(line) for line in out.splitlines()]


def bad_on(host, good_hosts):
    """bgctl/demo-app:bad: answers 500 on `host` (the same tag built there with CHAOS_MODE=error), and is
    the good image on the others: a release that breaks on one host only."""
    for other in good_hosts:
        other.docker("tag", "bgctl/demo-app:local", "bgctl/demo-app:bad")
    host.docker("build", "-q", "-t", "bgctl/demo-app:bad", "-", input="FROM bgctl/demo-app:local\nENV CHAOS_MODE=error\n", text=True)


def test_a_fleet_deploy_promotes_on_every_host_and_a_release_bad_on_one_host_rolls_every_host_back(fleet_hosts, fleet_env, tmp_path):
    h1, h2 = fleet_hosts(2)
    spec = write_spec(tmp_path, [h1, h2], extra=QUICK)
    front = None
    loads = []
    try:
        bgctl(spec, fleet_env, "up", check=0)
        assert (fleet_health(h1), fleet_health(h2)) == (200, 200), "up records what the fleet agreed on"
        # A dry run shows each host's own plan and changes nothing.
        plan = bgctl(spec, fleet_env, "deploy", "--image", "bgctl/demo-app:local", "--release", "v2", "--dry-run", check=0)
        assert "h1:" in plan.stdout and "h2:" in plan.stdout and "once, on h1 only" in plan.stdout, plan.stdout + plan.stderr
        assert plan.stdout.count("docker run") >= 2, plan.stdout
        assert answer(h1) == ("blue", "r-blue") and answer(h2) == ("blue", "r-blue")
        # watch follows every host's own watcher.
        watched = bgctl(spec, fleet_env, "watch", "--for", "2s", "--json", check=0)
        hosts_seen = {json.loads(line)["host"] for line in watched.stdout.splitlines()}
        assert hosts_seen == {"h1", "h2"}, watched.stdout[-2000:] + watched.stderr[-2000:]
        front = Front(tmp_path / "front", [h1, h2])
        url = f"http://127.0.0.1:{FRONT_PORT}/"
        loads = [Load(url, keepalive_clients=3, fresh_clients=0, rate_per_client=25, max_requests=20000, max_seconds=150),
                 NaiveLoad(url, connections=3, rate_per_connection=25, max_requests=20000, max_seconds=150)]
        for load in loads:
            load.start()
        time.sleep(0.5)

        started = time.monotonic()
        good = bgctl(spec, fleet_env, "deploy", "--image", "bgctl/demo-app:local", "--release", "v2", "--analyze", "3s", "--json",
                     check=0, timeout=240)
        good_took = time.monotonic() - started
        result = json.loads(good.stdout)
        assert result["result"] == "promoted" and result["target"] == "green", result
        assert [h["host"] for h in result["hosts"]] == ["h1", "h2"] and all(h["failure"] is None for h in result["hosts"]), result
        assert result["figures"]["requests"] == sum(h["figures"]["requests"] for h in result["hosts"]) > 0, result
        assert answer(h1) == ("green", "v2") and answer(h2) == ("green", "v2")
        assert (fleet_health(h1), fleet_health(h2)) == (200, 200)
        for host in (h1, h2):
            promoted = [e for e in history(spec, fleet_env, host) if e["action"] == "deploy"]
            assert promoted[-1]["result"] == "promoted" and promoted[-1]["release"] == "v2", promoted

        # rollback: back to the pool live before green, on every host at once.
        back = json.loads(bgctl(spec, fleet_env, "rollback", "--json", check=0).stdout)
        assert back["result"] == "switched" and back["to"] == "blue", back
        assert answer(h1) == ("blue", "r-blue") and answer(h2) == ("blue", "r-blue")
        time.sleep(0.5)
        for load in loads:
            load.stop()
        retrying, naive = loads
        print(f"\nfleet deploy, 2 hosts: promoted in {good_took:.1f} s, then a fleet rollback; at the front: "
              f"retrying clients {retrying.result.sent} requests, {retrying.result.failed} failed; "
              f"clients that never retry {naive.sent} requests, {naive.failed} failed {naive.errors[:3]}")
        assert retrying.result.failed == 0, retrying.result.summary()
        assert naive.failed == 0, naive.errors[:5]

        # The same tag breaks on h2 only: h2's analysis fails it, and every host goes back to blue. The
        # 500s h2 answers meanwhile reach clients (the front passes a 500 on), so this load is only counted.
        bad_on(h2, [h1])
        traffic = Load(url, keepalive_clients=3, fresh_clients=0, rate_per_client=25, max_requests=20000, max_seconds=120)
        traffic.start()
        started = time.monotonic()
        bad = bgctl(spec, fleet_env, "deploy", "--image", "bgctl/demo-app:bad", "--release", "v3", "--analyze", "10s", "--json",
                    check=6, timeout=240)
        bad_took = time.monotonic() - started
        traffic.stop()
        result = json.loads(bad.stdout)
        rows = {h["host"]: h for h in result["hosts"]}
        assert result["result"] == "rolled_back" and result["target"] == "green", result
        assert rows["h1"]["failure"] is None and rows["h2"]["failure"], rows
        assert result["reason"].startswith("h2: "), result["reason"]
        assert [(h["host"], h["state"]) for h in result["rollback"]["hosts"]] == [("h1", "switched"), ("h2", "switched")], result
        assert answer(h1) == ("blue", "r-blue") and answer(h2) == ("blue", "r-blue")
        for host in (h1, h2):
            assert [e for e in history(spec, fleet_env, host) if e["action"] == "deploy"][-1]["result"] == "rolled_back"
        print(f"the release bad on h2 only: every host rolled back {bad_took:.1f} s after the deploy began "
              f"(10 s analysis window, h2 failed it early); {traffic.result.summary()}")

        # A canary on the fleet: 50% on every host, each host's step judged, then the fleet's switch.
        traffic = Load(url, keepalive_clients=3, fresh_clients=0, rate_per_client=25, max_requests=20000, max_seconds=120)
        traffic.start()
        started = time.monotonic()
        canary = bgctl(spec, fleet_env, "deploy", "--image", "bgctl/demo-app:local", "--release", "v4", "--canary", "50", "--step", "3s",
                       "--json", check=0, timeout=240)
        canary_took = time.monotonic() - started
        traffic.stop()
        result = json.loads(canary.stdout)
        assert result["result"] == "promoted" and [s["weight"] for s in result["steps"]] == [50], result
        assert [h["result"] for h in result["steps"][0]["hosts"]] == ["passed", "passed"], result
        assert answer(h1) == ("green", "v4") and answer(h2) == ("green", "v4")
        assert traffic.result.failed == 0, traffic.result.summary()
        print(f"canary 50% on both hosts, then promoted: {canary_took:.1f} s; {traffic.result.summary()}")
    finally:
        for load in loads:
            load.stop()
        if front:
            front.stop()
        down(spec, fleet_env)


def test_a_coordinator_killed_mid_switch_leaves_every_host_on_one_pool_and_recover_reconciles(fleet_hosts, fleet_env, tmp_path):
    h1, h2 = fleet_hosts(2)
    spec = write_spec(tmp_path, [h1, h2], flip_timeout="60s", extra=QUICK)
    project = spec.read_text().split("project: ")[1].split()[0]
    frozen = []
    balancer = None
    try:
        bgctl(spec, fleet_env, "up", check=0)
        # h2's flip cannot finish (its nginx workers frozen) while h1 has flipped: the coordinator dies there.
        top = h2.docker("top", f"{project}-proxy", "-eo", "pid,args").stdout.splitlines()[1:]
        frozen.extend(int(line.split()[0]) for line in top if "worker process" in line)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        coordinator = subprocess.Popen([BGCTL, "-f", str(spec), "switch", "green"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=dict(fleet_env, NO_COLOR="1"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and answer(h1)[0] != "green":
            time.sleep(0.05)
        assert answer(h1)[0] == "green", "h1 flipped while h2 hangs"
        coordinator.kill()
        coordinator.wait(timeout=10)
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        frozen.clear()
        # Each agent saw its coordinator go and undid the flip it was never told to record.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (answer(h1)[0], answer(h2)[0]) != ("blue", "blue"):
            time.sleep(0.2)
        assert (answer(h1)[0], answer(h2)[0]) == ("blue", "blue")
        recovered = bgctl(spec, fleet_env, "recover", check=0)
        assert "every host serves blue" in recovered.stdout, recovered.stdout + recovered.stderr

        # A host moved alone (by hand, through its agent): the fleet is mixed, status says so, its fleet
        # health path answers 503 so the balancer drains it, and recover brings every host to the pool
        # of the newest recorded move.
        balancer = Balancer(tmp_path / "balancer", [h1, h2])
        time.sleep(1)  # both checked healthy (rise 2, every 200 ms)
        assert set(balancer.pools(4)) == {"blue"}
        h2.docker("exec", "-e", "BGCTL_FLEET_HOST=h2", "-e", f"DOCKER_HOST={h2.socket}", f"{project}-agent", "/usr/local/bin/bgctl", "-f",
                  f"{tmp_path}/h2/{project}/bgctl.yaml", "switch", "green")
        moved = time.monotonic()
        while time.monotonic() < moved + 10 and "green" in balancer.pools(10):
            time.sleep(0.05)
        drained = time.monotonic() - moved
        status = json.loads(bgctl(spec, fleet_env, "status", "--json", check=3).stdout)
        assert status["live"] is None and any("mixed fleet" in p for p in status["problems"]), status
        assert (fleet_health(h1), fleet_health(h2)) == (200, 503), "h2 serves green; the fleet agreed on blue"
        assert set(balancer.pools(20)) == {"blue"}, "the balancer drained h2"
        recovered = bgctl(spec, fleet_env, "recover", check=0)
        assert "h2 recorded the newest move (to green)" in recovered.stderr, recovered.stderr
        assert answer(h1)[0] == "green" and answer(h2)[0] == "green"
        assert (fleet_health(h1), fleet_health(h2)) == (200, 200)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and set(balancer.pools(10)) != {"green"}:
            time.sleep(0.2)
        balancer.stop()
        print(f"\nh2 switched alone: its fleet health path answered 503 and HAProxy drained it within {drained:.1f} s; "
              f"recover brought both to green")

        # A deploy whose coordinator is killed during the analysis: every host goes back to the pool live
        # before it, and records the deploy as aborted.
        deploy = subprocess.Popen([BGCTL, "-f", str(spec), "deploy", "--image", "bgctl/demo-app:local", "--release", "v5",
                                   "--analyze", "20s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(fleet_env, NO_COLOR="1"))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and answer(h1) != ("blue", "v5"):
            time.sleep(0.2)
        assert answer(h1) == ("blue", "v5") and answer(h2) == ("blue", "v5")
        deploy.kill()
        deploy.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (answer(h1)[0], answer(h2)[0]) != ("green", "green"):
            time.sleep(0.2)
        assert answer(h1)[0] == "green" and answer(h2)[0] == "green"
        for host in (h1, h2):
            entries = [e for e in history(spec, fleet_env, host) if e["action"] == "deploy"]
            assert entries[-1]["result"] == "aborted" and entries[-1]["release"] == "v5", entries
        status = json.loads(bgctl(spec, fleet_env, "status", "--json", check=0).stdout)
        assert status["live"] == "green" and status["overall"] == "healthy", status

        # h2's engine stopped: status says h2 is unknown, a switch flips no host; once the engine is back
        # (its containers restart by their policy) the fleet is healthy again and switches.
        h2._stop_dockerd()
        try:
            status = json.loads(bgctl(spec, fleet_env, "status", "--json", check=3).stdout)
            assert {h["host"]: h["overall"] for h in status["hosts"]} == {"h1": "healthy", "h2": "unknown"}, status
            refused = bgctl(spec, fleet_env, "switch", "blue", check=1)
            assert "no host was flipped" in refused.stdout, refused.stdout + refused.stderr
            assert answer(h1)[0] == "green"
        finally:
            h2._start_dockerd()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = json.loads(bgctl(spec, fleet_env, "status", "--json").stdout)
            if status["overall"] == "healthy":
                break
            time.sleep(1)
        back = time.monotonic() - (deadline - 60)
        assert status["overall"] == "healthy" and status["live"] == "green", status
        switched = json.loads(bgctl(spec, fleet_env, "switch", "blue", "--json", check=0).stdout)
        assert switched["result"] == "switched" and (answer(h1)[0], answer(h2)[0]) == ("blue", "blue"), switched
        print(f"\nh2's engine stopped: status unknown, the switch refused with no host flipped; "
              f"healthy again {back:.1f} s after the engine started, then switched")
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        if balancer:
            balancer.stop()
        down(spec, fleet_env)
