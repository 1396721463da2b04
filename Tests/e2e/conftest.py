"""Fixtures for bgctl's end-to-end tests: each test gets its own project on the real Docker engine,
with free loopback ports and an unused subnet, and is cleaned up afterwards, also after a failure."""
import ipaddress
import json
import os
import socket
import subprocess
import textwrap
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BGCTL = os.environ.get("BGCTL_BIN", os.path.join(ROOT, ".build", "debug", "bgctl"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def used_subnets():
    ids = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True, check=True).stdout.split()
    if not ids:
        return []
    out = subprocess.run(["docker", "network", "inspect"] + ids, capture_output=True, text=True, check=True).stdout
    nets = []
    for net in json.loads(out):
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
                nets.append(ipaddress.ip_network(cfg["Subnet"]))
    return nets


_handed_out = set()  # subnets given to projects of this run whose networks may not exist yet


def free_subnet():
    taken = used_subnets()
    for third in range(100, 250):
        candidate = ipaddress.ip_network(f"172.29.{third}.0/24")
        if str(candidate) not in _handed_out and not any(candidate.overlaps(n) for n in taken):
            _handed_out.add(str(candidate))
            return str(candidate)
    raise RuntimeError("no free 172.29.x.0/24 subnet")


def remove_project(project):
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.bgctl.project={project}"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f"] + ids, capture_output=True)
    nets = subprocess.run(["docker", "network", "ls", "-q", "--filter", f"label=io.bgctl.project={project}"],
                          capture_output=True, text=True).stdout.split()
    for net in nets:
        subprocess.run(["docker", "network", "rm", net], capture_output=True)


class Project:
    """One test's stack: its spec file, ports, and helpers to run bgctl on it."""

    def __init__(self, tmp_path, extra_pool_env="", hosts=None, front=None):
        """hosts and front (a Front): the project is served by that shared front for those names."""
        self.name = "e2e-" + uuid.uuid4().hex[:8]
        self.dir = tmp_path
        self.hosts = hosts or []
        self.front = front
        self.proxy_port = front.port if front else free_port()
        self.blue_port = free_port()
        self.green_port = free_port()
        self.subnet = free_subnet()
        self.spec = tmp_path / "bgctl.yaml"
        self.env = {}  # variables every bgctl call of this test gets (e.g. a webhook URL)
        if front:
            self.env.update(front.env)
        self.write_spec()

    def write_spec(self, blue_image="bgctl/demo-app:local", green_image="bgctl/demo-app:local", extra=""):
        self.spec.write_text(textwrap.dedent(f"""\
            version: 1
            project: {self.name}
            pull: never
            network: {{subnet: {self.subnet}}}
            proxy:
              image: bgctl/nginx:local
              listen: "127.0.0.1:{self.proxy_port}"
              read_timeout: 3s
            {{hosts_line}}app:
              port: 3000
              health: {{path: /healthz, interval: 1s, timeout: 1s, retries: 2, start_period: 5s}}
            pools:
              blue:  {{image: "{blue_image}", release: "r-blue", preview_port: {self.blue_port}}}
              green: {{image: "{green_image}", release: "r-green", preview_port: {self.green_port}}}
            active: blue
            state_dir: state
            """).replace("{hosts_line}", f"  hosts: [{', '.join(self.hosts)}]\n" if self.hosts else "") + extra)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.proxy_port}/"

    def bgctl(self, *args, check=None, timeout=180, env=None):
        run_env = dict(os.environ, NO_COLOR="1", **self.env)
        if env:
            run_env.update(env)
        result = subprocess.run([BGCTL, "-f", str(self.spec)] + list(args), capture_output=True, text=True,
                                timeout=timeout, env=run_env)
        if check is not None:
            assert result.returncode == check, (
                f"bgctl {' '.join(args)} exited {result.returncode}, expected {check}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def status(self, expect):
        result = self.bgctl("status", "--json", check=expect)
        return json.loads(result.stdout)

    def docker(self, *args, check=True):
        return subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=check, timeout=120)

    def containers(self):
        out = self.docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"label=io.bgctl.project={self.name}").stdout
        return sorted(out.split())


@pytest.fixture
def project(tmp_path):
    assert os.path.exists(BGCTL), f"build bgctl first: {BGCTL}"
    p = Project(tmp_path)
    remove_project(p.name)
    yield p
    subprocess.run([BGCTL, "-f", str(p.spec), "down", "--purge", "--yes"], capture_output=True, timeout=120)
    remove_project(p.name)


class Front:
    """A shared front of the test's own: its folder and container name (BGCTL_FRONT_DIR and
    BGCTL_FRONT_NAME), and the port every project on it listens on."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "front"
        self.name = "e2e-front-" + uuid.uuid4().hex[:8]
        self.port = free_port()
        self.env = {"BGCTL_FRONT_DIR": str(self.dir), "BGCTL_FRONT_NAME": self.name}

    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def remove(self):
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)

    def take_down(self, projects):
        """Each project down (purged), then the front and anything a failed down left."""
        for project in projects:
            subprocess.run([BGCTL, "-f", str(project.spec), "down", "--purge", "--yes"], capture_output=True, timeout=120,
                           env=dict(os.environ, **project.env))
        self.remove()
        for project in projects:
            remove_project(project.name)


@pytest.fixture
def front(tmp_path):
    f = Front(tmp_path)
    yield f
    f.remove()
