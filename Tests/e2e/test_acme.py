"""proxy.tls.acme on the real engine, against Pebble (Let's Encrypt's test CA) validating HTTP-01 on
the shared front's port: issuance on `up`, renewal by `certs renew --force` and by the running
watcher under HTTPS load (0 failed requests, retrying clients and clients that never retry), a
challenge nobody can reach (exit 11, the stack on HTTP, a backoff on disk), badNonce answers, a CA
that rate-limits (a stand-in: Pebble simulates no limits), and a SIGKILL during issuance."""
import http.client
import json
import os
import signal
import stat
import subprocess
import threading
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from acme import Pebble, RateLimitedCA, pebble_available
from conftest import BGCTL, Front, Project, free_port
from loadgen import Load, NaiveLoad, tls_get

NAME = "shop.test"
QUIET = """
watch:
  min_requests: 10
  ignore_paths: [/healthz]
  metrics: {enabled: false}
"""

@pytest.fixture(autouse=True)
def pebble_installed():
    # Not a skip: a run without Pebble would pass without testing ACME at all.
    assert pebble_available(), "pebble and pebble-challtestsrv are needed: apt-get install pebble (make test's setup installs it)"


def acme_project(tmp_path, front, directory, ca_file=None, extra=QUIET, timeout=None):
    """A project on `front` for shop.test with HTTPS on a port of its own and proxy.tls.acme."""
    (tmp_path / "shop").mkdir(exist_ok=True)
    project = Project(tmp_path / "shop", hosts=[NAME], front=front)
    project.tls_port = free_port()
    project.write_spec(extra=extra)
    acme = f'directory: "{directory}", email: "ops@shop.test"'
    if ca_file:
        acme += f", ca_file: {ca_file}"
    if timeout:
        acme += f", timeout: {timeout}"
    project.spec.write_text(project.spec.read_text().replace(
        "proxy:\n", f'proxy:\n  tls: {{listen: "127.0.0.1:{project.tls_port}", redirect_http: true, acme: {{{acme}}}}}\n', 1))
    return project


@pytest.fixture
def shop(tmp_path):
    """(front, make): projects made by `make(directory, …)` are taken down with the front."""
    front = Front(tmp_path)
    made = []

    def make(directory, ca_file=None, **kwargs):
        project = acme_project(tmp_path, front, directory, ca_file, **kwargs)
        made.append(project)
        return project

    yield front, make
    front.take_down(made)


@pytest.fixture
def pebble_factory(tmp_path):
    started = []

    def start(http_port, **kwargs):
        pebble = Pebble(tmp_path / f"pebble-{len(started)}", http_port, **kwargs)
        started.append(pebble)
        return pebble

    yield start
    for pebble in started:
        pebble.stop()


def handshake(port, root, name=NAME):
    """(status line, SANs, serial, body) of GET /healthz by TLS with SNI `name`, verified against `root`
    (the CA that issued the certificate)."""
    return tls_get(port, name, root)


def plain(port, path, name=NAME):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": name})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.headers), body


def certs_status(project, expect):
    return json.loads(project.bgctl("certs", "status", "--json", check=expect).stdout)


def iso(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def renew_under_load(project, root, action):
    """Runs `action` under HTTPS load from retrying clients and from clients that never retry;
    returns (Load result, NaiveLoad, seconds `action` took)."""
    url = f"https://127.0.0.1:{project.tls_port}/"
    load = Load(url, keepalive_clients=2, fresh_clients=1, rate_per_client=40, max_seconds=90, cafile=str(root), host=NAME)
    naive = NaiveLoad(url, connections=4, rate_per_connection=20, max_seconds=90, cafile=str(root), host=NAME)
    with load, naive:
        time.sleep(1.0)
        began = time.monotonic()
        action()
        took = time.monotonic() - began
        time.sleep(1.5)
    return load.result, naive, took


def test_up_obtains_the_certificate_and_certs_renew_replaces_it_under_https_load(shop, pebble_factory):
    front, make = shop
    pebble = pebble_factory(front.port)
    project = make(pebble.directory, pebble.ca_file)

    began = time.monotonic()
    up = project.bgctl("up", check=0, timeout=240)
    up_seconds = time.monotonic() - began
    output = up.stdout + up.stderr
    assert "valid until" in output, output
    root = pebble.root()
    status, names, serial, body = handshake(project.tls_port, root)
    assert status.endswith("200 OK") and names == [NAME], (status, names)
    assert b"r-blue" in body

    report = certs_status(project, 0)
    assert report["names"] == [NAME] and report["installed"] is True and report["failures"] == 0
    assert "Pebble" in (report["issuer"] or ""), report
    assert report["next_attempt"] is None and report["last_error"] is None
    lifetime = iso(report["not_after"]) - iso(report["not_before"])
    window = min(30 * 86400, lifetime / 3)
    assert abs(iso(report["renew_at"]) - (iso(report["not_after"]) - window)) < 5, report

    # Keys: 0600 in the state folder and in the proxy's tls/, never printed anywhere bgctl writes text.
    store = project.dir / "state" / "acme"
    assert mode(store / "account.key") == 0o600
    pairs = list((store / "pairs").iterdir())
    assert len(pairs) == 1 and mode(pairs[0] / "key.pem") == 0o600
    tls = front.dir / "conf" / "projects" / project.name / "tls"
    assert os.path.islink(tls / "live") and mode(tls / os.readlink(tls / "live") / "key.pem") == 0o600
    secrets = [line for path in (store / "account.key", pairs[0] / "key.pem")
               for line in path.read_text().splitlines() if not line.startswith("-----")]
    history = (project.dir / "state" / "history.jsonl").read_text()
    shown = output + history + project.bgctl("status", "--json").stdout + json.dumps(report)
    assert secrets and not any(line in shown for line in secrets), "a private key line was printed or recorded"

    # The challenge path on plain HTTP is the proxy's (a 404 for an unknown token, never the app's),
    # answered before the redirect to HTTPS, and not logged as app traffic.
    code, headers, _ = plain(front.port, "/.well-known/acme-challenge/unknownToken123")
    assert code == 404 and "X-Bgctl-Pool" not in headers
    code, headers, _ = plain(front.port, "/")
    assert code == 308 and headers["Location"].startswith(f"https://{NAME}:")
    logged = (front.dir / "logs" / project.name / "access.log").read_text()
    assert "/healthz" in logged, "the app's traffic is logged"
    assert "acme-challenge" not in logged

    result, naive, renew_seconds = renew_under_load(
        project, root, lambda: project.bgctl("certs", "renew", "--force", "--json", check=0, timeout=240))
    status, names, renewed, _ = handshake(project.tls_port, root)
    assert renewed != serial and names == [NAME], "certs renew --force installed a new certificate"
    print(f"\nacme: up {up_seconds:.1f} s (issuance included); certs renew --force {renew_seconds:.1f} s; "
          f"retrying clients {result.summary()}; clients that never retry {naive.summary()}")
    assert result.sent > 100 and naive.sent > 100
    assert result.failed == 0, result.failures[:5]
    # One reload: nginx's old workers close their idle keep-alive connections, so a client that never
    # retries loses at most the one request it sent on each of its connections at that instant.
    assert naive.failed <= naive.connections, naive.errors[:5]
    assert all("RemoteDisconnected" in e or "Connection reset" in e or "BrokenPipe" in e for e in naive.errors), naive.errors[:5]
    assert len(list((store / "pairs").iterdir())) <= 2
    assert sorted(p.name for p in tls.iterdir() if not p.name.startswith(".")).count("live") == 1
    assert not list((front.dir / "conf" / "projects" / project.name / "acme-challenge").iterdir()), "tokens are removed after use"


def test_a_challenge_the_ca_cannot_reach_leaves_the_stack_on_http_with_a_backoff(shop, pebble_factory):
    front, make = shop
    pebble = pebble_factory(free_port())  # validates on a port nothing listens on
    project = make(pebble.directory, pebble.ca_file)
    up = project.bgctl("up", check=11, timeout=240)
    assert f"acme: {NAME}: the challenge at http://{NAME}/.well-known/acme-challenge/" in up.stderr, up.stderr
    assert "is port 80" in up.stderr and "next attempt" in up.stderr, up.stderr
    code, headers, body = plain(front.port, "/healthz")
    assert code == 200 and headers.get("X-Bgctl-Pool") == "blue", "the stack serves plain HTTP without a certificate"
    report = certs_status(project, 4)
    assert report["failures"] == 1 and report["not_after"] is None
    assert report["next_attempt"] and iso(report["next_attempt"]) > time.time() + 60, report
    assert NAME in report["last_error"]
    # Within the backoff, neither a renewal nor another up asks the CA again.
    began = time.monotonic()
    again = project.bgctl("certs", "renew", check=11, timeout=60)
    assert time.monotonic() - began < 15 and "next attempt" in again.stderr, again.stderr
    assert certs_status(project, 4)["failures"] == 1
    print("\nacme: unreachable challenge: " + next(line for line in up.stderr.splitlines() if line.startswith("error:")))


def test_a_challenge_answered_404_says_so(shop, pebble_factory):
    front, make = shop
    port = free_port()

    class NotFound(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", port), NotFound)  # another web server where the CA looks
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        pebble = pebble_factory(port)
        project = make(pebble.directory, pebble.ca_file)
        up = project.bgctl("up", check=11, timeout=240)
        line = next(line for line in up.stderr.splitlines() if line.startswith("error:"))
        assert line.startswith(f"error: acme: {NAME}: the challenge at http://{NAME}/.well-known/acme-challenge/"), line
        assert " answered 404: " in line and line.endswith(f"is port 80 of {NAME} reaching this host, and does its DNS point here?"), line
        print("\nacme: challenge answered 404: " + line)
    finally:
        server.shutdown()
        server.server_close()


def test_bad_nonce_answers_are_retried(shop, pebble_factory):
    front, make = shop
    pebble = pebble_factory(front.port, nonce_reject=20)
    project = make(pebble.directory, pebble.ca_file)
    up = project.bgctl("up", check=0, timeout=240)
    refused = (up.stderr + up.stdout).count("refused a nonce (badNonce)")
    # Pebble refuses at random: renew (each issuance a dozen signed requests) until it has refused one,
    # at most 5 times, so the test never passes without a refusal retried, nor fails for want of one.
    issued = 1
    while issued < 6 and (issued < 2 or refused == 0):
        renew = project.bgctl("certs", "renew", "--force", check=0, timeout=240)
        refused += (renew.stderr + renew.stdout).count("refused a nonce (badNonce)")
        issued += 1
    assert refused > 0, f"Pebble refused no nonce in {issued} issuances: the test proved nothing"
    status, names, _, _ = handshake(project.tls_port, pebble.root())
    assert status.endswith("200 OK") and names == [NAME]
    print(f"\nacme: issued {issued} times with Pebble refusing 20% of nonces ({refused} refusals retried)")


def test_a_rate_limited_order_backs_off_until_the_cas_retry_after(shop):
    front, make = shop
    ca = RateLimitedCA(retry_after=3600)
    try:
        project = make(ca.directory)
        up = project.bgctl("up", check=11, timeout=120)
        assert "(rate limit)" in up.stderr and "60 min" in up.stderr, up.stderr
        assert ca.orders == 1, "the order is not retried past the deadline"
        report = certs_status(project, 4)
        assert abs(iso(report["next_attempt"]) - (time.time() + 3600)) < 120, report
        again = project.bgctl("up", check=11, timeout=120)
        assert ca.orders == 1, "up within the CA's Retry-After does not order again"
        assert "next attempt" in again.stderr, again.stderr
        assert plain(front.port, "/healthz")[0] == 200
    finally:
        ca.stop()


def test_a_sigkill_during_issuance_is_finished_by_the_next_up(shop, pebble_factory):
    front, make = shop
    pebble = pebble_factory(front.port, sleep=True)  # the CA validates after a random 0-15 s
    project = make(pebble.directory, pebble.ca_file)
    challenges = front.dir / "conf" / "projects" / project.name / "acme-challenge"
    process = subprocess.Popen([BGCTL, "-f", str(project.spec), "up"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, NO_COLOR="1", **project.env))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (challenges.exists() and any(challenges.iterdir())):
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    assert any(challenges.iterdir()), "up published no challenge within 120 s"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    store = project.dir / "state" / "acme"
    key = (store / "account.key").read_text()
    assert not (store / "current.json").exists(), "killed before any certificate"

    project.bgctl("up", check=0, timeout=240)
    assert (store / "account.key").read_text() == key, "the account key written before the kill is used again"
    status, names, _, _ = handshake(project.tls_port, pebble.root())
    assert status.endswith("200 OK") and names == [NAME]
    pairs = [p for p in (store / "pairs").iterdir()]
    assert len(pairs) == 1 and sorted(f.name for f in pairs[0].iterdir()) == ["cert.pem", "key.pem"], pairs
    assert not [p for p in store.iterdir() if p.name.startswith(".")], "no staging left in the store"
    assert not list(challenges.iterdir())


def test_a_sigterm_during_issuance_stops_it_without_a_failure_on_the_schedule(shop, pebble_factory):
    front, make = shop
    pebble = pebble_factory(front.port, sleep=True)  # the CA validates after a random 0-15 s
    project = make(pebble.directory, pebble.ca_file)
    challenges = front.dir / "conf" / "projects" / project.name / "acme-challenge"
    process = subprocess.Popen([BGCTL, "-f", str(project.spec), "up"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, NO_COLOR="1", **project.env))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (challenges.exists() and any(challenges.iterdir())):
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    assert any(challenges.iterdir()), "up published no challenge within 120 s"
    stopped = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 8, stderr
    assert time.monotonic() - stopped < 5, "the issuance stops at its next check of the signal"
    assert not list(challenges.iterdir()), "the token is withdrawn"
    store = project.dir / "state" / "acme"
    renewal = json.loads((store / "renewal.json").read_text()) if (store / "renewal.json").exists() else {}
    assert renewal.get("failures", 0) == 0 and renewal.get("next_attempt") is None, "a signal is no failed attempt"
    assert plain(front.port, "/healthz")[0] == 200, "the stack serves plain HTTP"
    project.bgctl("up", check=0, timeout=240)
    assert handshake(project.tls_port, pebble.root())[0].endswith("200 OK")


def stamp(seconds):
    return datetime.utcfromtimestamp(seconds).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_the_watcher_renews_a_certificate_that_is_due_under_https_load(shop, pebble_factory):
    front, make = shop
    pebble = pebble_factory(front.port)
    metrics_port = free_port()
    project = make(pebble.directory, pebble.ca_file,
                   extra=QUIET.replace("metrics: {enabled: false}", f'metrics: {{enabled: true, listen: "127.0.0.1:{metrics_port}"}}'))
    project.bgctl("up", check=0, timeout=240)
    root = pebble.root()
    _, _, serial, _ = handshake(project.tls_port, root)
    # Pebble issues 5-year certificates and cannot be told otherwise: the record is moved to day 70 of
    # a 90-day certificate (20 days left, inside the 30-day window), as if the clock had run on.
    current = project.dir / "state" / "acme" / "current.json"
    record = json.loads(current.read_text())
    now = time.time()
    record["not_before"], record["not_after"] = stamp(now - 70 * 86400), stamp(now + 20 * 86400)
    current.write_text(json.dumps(record))
    report = certs_status(project, 0)
    assert iso(report["renew_at"]) < now, report
    watcher = project.docker("ps", "-q", "--filter", f"label=io.bgctl.project={project.name}",
                             "--filter", "label=io.bgctl.role=watcher").stdout.split()
    assert len(watcher) == 1

    def restart_and_wait():
        # The watcher looks 5 s after it starts, then every 10 minutes: a restart makes it look now.
        project.docker("restart", watcher[0])
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and handshake(project.tls_port, root)[2] == serial:
            time.sleep(0.25)

    result, naive, took = renew_under_load(project, root, restart_and_wait)
    _, names, renewed, _ = handshake(project.tls_port, root)
    assert renewed != serial and names == [NAME], "the watcher renewed and installed the certificate"
    record = json.loads(current.read_text())
    assert iso(record["not_after"]) > now + 365 * 86400, "the record is the new certificate's"
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'bgctl_certificate_renewals_total{result="renewed"} 1' in metrics, metrics[-2000:]
    assert "bgctl_certificate_not_after_seconds" in metrics
    print(f"\nacme: the watcher renewed {took:.1f} s after its restart (5 s of it its first look); retrying clients "
          f"{result.summary()}; clients that never retry {naive.summary()}")
    assert result.failed == 0, result.failures[:5]
    assert naive.failed <= naive.connections, naive.errors[:5]  # one reload, as for certs renew
