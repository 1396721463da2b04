"""Failover on a local bridge: stopping the live pool's container costs the few requests that meet it
at most about the upstream connect timeout, and an alert (failover, or the watcher's route move)
follows within about a second."""
import http.client
import time

from receiver import Receiver
from test_watcher import WATCH, Traffic


class TimedClient(Traffic):
    """Traffic at a steady rate on fresh connections that also records (start, latency, status, pool)."""

    def __init__(self, port, rate=5, max_seconds=60):
        super().__init__(f"http://127.0.0.1:{port}/", rate=rate, max_seconds=max_seconds)
        self.port = port
        self.samples = []

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                conn.close()
                status, pool = response.status, response.getheader("X-Bgctl-Pool", "")
            except Exception as error:
                status, pool = type(error).__name__, ""
            self.samples.append((started, time.perf_counter() - started, status, pool))
            self._stop.wait(max(0, self.interval - (time.perf_counter() - started)))


def alerts_takeover(text):
    """An alert that the live pool stopped and green took over: a failover, or the route moved off it."""
    return "green" in text and ("failover" in text or "route moved" in text)


def test_a_stopped_live_pool_costs_little_and_is_alerted_quickly(project):
    with Receiver() as slack:
        project.write_spec(extra=WATCH)
        project.env = {"SLACK_WEBHOOK_URL": slack.url()}
        project.bgctl("up", check=0)
        time.sleep(1.5)  # the watcher is following the log
        with TimedClient(project.proxy_port) as client:
            time.sleep(2)
            stopped = time.perf_counter()
            project.docker("stop", "--time", "1", f"{project.name}-blue")
            # Whichever sees it first alerts: nginx's retries on the dying pool (a failover in the log), or
            # the watcher's probe of the live pool, which moves the route (then no request meets blue).
            alert = slack.wait_for(lambda t: alerts_takeover(t), 15)
            time.sleep(1)
        assert alert, slack.texts()
        arrived = min(r["at"] for r in slack.requests if r["json"] and alerts_takeover(r["json"].get("text", "")))
        after = [s for s in client.samples if s[0] + s[1] >= stopped]
        failed = [s for s in client.samples if s[2] != 200]
        slowest = max(s[1] for s in after)
        slow = [round(s[1] * 1000) for s in after if s[1] > 0.1]
        print(f"failover: {len(after)} requests after the stop, slowest {slowest * 1000:.0f} ms, over 100 ms: {slow}; "
              f"alert {(arrived - stopped) * 1000:.0f} ms after the stop; failed {len(failed)}")
        assert not failed, failed
        assert slowest < 0.6, f"slowest request after the stop took {slowest * 1000:.0f} ms"
        assert arrived - stopped < 2.0
