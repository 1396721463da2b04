"""ACME servers for the end-to-end tests, all on 127.0.0.1: Pebble (Let's Encrypt's test CA, from
Debian's package) with pebble-challtestsrv answering every name with 127.0.0.1, and a small stand-in
that answers every order with Let's Encrypt's rate-limit problem (Pebble simulates no limits)."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port
from test_tls import make_ca_and_certificate


def pebble_available():
    return shutil.which("pebble") is not None and shutil.which("pebble-challtestsrv") is not None


class Pebble:
    """Pebble validating HTTP-01 on `http_port` (the front's port), its directory at `directory`,
    its listener's CA in `ca_file`. `nonce_reject` is the percentage of nonces it refuses (badNonce)."""

    def __init__(self, folder, http_port, nonce_reject=0, sleep=False, lifetime=None):
        """sleep: Pebble's random 0-15 s wait before each validation; lifetime: seconds each certificate is valid."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_file, cert, key = make_ca_and_certificate(folder, days=2, name="pebble", dns=("localhost", "pebble"))
        self.port, self.management, self.dns = free_port(), free_port(), free_port()
        self.directory = f"https://127.0.0.1:{self.port}/dir"
        config = {"pebble": {"listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{self.management}",
                             "certificate": str(cert), "privateKey": str(key), "httpPort": http_port, "tlsPort": free_port(),
                             "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        if lifetime:
            config["pebble"]["certificateValidityPeriod"] = lifetime
        (folder / "pebble.json").write_text(json.dumps(config))
        self.logs = []
        self.dns_server = self._start(["pebble-challtestsrv", "-dns01", f"127.0.0.1:{self.dns}", "-http01", "", "-https01", "",
                                       "-tlsalpn01", "", "-management", f"127.0.0.1:{free_port()}",
                                       "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], "challtestsrv.log")
        env = dict(os.environ, PEBBLE_WFE_NONCEREJECT=str(nonce_reject), PEBBLE_AUTHZREUSE="0")
        if not sleep:
            env["PEBBLE_VA_NOSLEEP"] = "1"
        self.server = self._start(["pebble", "-config", str(folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{self.dns}"],
                                  "pebble.log", env)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.directory, timeout=2, context=context) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert self.dns_server.poll() is None and self.server.poll() is None, "pebble or challtestsrv exited:\n" + self.log()
            assert time.monotonic() < deadline, "pebble did not start:\n" + self.log()
            time.sleep(0.1)

    def _start(self, argv, log, env=None):
        out = open(self.folder / log, "wb")
        self.logs.append(self.folder / log)
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def root(self):
        """The root that signs what Pebble issues (it changes on every start)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(f"https://127.0.0.1:{self.management}/roots/0", timeout=5, context=context) as response:
            path = self.folder / "issued-root.pem"
            path.write_bytes(response.read())
            return path

    def log(self):
        return "\n".join(path.read_text(errors="replace")[-4000:] for path in self.logs if path.exists())

    def stop(self):
        for process in (self.server, self.dns_server):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


class RateLimitedCA:
    """A stand-in ACME server on plain HTTP at 127.0.0.1: a directory, nonces, accounts, and every
    new order answered 429 with urn:ietf:params:acme:error:rateLimited and Retry-After, as Let's
    Encrypt answers past a limit. Counts the orders it was sent."""

    def __init__(self, retry_after=3600):
        self.orders = 0
        ca = self
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.directory = base + "/dir"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", content_type="application/json", headers=()):
                self.send_response(status)
                self.send_header("Replay-Nonce", "n" + str(time.monotonic_ns()))
                self.send_header("Cache-Control", "no-store")
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_HEAD(self):
                self._send(200)

            def do_GET(self):
                if self.path == "/dir":
                    self._send(200, json.dumps({"newNonce": base + "/nonce", "newAccount": base + "/account",
                                                "newOrder": base + "/order", "revokeCert": base + "/revoke",
                                                "keyChange": base + "/key"}).encode())
                else:
                    self._send(204 if self.path == "/nonce" else 404)

            def do_POST(self):
                length = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
                self.rfile.read(length)
                if self.path == "/account":
                    self._send(201, json.dumps({"status": "valid", "contact": []}).encode(),
                               headers=[("Location", base + "/account/1")])
                elif self.path == "/order":
                    ca.orders += 1
                    problem = {"type": "urn:ietf:params:acme:error:rateLimited", "status": 429,
                               "detail": "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s"}
                    self._send(429, json.dumps(problem).encode(), "application/problem+json", [("Retry-After", str(retry_after))])
                else:
                    self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
