"""A bounded HTTP load generator for bgctl's end-to-end tests and benchmarks.

Sends GET requests to one 127.0.0.1 URL from several threads: some keep their connection alive,
some open a new connection per request. It stops at a request count or a time limit, whichever
comes first, and records every failure.

Clients behave as real HTTP clients do (urllib3, Go's net/http, curl, browsers):
- before reusing an idle kept-alive connection they check it: one the server already closed (nginx
  closes idle connections when old workers exit at a reload) is dropped and a new one opened
  (counted in `idle_closed`);
- a GET on a reused connection that is closed before any response byte arrives is retried once on a
  fresh connection (RFC 9112, section 9.3.1; counted in `stale_retries`: a naive client without
  the retry would have seen these fail).
Anything else — a non-200 answer, a reset or refusal on a fresh connection, a timeout — is a failure.
"""
import re
import http.client
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse


class NamedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with another name in SNI and certificate checks (a project on the shared
    front): what a client resolving that name to this host does."""

    def __init__(self, name, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name

    def connect(self):
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.name)


def tls_get(port, name, cafile, path="/healthz", timeout=5):
    """One GET on a fresh TLS connection to 127.0.0.1:port, `name` in SNI and Host, the certificate
    verified against `cafile`: (status line, the certificate's DNS names, its serial, the whole answer)."""
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
            peer = tls.getpeercert()
            return (answer.split(b"\r\n")[0].decode(), [v for k, v in peer["subjectAltName"] if k == "DNS"],
                    peer["serialNumber"], answer)


def connection(host, port, tls, timeout, name=None):
    if tls and name:
        return NamedHTTPSConnection(name, host, port, timeout=timeout, context=tls)
    if tls:
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=tls)
    return http.client.HTTPConnection(host, port, timeout=timeout)


@dataclass
class Sample:
    at: float           # time.monotonic() when the response arrived
    pool: str           # X-Bgctl-Pool header ("" if missing)


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    stale_retries: int = 0
    idle_closed: int = 0
    failures: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    by_pool: dict = field(default_factory=dict)
    failed_by_pool: dict = field(default_factory=dict)   # answered, but not 200, by this pool

    def summary(self):
        return (f"sent={self.sent} ok={self.ok} failed={self.failed} "
                f"idle_closed_before_reuse={self.idle_closed} stale_keepalive_retries={self.stale_retries} by_pool={self.by_pool}")

    def failures_since(self, count):
        """Failures recorded after the first `count` (see `failed`)."""
        return self.failed - count


class Load:
    def __init__(self, url, keepalive_clients=2, fresh_clients=2, rate_per_client=50,
                 max_requests=20000, max_seconds=120, timeout=10, cafile=None, host=None):
        """host: the name to send (Host, and SNI over TLS) to 127.0.0.1 (a project on the shared front)."""
        parsed = urlparse(url)
        self.name = host
        # 127.0.0.1, or a fleet test host's veth address in its own network namespace (fleet.py).
        assert parsed.hostname == "127.0.0.1" or re.fullmatch(r"10\.251\.([1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|250)\.2", parsed.hostname or ""), \
            "test traffic goes to 127.0.0.1 and the fleet test hosts only"
        self.host, self.port, self.path = parsed.hostname, parsed.port, parsed.path or "/"
        # https: verified against the test's own CA, as a real client verifies the certificate.
        self.tls = ssl.create_default_context(cafile=cafile) if parsed.scheme == "https" else None
        self.keepalive_clients = keepalive_clients
        self.fresh_clients = fresh_clients
        self.interval = 1.0 / rate_per_client
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._deadline = time.monotonic() + self.max_seconds
        for i in range(self.keepalive_clients + self.fresh_clients):
            keep = i < self.keepalive_clients
            t = threading.Thread(target=self._client, args=(keep,), daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)
        return self.result

    def _claim(self):
        with self._lock:
            if self.result.sent >= self.max_requests:
                return False
            self.result.sent += 1
            return True

    def _record(self, ok, pool="", failure=None, stale_retry=False, answered_by=None):
        with self._lock:
            if stale_retry:
                self.result.stale_retries += 1
            if ok:
                self.result.ok += 1
                self.result.samples.append(Sample(time.monotonic(), pool))
                self.result.by_pool[pool] = self.result.by_pool.get(pool, 0) + 1
            else:
                self.result.failed += 1
                if answered_by is not None:
                    self.result.failed_by_pool[answered_by] = self.result.failed_by_pool.get(answered_by, 0) + 1
                if len(self.result.failures) < 50:
                    self.result.failures.append(failure)

    @staticmethod
    def _dropped(conn):
        """True when the peer already closed this idle connection (readable with nothing to read; over
        TLS readable at all, as urllib3 decides: an idle HTTP/1.1 server sends nothing but a close)."""
        sock = conn.sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            if isinstance(sock, ssl.SSLSocket):
                return True
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _connect(self):
        return connection(self.host, self.port, self.tls, self.timeout, self.name)

    def _request(self, conn):
        conn.request("GET", self.path, headers=dict({"User-Agent": "bgctl-e2e-load"}, **({"Host": self.name} if self.name else {})))
        response = conn.getresponse()
        response.read()
        return response

    def _client(self, keepalive):
        conn = None
        reused = False
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            started = time.monotonic()
            if not self._claim():
                break
            stale_retry = False
            try:
                if conn is not None and keepalive and reused and self._dropped(conn):
                    with self._lock:
                        self.result.idle_closed += 1
                    conn.close()
                    conn = None
                if conn is None or not keepalive:
                    if conn is not None:
                        conn.close()
                    conn = self._connect()
                    reused = False
                try:
                    response = self._request(conn)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                        ssl.SSLEOFError, ssl.SSLZeroReturnError):
                    if not (keepalive and reused):
                        raise
                    # The server closed this idle kept-alive connection: retry once on a new one.
                    conn.close()
                    conn = self._connect()
                    stale_retry = True
                    response = self._request(conn)
                reused = True
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                pool = response.getheader("X-Bgctl-Pool", "")
                if response.status == 200:
                    self._record(True, pool, stale_retry=stale_retry)
                else:
                    self._record(False, failure=f"HTTP {response.status} from {pool or 'no pool'}", stale_retry=stale_retry,
                                 answered_by=pool)
            except Exception as error:  # every other error is a failed request
                self._record(False, failure=f"{type(error).__name__}: {error}", stale_retry=stale_retry)
                if conn is not None:
                    conn.close()
                conn = None
            spare = self.interval - (time.monotonic() - started)
            if spare > 0:
                self._stop.wait(spare)
        if conn is not None:
            conn.close()


class NaiveLoad:
    """Clients that never retry, as `wrk` and many load balancers behave: each keeps one connection
    alive and sends GETs on it back to back at a bounded rate; any error on it — a connection closed
    under it by the proxy, a reset, a non-200 answer — counts as failed, and the client reconnects.
    Bounded in count and time; 127.0.0.1 only."""

    def __init__(self, url, connections=10, rate_per_connection=20, max_requests=20000, max_seconds=120, timeout=10,
                 cafile=None, host=None):
        """host: the Host header (a project's name on the shared front); the URL's host otherwise."""
        parsed = urlparse(url)
        self.headers = {"Host": host} if host else {}
        self.name = host
        # 127.0.0.1, or a fleet test host's veth address in its own network namespace (fleet.py).
        assert parsed.hostname == "127.0.0.1" or re.fullmatch(r"10\.251\.([1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|250)\.2", parsed.hostname or ""), \
            "test traffic goes to 127.0.0.1 and the fleet test hosts only"
        self.host, self.port, self.path = parsed.hostname, parsed.port, parsed.path or "/"
        self.tls = ssl.create_default_context(cafile=cafile) if parsed.scheme == "https" else None
        self.connections, self.interval = connections, 1.0 / rate_per_connection
        self.max_requests, self.max_seconds, self.timeout = max_requests, max_seconds, timeout
        self.sent = self.ok = self.failed = 0
        self.errors = []
        self.samples = []  # (time.monotonic() of the answer, pool)
        self.slow = []  # (time.monotonic() the request was sent, seconds it took) for answers over 1 s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def _connect(self):
        return connection(self.host, self.port, self.tls, self.timeout, self.name)

    def _client(self):
        conn = self._connect()
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self.sent >= self.max_requests:
                    break
                self.sent += 1
            began = time.monotonic()
            try:
                conn.request("GET", self.path, headers=self.headers)
                response = conn.getresponse()
                response.read()
                pool = response.headers.get("X-Bgctl-Pool", "")
                took = time.monotonic() - began
                with self._lock:
                    if took > 1.0:
                        self.slow.append((began, took))
                    if response.status == 200:
                        self.ok += 1
                        self.samples.append((time.monotonic(), pool))
                    else:
                        self.failed += 1
                        self.errors.append(f"status {response.status} from {pool or 'no pool'}")
            except (OSError, http.client.HTTPException) as error:
                with self._lock:
                    self.failed += 1
                    self.errors.append(f"{type(error).__name__}: {error}")
                conn.close()
                conn = self._connect()
            self._stop.wait(self.interval)
        conn.close()

    def __enter__(self):
        for _ in range(self.connections):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def start(self):
        return self.__enter__()

    def stop(self):
        """Idempotent: the clients finish their request in flight."""
        self.__exit__(None, None, None)

    def summary(self):
        return f"sent={self.sent} ok={self.ok} failed={self.failed} (no retries, {self.connections} keep-alive connections)"
