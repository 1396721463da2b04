"""The route: a switch is a rename in nginx/route/, never a reload. Right after `switch` returns every
fresh request reaches the pool it named, no nginx worker is replaced, and clients that never retry
(as wrk and load balancers in front) lose no request on their kept-alive connections. A stack whose
configuration predates routes is converted by its next switch or up, with one reload."""
import json
import time
import urllib.request

from loadgen import NaiveLoad

SWITCHES = 40


def fresh_pools(project, count=5):
    pools = []
    for _ in range(count):
        request = urllib.request.Request(project.url + "healthz", headers={"Connection": "close"})
        with urllib.request.urlopen(request, timeout=5) as response:
            pools.append(response.headers["X-Bgctl-Pool"])
    return pools


def workers(project):
    out = project.docker("top", f"{project.name}-proxy").stdout.splitlines()
    pid = out[0].split().index("PID")
    return sorted(line.split()[pid] for line in out[1:] if "nginx: worker process" in line)


def test_switches_move_every_new_request_at_once_and_close_no_connection(project):
    project.bgctl("up", check=0)
    assert (project.dir / "state" / "nginx" / "route" / "current").is_symlink()
    before = workers(project)
    assert before, "the proxy runs nginx workers"
    late = []
    with NaiveLoad(project.url, connections=10, rate_per_connection=20, max_requests=40000, max_seconds=120) as load:
        time.sleep(0.5)
        target = "green"
        for n in range(SWITCHES):
            project.bgctl("switch", target, check=0)
            pools = fresh_pools(project)
            if pools != [target] * 5:
                late.append((n, target, pools))
            if n % 8 == 0:
                assert project.status(expect=0)["live"] == target
            target = "blue" if target == "green" else "green"
        time.sleep(0.5)
    print(f"{SWITCHES} switches: {load.summary()}")
    assert late == [], f"fresh requests reached the old pool right after switch returned: {late}"
    assert workers(project) == before, "a switch replaced nginx's workers (a reload took place)"
    assert load.sent > 1000
    assert load.failed == 0, load.errors[:10]
    switches = [json.loads(line) for line in (project.dir / "state" / "history.jsonl").read_text().splitlines()]
    assert sum(1 for e in switches if e["action"] == "switch") == SWITCHES


def make_it_predate_routes(project):
    """What a stack made by bgctl 0.2 looks like: a configuration that never reads the route (it
    serves the live pool it was rendered for) and no nginx/route/ folder; loaded with a reload."""
    conf = project.dir / "state" / "nginx" / "bgctl.conf"
    conf.write_text(conf.read_text().replace("/bgctl/conf/route/current/", "/bgctl/conf/no-route/"))
    route = project.dir / "state" / "nginx" / "route"
    for entry in sorted(route.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        entry.unlink() if entry.is_symlink() or entry.is_file() else entry.rmdir()
    route.rmdir()
    project.docker("kill", "--signal", "HUP", f"{project.name}-proxy")
    for _ in range(100):
        if fresh_pools(project, 1) == ["blue"] and len(workers(project)) > 0:
            break
        time.sleep(0.05)
    time.sleep(0.3)


def test_a_stack_from_before_routes_is_converted_by_its_next_switch_and_by_up(project):
    project.bgctl("up", check=0)
    make_it_predate_routes(project)
    status = project.status(expect=3)
    assert status["live"] == "blue" and not status["proxy"]["config_in_sync"]
    old = workers(project)
    project.bgctl("switch", "green", check=0)
    assert fresh_pools(project) == ["green"] * 5
    assert workers(project) != old, "converting takes one reload"
    status = project.status(expect=0)
    assert status["live"] == "green" and status["proxy"]["config_in_sync"], status["problems"]
    converted = workers(project)
    project.bgctl("switch", "blue", check=0)
    assert fresh_pools(project) == ["blue"] * 5
    assert workers(project) == converted, "once converted, a switch takes no reload"

    make_it_predate_routes(project)
    old = workers(project)
    project.bgctl("up", check=0)
    assert (project.dir / "state" / "nginx" / "route" / "current").is_symlink()
    assert workers(project) != old, "converting takes one reload"
    status = project.status(expect=0)
    assert status["live"] == "blue" and status["proxy"]["config_in_sync"], status["problems"]
    assert fresh_pools(project) == ["blue"] * 5
