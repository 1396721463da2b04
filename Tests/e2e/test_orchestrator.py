"""End-to-end tests of up / switch / status / down on the real Docker engine and real nginx."""
import socket
import subprocess
import time

from loadgen import Load


def test_up_then_six_switches_under_load_lose_no_request(project):
    project.bgctl("up", check=0)
    status = project.status(expect=0)
    assert status["live"] == "blue"
    assert status["overall"] == "healthy"
    assert status["proxy"]["served_by"] == "blue"
    assert status["proxy"]["config_in_sync"] is True
    assert status["proxy"]["health"] == "healthy", "checked from outside, through the published port"
    assert project.docker("inspect", "-f", "{{json .Config.Healthcheck}}", f"{project.name}-proxy").stdout.strip() == "null"
    assert {p: status["pools"][p]["health"] for p in ("blue", "green")} == {"blue": "healthy", "green": "healthy"}

    with Load(project.url, keepalive_clients=2, fresh_clients=2, rate_per_client=50,
              max_requests=12000, max_seconds=60) as load:
        time.sleep(1.0)
        for target in ["green", "blue", "green", "blue", "green", "blue", "green"]:
            out = project.bgctl("switch", target, "--reason", "e2e", check=0)
            assert f"→ {target}" in out.stdout
            time.sleep(0.7)
        time.sleep(0.5)
    result = load.result
    print(result.summary())
    assert result.failed == 0, result.failures[:10]
    assert result.ok > 500
    assert result.by_pool.get("blue", 0) > 50 and result.by_pool.get("green", 0) > 50

    status = project.status(expect=0)
    assert status["live"] == "green"
    assert status["last_switch"]["to"] == "green" and status["last_switch"]["reason"] == "e2e"
    history = (project.dir / "state" / "history.jsonl").read_text().splitlines()
    assert sum('"action":"switch"' in line for line in history) == 7


def test_the_proxy_image_holds_nothing_but_nginx():
    """The image every test runs: no shell, no wget, no busybox; bgctl needs only the nginx binary."""
    files = subprocess.run(["docker", "create", "bgctl/nginx:local"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        listing = subprocess.run(["docker", "export", files], capture_output=True, check=True).stdout
        import io
        import tarfile
        names = tarfile.open(fileobj=io.BytesIO(listing)).getnames()
    finally:
        subprocess.run(["docker", "rm", files], capture_output=True)
    executables = [n for n in names if n.startswith(("bin/", "usr/bin/", "sbin/", "usr/sbin/", "usr/local/bin/"))]
    assert executables == ["usr/sbin/nginx"], executables


def test_switch_to_the_live_pool_is_a_no_op(project):
    project.bgctl("up", check=0)
    out = project.bgctl("switch", "blue", check=0)
    assert "already live" in out.stdout


def test_rerunning_up_with_an_unchanged_spec_changes_nothing(project):
    project.bgctl("up", check=0)
    before = {c: project.docker("inspect", "-f", "{{.Id}}", c).stdout for c in project.containers()}
    out = project.bgctl("up", check=0)
    assert "nothing to change" in out.stdout
    after = {c: project.docker("inspect", "-f", "{{.Id}}", c).stdout for c in project.containers()}
    assert before == after


def test_a_changed_spec_recreates_only_the_idle_pool(project):
    project.bgctl("up", check=0)
    ids = {c: project.docker("inspect", "-f", "{{.Id}}", c).stdout for c in project.containers()}
    project.spec.write_text(project.spec.read_text().replace('release: "r-green"', 'release: "r-green-2"')
                            .replace('release: "r-blue"', 'release: "r-blue-2"'))
    out = project.bgctl("up", check=0)
    assert "blue is live, so its container is kept" in out.stderr
    after = {c: project.docker("inspect", "-f", "{{.Id}}", c).stdout for c in project.containers()}
    assert after[f"{project.name}-blue"] == ids[f"{project.name}-blue"]
    assert after[f"{project.name}-proxy"] == ids[f"{project.name}-proxy"]
    assert after[f"{project.name}-green"] != ids[f"{project.name}-green"]
    status = project.status(expect=0)
    assert status["pools"]["green"]["release"] == "r-green-2"
    assert status["pools"]["blue"]["release"] == "r-blue"


def test_switch_to_a_stopped_pool_is_refused_and_traffic_is_unaffected(project):
    project.bgctl("up", check=0)
    project.docker("stop", "-t", "2", f"{project.name}-green")
    with Load(project.url, keepalive_clients=1, fresh_clients=1, max_requests=2000, max_seconds=20) as load:
        time.sleep(0.5)
        out = project.bgctl("switch", "green", check=1)
        assert "not healthy" in out.stderr and "refusing to switch" in out.stderr
        time.sleep(0.5)
    assert load.result.failed == 0, load.result.failures[:10]
    assert load.result.by_pool == {"blue": load.result.ok}
    status = project.status(expect=3)
    assert status["overall"] == "degraded"
    assert status["live"] == "blue"
    assert status["pools"]["green"]["state"] == "exited"
    assert status["proxy"]["served_by"] == "blue"


def test_forced_switch_to_a_dead_pool_is_restored_and_exits_1(project):
    project.bgctl("up", check=0)
    project.docker("stop", "-t", "2", f"{project.name}-green")
    with Load(project.url, keepalive_clients=1, fresh_clients=1, max_requests=2000, max_seconds=30) as load:
        out = project.bgctl("switch", "green", "--force", check=1)
        time.sleep(0.5)
    assert "previous configuration was restored" in out.stderr
    assert load.result.failed == 0, load.result.failures[:10]
    status = project.status(expect=3)
    assert status["live"] == "blue" and status["proxy"]["config_in_sync"] is True
    assert status["proxy"]["served_by"] == "blue"


def test_killing_the_live_pool_under_load_fails_no_get(project):
    project.bgctl("up", check=0)
    with Load(project.url, keepalive_clients=2, fresh_clients=2, max_requests=4000, max_seconds=30) as load:
        time.sleep(1.0)
        project.docker("kill", f"{project.name}-blue")
        time.sleep(3.0)
    result = load.result
    print(result.summary())
    assert result.failed == 0, result.failures[:10]
    assert result.by_pool.get("green", 0) > 20
    status = project.status(expect=3)
    assert status["live"] == "blue"
    assert status["overall"] == "degraded"


def test_status_reports_not_serving_when_the_proxy_is_down(project):
    project.bgctl("up", check=0)
    project.docker("stop", "-t", "2", f"{project.name}-proxy")
    status = project.status(expect=4)
    assert status["overall"] == "not_serving"
    assert status["proxy"]["state"] == "exited"


def test_down_leaves_no_container_or_network(project):
    project.bgctl("up", check=0)
    assert len(project.containers()) == 3
    project.bgctl("down", check=0)
    assert project.containers() == []
    nets = project.docker("network", "ls", "-q", "--filter", f"name={project.name}-net").stdout.split()
    assert nets == []
    assert (project.dir / "state" / "history.jsonl").exists(), "down keeps the history"
    project.bgctl("down", "--purge", check=0)
    assert not (project.dir / "state").exists()


def test_dry_run_prints_commands_and_changes_nothing(project):
    out = project.bgctl("up", "--dry-run", check=0)
    assert f"docker network create --driver bridge --subnet {project.subnet}" in out.stdout
    assert out.stdout.count("docker run") == 3
    assert project.containers() == []
    assert not (project.dir / "state").exists()


def test_a_taken_port_fails_clearly_and_leaves_no_created_container(project):
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", project.green_port))
    blocker.listen(1)
    try:
        out = project.bgctl("up", check=1)
    finally:
        blocker.close()
    assert f"127.0.0.1:{project.green_port}:3000" in out.stderr and "already in use" in out.stderr
    assert f"{project.name}-green" not in project.containers()


def test_a_container_bgctl_did_not_create_is_not_touched(project):
    project.docker("run", "-d", "--name", f"{project.name}-green", "--pull", "never", "bgctl/demo-app:local")
    out = project.bgctl("up", check=1)
    assert "was not created by bgctl" in out.stderr
    labels = project.docker("inspect", "-f", "{{json .Config.Labels}}", f"{project.name}-green").stdout
    assert "io.bgctl.project" not in labels
    project.docker("rm", "-f", f"{project.name}-green")


def test_a_missing_image_with_pull_never_is_a_clear_error(project):
    project.write_spec(green_image="bgctl/no-such-image:nope")
    out = project.bgctl("up", check=1)
    assert "bgctl/no-such-image:nope is not on this host" in out.stderr
    assert f"{project.name}-green" not in project.containers()


def test_an_unreachable_docker_daemon_exits_69(project):
    out = project.bgctl("status", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, check=69)
    assert "cannot reach the Docker engine" in out.stderr


def test_validate_reports_three_mistakes_on_three_lines_and_exits_65(project):
    project.spec.write_text(project.spec.read_text()
                            .replace("read_timeout: 3s", "read_timout: 3s")
                            .replace('release: "r-blue"', 'release: "v1; } server {"')
                            .replace("active: blue", "active: purple"))
    out = project.bgctl("validate", check=65)
    lines = [l for l in out.stderr.splitlines() if l.startswith(str(project.spec) + ":")]
    assert len(lines) == 3, out.stderr
    assert "proxy.read_timout" in lines[0] and 'did you mean "read_timeout"' in lines[0]
    assert "pools.blue.release" in lines[1]
    assert "active" in lines[2]
