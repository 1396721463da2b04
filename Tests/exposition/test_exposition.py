"""bgctl's /metrics text, read by the Prometheus project's own parser: what `bgctl watch --metrics-dump`
prints is what the long-running watcher serves (one registry, one renderer)."""
import json
import os
import subprocess
import textwrap

from prometheus_client.parser import text_string_to_metric_families

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BGCTL = os.environ.get("BGCTL_BIN", os.path.join(ROOT, ".build", "debug", "bgctl"))


def write_spec(tmp_path):
    spec = tmp_path / "bgctl.yaml"
    spec.write_text(textwrap.dedent(f"""\
        version: 1
        project: exposition
        proxy: {{listen: "127.0.0.1:18080"}}
        app: {{port: 3000}}
        pools:
          blue:  {{image: "app:1", release: r1, preview_port: 18081}}
          green: {{image: "app:2", release: r2, preview_port: 18082}}
        state_dir: "{tmp_path / 'state'}"
        """))
    return spec


def write_log(tmp_path, count):
    lines = []
    for i in range(count):
        lines.append(json.dumps({
            "msec": f"1795706212.{i % 1000:03d}", "status": [200, 200, 302, 404, 502][i % 5],
            "pool": ["blue", "green", ""][i % 3], "live": "blue", "uri": f"/items/{i}",
            "request_time": f"{(i % 40) / 10:.3f}", "upstream_status": "502, 200" if i % 7 == 0 else "200",
        }))
    lines.append("not a log record")
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    return log


def dump(tmp_path, count):
    spec = write_spec(tmp_path)
    log = write_log(tmp_path, count)
    run = subprocess.run([BGCTL, "-f", str(spec), "watch", "--once", "--log", str(log), "--metrics-dump"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return {family.name: family for family in text_string_to_metric_families(run.stdout)}


def test_the_request_counter_sums_to_the_lines_read(tmp_path):
    families = dump(tmp_path, 301)
    requests = families["bgctl_requests"]
    assert requests.type == "counter"
    assert sum(s.value for s in requests.samples if s.name == "bgctl_requests_total") == 301
    by_labels = {(s.labels["pool"], s.labels["class"]): s.value for s in requests.samples if s.name == "bgctl_requests_total"}
    assert ("", "5xx") in by_labels
    assert families["bgctl_log_lines"].samples[0].value == 302
    assert families["bgctl_log_lines_malformed"].samples[0].value == 1
    assert families["bgctl_upstream_retries"].samples[0].value == len([i for i in range(301) if i % 7 == 0])


def test_the_duration_histogram_is_cumulative_and_ends_in_inf(tmp_path):
    families = dump(tmp_path, 120)
    histogram = families["bgctl_request_duration_seconds"]
    assert histogram.type == "histogram"
    for pool in ("blue", "green", ""):
        buckets = [(s.labels["le"], s.value) for s in histogram.samples
                   if s.name.endswith("_bucket") and s.labels["pool"] == pool]
        bounds = [float(le) for le, _ in buckets]
        counts = [value for _, value in buckets]
        assert bounds == sorted(bounds) and bounds[-1] == float("inf")
        assert counts == sorted(counts)
        count = [s.value for s in histogram.samples if s.name.endswith("_count") and s.labels["pool"] == pool]
        assert count == [counts[-1]] == [40]


def test_the_pool_weight_comes_from_the_recorded_live_pool(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.json").write_text(json.dumps({"project": "exposition", "live": "green", "updated_at": "x"}))
    families = dump(tmp_path, 3)
    weights = {s.labels["pool"]: s.value for s in families["bgctl_pool_weight"].samples}
    assert weights == {"blue": 0.0, "green": 100.0}
    version = subprocess.run([BGCTL, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    assert [s.labels for s in families["bgctl_build_info"].samples] == [{"version": version}]


def test_container_events_are_counted_by_role_and_action(tmp_path):
    spec = write_spec(tmp_path)
    log = write_log(tmp_path, 3)
    base = 1795706212000000000
    lines = [
        {"action": "die", "container": "exposition-green", "exit_code": 137, "pool": "green", "role": "pool", "time_nano": base},
        {"action": "start", "container": "exposition-green", "pool": "green", "role": "pool", "time_nano": base + 1},
        {"action": "health_status", "container": "exposition-green", "health": "healthy", "pool": "green", "role": "pool",
         "time_nano": base + 2},
        {"action": "die", "container": "exposition-proxy", "exit_code": 0, "role": "proxy", "time_nano": base + 3},
        {"action": "die", "container": "not a name", "role": "proxy", "time_nano": base + 4},
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = subprocess.run([BGCTL, "-f", str(spec), "watch", "--once", "--log", str(log), "--events", str(events), "--metrics-dump"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    families = {family.name: family for family in text_string_to_metric_families(run.stdout)}
    family = families["bgctl_container_events"]
    assert family.type == "counter"
    counts = {(s.labels["role"], s.labels["action"]): s.value for s in family.samples if s.name == "bgctl_container_events_total"}
    assert counts == {("pool", "die"): 1, ("pool", "start"): 1, ("pool", "healthy"): 1, ("proxy", "die"): 1}
    firing = {s.labels["kind"] for s in families["bgctl_alerts_firing"].samples}
    assert {"idle_pool_down", "live_pool_down", "crash_loop", "proxy_restarted"} <= firing
