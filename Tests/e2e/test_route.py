"""The route: a switch is a rename in nginx/route/, never a reload. Right after `switch` returns every
fresh request reaches the pool it named, no nginx worker is replaced, and clients that never retry
(as wrk and load balancers in front) lose no request on their kept-alive connections. A stack whose
configuration predates routes is converted by its next switch or up, with one reload."""
import json
import os
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
                status = project.status(expect=0)
                assert status["live"] == target and status["route"] == target, status
            target = "blue" if target == "green" else "green"
        time.sleep(0.5)
    print(f"{SWITCHES} switches: {load.summary()}")
    assert late == [], f"fresh requests reached the old pool right after switch returned: {late}"
    assert workers(project) == before, "a switch replaced nginx's workers (a reload took place)"
    assert load.sent > 400
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


def test_a_hung_live_pool_costs_no_request_the_watcher_moves_the_route_and_never_back(project):
    from receiver import Receiver
    from test_watcher import WATCH
    with Receiver() as slack:
        project.write_spec(extra=WATCH)
        project.env = {"SLACK_WEBHOOK_URL": slack.url()}
        project.bgctl("up", check=0)
        link = project.dir / "state" / "nginx" / "route" / "current"
        time.sleep(1.5)
        with NaiveLoad(project.url, connections=10, rate_per_connection=20, max_requests=20000, max_seconds=60) as load:
            time.sleep(1.0)
            # Paused: the kernel still accepts its connections, nothing answers them — a hung pool.
            hung = time.monotonic()
            project.docker("pause", f"{project.name}-blue")
            moved = None
            for _ in range(200):
                if os.readlink(link) == "green":
                    moved = time.monotonic()
                    break
                time.sleep(0.02)
            time.sleep(8)
            project.docker("unpause", f"{project.name}-blue")
            time.sleep(3)  # blue answers again: the route stays where the watcher put it
            held = os.readlink(link)
        alert = slack.wait_for(lambda t: "stopped answering" in t and "green" in t, 10)
    assert moved is not None, "the watcher did not move the route within 4 s of the hang"
    slow_after_move = [(round(b - hung, 2), round(s, 2)) for b, s in load.slow if b > moved]
    print(f"hung pool: route moved {(moved - hung) * 1000:.0f} ms after the pause; {load.summary()}; "
          f"over 1 s: {len(load.slow)} (sent after the move: {len(slow_after_move)})")
    assert held == "green", "the route went back by itself"
    assert load.failed == 0, load.errors[:10]
    assert slow_after_move == [], slow_after_move
    assert alert, slack.texts()
    status = project.status(expect=3)
    assert status["live"] == "green"
    assert any("the watcher moved it" in p for p in status["problems"]), status["problems"]
    project.bgctl("switch", "green", check=0)
    assert project.status(expect=0)["live"] == "green"
