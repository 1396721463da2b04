"""End to end: the stack's watcher serves /metrics on the host; requests through the proxy are counted
exactly, and the pool weights follow a switch. Read with the Prometheus project's own parser."""
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families, family, sample, **labels):
    if family not in families:
        return None
    for s in families[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def wait_for(check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    return check()


def scrape_or_none(port):
    try:
        return scrape(port)
    except (urllib.error.URLError, ConnectionError):
        return None


def test_the_stack_watcher_counts_k_requests_and_follows_a_switch(project):
    metrics_port = free_port()
    project.write_spec(extra=f"""
watch:
  enabled: true
  metrics: {{listen: "127.0.0.1:{metrics_port}"}}
""")
    project.bgctl("up", check=0)
    # The watcher reads pools.json (written by up's record) within a second of starting.
    first = wait_for(lambda: (lambda f: f if f and value(f, "bgctl_pool_weight", "bgctl_pool_weight", pool="blue") == 100
                              else None)(scrape_or_none(metrics_port)), 20)
    assert first is not None, project.docker("logs", f"{project.name}-watcher", check=False).stderr
    assert value(first, "bgctl_pool_weight", "bgctl_pool_weight", pool="green") == 0

    # The demo app answers 404 for any other path: health checks and bgctl's probes are all 2xx, so
    # this series counts exactly the requests sent here.
    before = value(first, "bgctl_requests", "bgctl_requests_total", pool="blue", **{"class": "4xx"}) or 0
    total_before = sum(s.value for s in first["bgctl_requests"].samples) if "bgctl_requests" in first else 0
    k = 37
    for i in range(k):
        try:
            urllib.request.urlopen(f"{project.url}metrics-e2e/{i}", timeout=5).read()
        except urllib.error.HTTPError as e:
            assert e.code == 404
    counted = wait_for(lambda: (lambda f: f if value(f, "bgctl_requests", "bgctl_requests_total", pool="blue",
                                                     **{"class": "4xx"}) == before + k else None)(scrape(metrics_port)), 15)
    families = counted or scrape(metrics_port)
    assert value(families, "bgctl_requests", "bgctl_requests_total", pool="blue", **{"class": "4xx"}) == before + k
    assert sum(s.value for s in families["bgctl_requests"].samples) >= total_before + k
    assert value(families, "bgctl_log_lines_malformed", "bgctl_log_lines_malformed_total") == 0
    assert value(families, "bgctl_request_duration_seconds", "bgctl_request_duration_seconds_count", pool="blue") >= k

    project.bgctl("switch", "green", check=0)
    switched = wait_for(lambda: (lambda f: f if value(f, "bgctl_pool_weight", "bgctl_pool_weight", pool="green") == 100
                                 else None)(scrape(metrics_port)), 10)
    assert switched, "the watcher did not pick up the switch"
    assert value(switched, "bgctl_pool_weight", "bgctl_pool_weight", pool="blue") == 0

    # Only GET and HEAD /metrics: the rest of the listener says no.
    try:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{metrics_port}/metrics", data=b"", method="POST"), timeout=5)
        assert False, "POST was answered"
    except urllib.error.HTTPError as e:
        assert e.code == 405
