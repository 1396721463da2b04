"""The host's shared front on the real engine: projects A and B behind one front (routing by Host),
project C with its own proxy, all three under load from clients that never retry. Whatever A does —
switch, deploy blue-green and canary, roll back, an `up` whose part nginx -t rejects (alone, and only
beside B), go down — B loses no request and keeps its pool, and the front never reloads for it."""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BGCTL, ROOT, Front, Project, free_port
from loadgen import NaiveLoad, tls_get
from test_tls import make_ca_and_certificate

WATCH = """
watch:
  min_requests: 10
  ignore_paths: [/healthz]
  metrics: {enabled: false}
deploy:
  drain_quiet: 1s
  drain_timeout: 10s
"""


def tagged(project, tag, extra=""):
    """The spec, with releases named after the project, so an answer tells which project served it."""
    project.write_spec(extra=WATCH + extra)
    project.spec.write_text(project.spec.read_text().replace('release: "r-', f'release: "{tag}-'))


def ask(port, host, path="/healthz"):
    """(status, release, pool) of one fresh request to 127.0.0.1:port with this Host."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host, "Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("X-Release-Id"), response.headers.get("X-Bgctl-Pool")
    except urllib.error.HTTPError as error:
        return error.code, None, None
    except (urllib.error.URLError, OSError):
        return 0, None, None  # not listening (yet)


def front_workers(front):
    out = subprocess.run(["docker", "top", front.name], capture_output=True, text=True, timeout=30).stdout.splitlines()
    if not out:
        return []
    pid = out[0].split().index("PID")
    return sorted(line.split()[pid] for line in out[1:] if "nginx: worker process" in line)


def watched(project):
    """The requests the project's own access log holds, as its watcher counts them (health checks left out)."""
    summary = json.loads(project.bgctl("watch", "--once", "--json", check=0).stdout.strip().splitlines()[-1])
    return summary["lines"] - summary["ignored"]


@pytest.fixture
def trio(tmp_path):
    front = Front(tmp_path)
    made = []

    def make(name, hosts, tag):
        folder = tmp_path / name
        folder.mkdir()
        project = Project(folder, hosts=hosts, front=front if hosts else None)
        tagged(project, tag)
        made.append(project)
        return project

    yield front, make
    front.take_down(made)


def test_projects_on_one_front_never_touch_each_others_traffic(trio, tmp_path):
    front, make = trio
    b = make("b", ["b.test", "www.b.test"], "b")
    c = make("c", None, "c")
    a = make("a", ["a.test"], "a")
    b.bgctl("up", check=0)
    c.bgctl("up", check=0)

    # A joins while B is under load: the one reload A's new part needs, and what it costs B.
    reloads = 1  # B's own join started the front: its first generation
    with NaiveLoad(front.url(), connections=5, rate_per_connection=20, max_requests=4000, max_seconds=60, host="b.test") as join:
        time.sleep(1)
        a.bgctl("up", check=0)
        time.sleep(1)
    reloads += 1
    print(f"A's join (one reload of the front) cost B: {join.summary()}; errors {join.errors[:3]}")

    # Each name reaches its own project; a name nobody claims gets the front's 404.
    assert ask(front.port, "a.test")[:2] == (200, "a-blue")
    assert ask(front.port, "b.test")[:2] == (200, "b-blue")
    assert ask(front.port, "www.b.test")[:2] == (200, "b-blue")
    assert ask(front.port, "nobody.test")[0] == 404
    assert ask(c.proxy_port, "c.test")[:2] == (200, "c-blue")

    # A name another project claims is refused, naming that project; nothing of D is created.
    d = make("d", ["www.b.test"], "d")
    refused = d.bgctl("up", check=1)
    assert f"www.b.test is claimed by project {b.name}" in refused.stderr, refused.stderr
    assert d.containers() == []

    workers = front_workers(front)
    assert workers, "the front runs nginx workers"
    with NaiveLoad(front.url(), connections=5, rate_per_connection=20, max_requests=20000, max_seconds=150, host="b.test") as load_b, \
            NaiveLoad(c.url, connections=3, rate_per_connection=20, max_requests=12000, max_seconds=150) as load_c, \
            NaiveLoad(front.url(), connections=5, rate_per_connection=20, max_requests=20000, max_seconds=150, host="a.test") as load_a:
        time.sleep(1)
        a.bgctl("switch", "green", check=0)
        a.bgctl("switch", "blue", check=0)
        a.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "a-v2", "--analyze", "2s", check=0, timeout=120)
        a.bgctl("deploy", "--image", "bgctl/demo-app:local", "--release", "a-v3", "--canary", "50", "--step", "2s",
                check=0, timeout=120)
        a.bgctl("rollback", check=0)
        assert front_workers(front) == workers, "A's switches, deploys and rollback reloaded the front"

        # A's part refused by nginx -t alone (a broken custom template), then only beside B's (an
        # upstream B's part defines): neither is installed, nothing reloads.
        broken = tmp_path / "a" / "tpl-broken"
        beside = tmp_path / "a" / "tpl-beside"
        for folder, line in ((broken, "bgctl_no_such_directive on;\n"),
                             (beside, f"upstream bgctl_{b.name.replace('-', '_')}_blue {{ server 127.0.0.1:9; }}\n")):
            shutil.copytree(os.path.join(ROOT, "templates"), folder)
            with open(folder / "bgctl.conf.mustache", "a") as template:
                template.write(line)
        tagged(a, "a", extra=f"templates_dir: {broken}\n")
        alone = a.bgctl("up", check=1)
        assert "nginx rejected" in alone.stderr and "bgctl_no_such_directive" in alone.stderr, alone.stderr
        tagged(a, "a", extra=f"templates_dir: {beside}\n")
        together = a.bgctl("up", check=1)
        assert "with the other projects on the shared front" in together.stderr and b.name in together.stderr, together.stderr
        tagged(a, "a")
        assert front_workers(front) == workers, "a rejected part reloaded the front"
        time.sleep(1)
    live_a = a.status(expect=0)["live"]
    print(f"A: {load_a.summary()}; B: {load_b.summary()}; C: {load_c.summary()}")
    assert load_a.failed == 0, load_a.errors[:5]
    assert load_b.failed == 0, load_b.errors[:5]
    assert load_c.failed == 0, load_c.errors[:5]
    assert {pool for _, pool in load_b.samples} == {"blue"}, "B's pool never changed"
    assert {pool for _, pool in load_c.samples} == {"blue"}
    assert ask(front.port, "a.test")[2] == live_a

    # Each project's own log holds its requests and only them: every request its proxy answered (the
    # join's reload closed idle connections under a few, which nginx never read, so never logged).
    assert all(error.startswith("RemoteDisconnected") for error in join.errors), join.errors
    assert watched(b) == load_b.ok + join.ok, (watched(b), load_b.ok, join.ok)
    assert watched(c) == load_c.ok

    # A restart of the front (a dockerd restart or a reboot does the same): every project serves
    # again with its live pool, from the files and routes on disk.
    subprocess.run(["docker", "restart", front.name], check=True, capture_output=True, timeout=60)
    reloads += 1
    deadline = time.monotonic() + 20
    while ask(front.port, "b.test")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ask(front.port, "a.test")[2] == live_a
    assert ask(front.port, "b.test")[:2] == (200, "b-blue")
    status = json.loads(subprocess.run([BGCTL, "front", "status", "--json"], capture_output=True, text=True,
                                       env=dict(os.environ, **front.env), timeout=30).stdout)
    assert status["state"] == "running" and status["problems"] == [], status
    assert {p["name"]: p["route"] for p in status["projects"]} == {a.name: live_a, b.name: "blue"}

    # A goes down under B's load: no reload; A's names answer 404 at once; B serves on.
    workers = front_workers(front)
    with NaiveLoad(front.url(), connections=5, rate_per_connection=20, max_requests=4000, max_seconds=60, host="b.test") as load_b:
        time.sleep(1)
        a.bgctl("down", check=0)
        time.sleep(1)
    assert load_b.failed == 0, load_b.errors[:5]
    assert front_workers(front) == workers, "A's down reloaded the front"
    assert ask(front.port, "a.test")[0] == 404
    assert ask(front.port, "b.test")[:2] == (200, "b-blue")
    assert subprocess.run(["docker", "inspect", front.name], capture_output=True).returncode == 0, "the front stays for B"

    # C moves from its own proxy onto the front: its own proxy goes (its port with it), the front
    # serves c.test from C's live pool; B is not reloaded out of its pool.
    c.hosts, c.front, c.proxy_port = ["c.test"], front, front.port
    c.env.update(front.env)
    tagged(c, "c")
    moved = c.bgctl("up", check=0)
    reloads += 1
    print(f"front reloads over the test: {reloads} (B's start, A's join, the restart, C's move); none for A's switches, "
          "deploys, rollback, rejected parts or down")
    assert "moving onto the shared front" in moved.stderr, moved.stderr
    assert subprocess.run(["docker", "inspect", f"{c.name}-proxy"], capture_output=True).returncode != 0
    assert ask(front.port, "c.test")[:2] == (200, "c-blue")
    assert ask(front.port, "b.test")[:2] == (200, "b-blue")

    b.bgctl("down", check=0)
    assert ask(front.port, "c.test")[:2] == (200, "c-blue"), "the front stays for C"
    c.bgctl("down", check=0)
    assert subprocess.run(["docker", "inspect", front.name], capture_output=True).returncode != 0, "the front goes with its last project"


def test_each_project_on_the_front_serves_its_own_certificate_by_sni(trio, tmp_path):
    front, make = trio
    tls_port = free_port()
    certs = tmp_path / "certs"
    a = make("a", ["a.test"], "a")
    b = make("b", ["b.test"], "b")
    for project, name in ((a, "a.test"), (b, "b.test")):
        ca, cert, key = make_ca_and_certificate(certs, name=name.split(".")[0], dns=(name,))
        tagged(project, name[0])
        project.spec.write_text(project.spec.read_text().replace(
            "proxy:\n", f"proxy:\n  tls: {{listen: \"127.0.0.1:{tls_port}\", cert: {cert}, key: {key}}}\n", 1))
        project.bgctl("up", check=0)

    def handshake(name):
        status, names, _, answer = tls_get(tls_port, name, ca)
        return status, names, answer

    status_a, names_a, body_a = handshake("a.test")
    status_b, names_b, body_b = handshake("b.test")
    assert status_a.endswith("200 OK") and names_a == ["a.test"] and b"a-blue" in body_a
    assert status_b.endswith("200 OK") and names_b == ["b.test"] and b"b-blue" in body_b
    # A name nobody claims gets no handshake (and so no other project's certificate).
    refused = False
    try:
        handshake("nobody.test")
    except (ssl.SSLError, ConnectionError):
        refused = True
    assert refused, "the front completed a TLS handshake for a name nobody claims"
    # Plain HTTP redirects each name to HTTPS, except the health path bgctl checks.
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=5)
    conn.request("GET", "/", headers={"Host": "a.test"})
    response = conn.getresponse()
    assert response.status == 308 and response.headers["Location"] == f"https://a.test:{tls_port}/"
    conn.close()
    assert ask(front.port, "a.test")[:2] == (200, "a-blue")
