"""Extra Docker hosts on this one machine for bgctl's end-to-end tests, and an `ssh` stand-in that
reaches them.

Each DockerHost is one more Docker engine in its own network namespace `bgctl-hN`, joined to the
machine by a veth pair (`bgctl-vN` 10.251.N.1/30 here, 10.251.N.2/30 inside), its state in
/var/lib/bgctl-test-hN and /run/bgctl-test-hN, its socket unix:///run/bgctl-test-hN/docker.sock.
A port it publishes on 0.0.0.0 is reachable at its `address` (10.251.N.2) only.

The ssh stand-in is an executable `ssh` in a folder the tests put first on PATH. The docker CLI
(28.2) given `-H ssh://deploy@hN` runs, as argv:
    ssh "-o ConnectTimeout=30" -T -l deploy -- hN docker system dial-stdio
("-o ConnectTimeout=30" is ONE argument; `-p PORT` comes before `--` when the URL has a port), once
per connection (up to 3 times for one command when connecting fails). The stand-in runs
`docker -H unix:///run/bgctl-test-hN/docker.sock system dial-stdio` instead (any other docker
command likewise; a non-docker command exits 127; a host that is not up exits 255 as unresolvable).
Faults per host come from a JSON file (BGCTL_TEST_SSH_FAULTS), read on every invocation:
    {"h2": {"delay_ms": 20}}        waits that long before connecting (combines with the others)
    {"h2": {"fail": true}}          exits 255: "ssh: connect to host h2 port 22: Connection refused"
    {"h2": {"hang": true}}          never connects: sleeps until killed or orphaned (or hang_max_s, 900)
    {"h2": {"drop_after_ms": 500}}  connects, then cuts the connection after that long (exit 255)
Each invocation is logged as a JSON line (BGCTL_TEST_SSH_LOG): time, started, pid, host, user, argv,
command, fault, outcome (connect / fail / hang / control / unknown host / not docker).
`-O check` (ControlMaster) exits 0, `-O exit` and other -O requests too; `-V` prints a version.

Everything made here has the prefixes bgctl-h / bgctl-v / bgctl-test-h; `cleanup_stale()` removes
leftovers of an aborted run by those prefixes only. Only root can run this.

From another test module:

    from fleet import fleet_hosts, ssh_standin, fleet_env  # noqa: F401  (pytest fixtures)

    def test_two_hosts(fleet_hosts, ssh_standin, fleet_env):
        h1, h2 = fleet_hosts(2)                      # images loaded; removed after the test
        ssh_standin.set_faults({"h2": {"delay_ms": 20}})
        subprocess.run(["docker", "-H", h1.ssh_url, "ps"], env=fleet_env, timeout=30, check=True)
        assert ssh_standin.connections("h1") == 1

or `def test_x(hosts)` (2 hosts; `@pytest.mark.parametrize("hosts", [3], indirect=True)` for 3).
Leftovers of an aborted run by hand: `python3 Tests/e2e/fleet.py cleanup`.
"""
import concurrent.futures
import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

IMAGES = ("bgctl/demo-app:local", "bgctl/nginx:local", "bgctl/bgctl:local")
MAX_HOSTS = 3
SSH_USER = "deploy"
LOCK_FILE = "/run/bgctl-fleet.lock"  # held while a run has hosts up; a dead run's lock frees itself

# The real docker client (the newer one first on PATH), resolved before any stand-in is on PATH.
DOCKER = shutil.which("docker") or "/usr/bin/docker"


def _run(argv, timeout=30, check=True, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    result = subprocess.run(argv, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


# ---------------------------------------------------------------------------------------------
# Processes, by pid file


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _terminate(pid, name, timeout=25.0, sig=signal.SIGTERM):
    """Signals pid (SIGKILL after `timeout` s) and waits, bounded, until it is gone. Reaps it if it is our child."""
    def gone():
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return not _alive(pid)

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} (pid {pid}) did not exit")


def _own_processes(marker):
    """Pids of processes with an argument naming our own folder `marker` (e.g. /run/bgctl-test-h1/):
    the containerd and shims our dockerd started."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            if any(marker in arg for arg in _cmdline(int(entry))):
                pids.append(int(entry))
    return pids


def _container_processes(data_root):
    """Pids of processes in the cgroup of a container of the engine with this data-root (its ids are
    the folders in DATA_ROOT/containers): a crashed engine's containers live on without it."""
    ids = set(_list_dir(os.path.join(data_root, "containers")))
    if not ids:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cgroup") as f:
                groups = [line.rstrip("\n").split(":", 2)[-1] for line in f]
        except OSError:
            continue
        for group in groups:
            last = group.rsplit("/", 1)[-1]
            if last in ids or (last.startswith("docker-") and last[7:].removesuffix(".scope") in ids):
                pids.append(int(entry))
                break
    return pids


def _kill_containers(data_root):
    """SIGKILLs the processes of that engine's containers (their shims, if alive, reap them)."""
    killed = []
    for pid in _container_processes(data_root):
        with contextlib.suppress(Exception):
            _terminate(pid, f"container process {pid}", 0.0, signal.SIGKILL)
            killed.append(pid)
    return killed


def _remove_container_cgroups(data_root):
    """rmdir's the (empty) cgroups a crashed engine left for its containers: /sys/fs/cgroup/*/docker/ID."""
    for container in _list_dir(os.path.join(data_root, "containers")):
        if not re.fullmatch(r"[0-9a-f]{64}", container):
            continue
        for top in ["/sys/fs/cgroup"] + [os.path.join("/sys/fs/cgroup", c) for c in _list_dir("/sys/fs/cgroup")]:
            for name in (f"docker/{container}", f"system.slice/docker-{container}.scope"):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(top, name))


def _kill_by_pidfile(pidfile, must_contain, name, timeout=25.0, sig=signal.SIGTERM):
    """Ends the process named by pidfile if it is alive and its command line holds `must_contain`
    (so a reused pid is left alone). True if one was ended."""
    pid = _read_pid(pidfile)
    if not pid or not _alive(pid):
        return False
    argv = _cmdline(pid)
    if not any(must_contain in arg for arg in argv):
        return False
    _terminate(pid, name, timeout, sig)
    return True


def _unmount_under(*roots):
    """Lazily unmounts everything mounted under the given folders, deepest first."""
    prefixes = tuple(r.rstrip("/") + "/" for r in roots)
    points = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefixes) or point in (r.rstrip("/") for r in roots):
                points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        _run(["umount", "-l", point], check=False, timeout=10)


def _remove_tree(path):
    if os.path.lexists(path):
        _unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)
        if os.path.lexists(path):
            raise RuntimeError(f"could not remove {path}")


# ---------------------------------------------------------------------------------------------
# One host


class DockerHost:
    """One extra Docker engine in network namespace bgctl-h{number} (1 ≤ number ≤ 250)."""

    def __init__(self, number, workdir, config=None, start=True):
        """workdir: a folder for its daemon.json and its log (keep it for a failed test's output);
        config: its daemon.json (default {})."""
        assert 1 <= int(number) <= 250
        self.number = int(number)
        self.name = f"h{self.number}"
        self.netns = f"bgctl-h{self.number}"
        self.veth = f"bgctl-v{self.number}"
        self.peer = f"bgctl-v{self.number}p"
        self.host_address = f"10.251.{self.number}.1"
        self.address = f"10.251.{self.number}.2"
        self.data_root = f"/var/lib/bgctl-test-h{self.number}"
        self.exec_root = f"/run/bgctl-test-h{self.number}"
        self.pidfile = f"/run/bgctl-test-h{self.number}.pid"
        self.socket = f"unix://{self.exec_root}/docker.sock"
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.config_file = os.path.join(self.workdir, f"daemon-{self.name}.json")
        self.log_file = os.path.join(self.workdir, f"dockerd-{self.name}.log")
        self.config = dict(config or {})
        self.process = None
        self.timings = {}
        self._network_up = False
        if start:
            self.start()

    def __repr__(self):
        return f"DockerHost({self.name}, {self.address}, {self.socket})"

    @property
    def ssh_url(self):
        return f"ssh://{SSH_USER}@{self.name}"

    # -- life cycle

    def start(self):
        """Makes the namespace and veth and starts dockerd. Refuses (touching nothing) if anything of
        this name exists already: run cleanup_stale() first."""
        began = time.monotonic()
        existing = [p for p in (f"/run/netns/{self.netns}", f"/sys/class/net/{self.veth}", f"/sys/class/net/{self.peer}",
                                self.data_root, self.exec_root, self.pidfile) if os.path.lexists(p)]
        if existing:
            raise RuntimeError(f"leftovers of an earlier {self.name} exist ({', '.join(existing)}): run fleet.cleanup_stale()")
        try:
            self._network()
            self._start_dockerd()
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise
        self.timings["up"] = time.monotonic() - began
        return self

    def _network(self):
        _run(["ip", "netns", "add", self.netns])
        self._network_up = True
        _run(["ip", "link", "add", self.veth, "type", "veth", "peer", "name", self.peer])
        _run(["ip", "link", "set", self.peer, "netns", self.netns])
        _run(["ip", "addr", "add", f"{self.host_address}/30", "dev", self.veth])
        _run(["ip", "link", "set", self.veth, "up"])
        inside = ["ip", "-n", self.netns]
        _run(inside + ["addr", "add", f"{self.address}/30", "dev", self.peer])
        _run(inside + ["link", "set", self.peer, "up"])
        _run(inside + ["link", "set", "lo", "up"])

    def _start_dockerd(self, timeout=30.0):
        if _alive(_read_pid(self.pidfile) or 0):
            raise RuntimeError(f"a dockerd for {self.name} runs already (pid file {self.pidfile})")
        with open(self.config_file, "w") as f:
            json.dump(self.config, f)
        os.makedirs(self.data_root, exist_ok=True)
        os.makedirs(self.exec_root, mode=0o700, exist_ok=True)
        log = open(self.log_file, "ab")
        try:
            log.write(f"---- bgctl fleet: starting dockerd for {self.name} at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.netns}", "setsid", "dockerd",
                 "--data-root", self.data_root, "--exec-root", self.exec_root, "--pidfile", self.pidfile,
                 "-H", self.socket, "--config-file", self.config_file],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = _run([DOCKER, "-H", self.socket, "info", "--format", "{{.ServerVersion}}"], check=False, timeout=5)
                if result.returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass  # listening, not answering yet
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd for {self.name} exited {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd for {self.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def _stop_dockerd(self, sig=signal.SIGTERM, timeout=25.0, containerd=True):
        """Ends this host's dockerd by its pid file (SIGKILL after timeout), then its containerd."""
        ended = _kill_by_pidfile(self.pidfile, self.exec_root, f"dockerd {self.name}", timeout, sig)
        if not ended and self.process and self.process.poll() is None:
            # It died before writing its pid file? The Popen pid is that dockerd (nsenter and setsid exec).
            if any(self.exec_root in arg for arg in _cmdline(self.process.pid)):
                _terminate(self.process.pid, f"dockerd {self.name}", timeout, sig)
        if self.process:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.process = None
        # Its managed containerd normally ends with it; after a SIGKILL it does not, and would die of
        # SIGPIPE on its next log line (its log went to that dockerd) and stay a zombie that the next
        # dockerd takes for alive ("containerd is still running", then a timeout): end it and drop its pid file.
        if containerd:
            containerd_pid = os.path.join(self.exec_root, "containerd", "containerd.pid")
            _kill_by_pidfile(containerd_pid, self.exec_root, f"containerd {self.name}", 10.0, sig)
            with contextlib.suppress(OSError):
                if not _alive(_read_pid(containerd_pid) or 0):
                    os.unlink(containerd_pid)
        with contextlib.suppress(OSError):
            if not _alive(_read_pid(self.pidfile) or 0):
                os.unlink(self.pidfile)

    def restart_dockerd(self, sig=signal.SIGTERM, timeout=30.0):
        """Stops only this host's dockerd and starts it again with the same folders and configuration.
        sig=SIGTERM: a clean stop (without live-restore in its config, its containers stop too).
        sig=SIGKILL: a crash of dockerd and its containerd; the containers live on in their shims, and
        the new engine takes them up (live-restore) or stops them. Returns the seconds it was away."""
        began = time.monotonic()
        self._stop_dockerd(sig)
        self._start_dockerd(timeout)
        self.timings["restart"] = time.monotonic() - began
        return self.timings["restart"]

    def stop(self):
        """Removes everything of this host: its containers, dockerd, veth, namespace and folders."""
        errors = []
        if self.process is not None or _alive(_read_pid(self.pidfile) or 0):
            with contextlib.suppress(Exception):  # quicker shutdown; the engine is ours alone
                ids = _run([DOCKER, "-H", self.socket, "ps", "-aq"], check=False, timeout=15).stdout.split()
                if ids:
                    _run([DOCKER, "-H", self.socket, "rm", "-f"] + ids, check=False, timeout=60)
        for step in (self._stop_dockerd, self._kill_leftovers, self._remove_network, self._remove_folders):
            try:
                step()
            except Exception as error:  # go on with the other steps, report at the end
                errors.append(f"{step.__name__}: {error}")
        if errors:
            raise RuntimeError(f"stopping {self.name}: " + "; ".join(errors))

    def _kill_leftovers(self):
        _kill_containers(self.data_root)  # only if its engine died without stopping them
        for pid in _own_processes(self.exec_root + "/"):
            _terminate(pid, f"leftover of {self.name}", 5.0)

    def _remove_network(self):
        if self._network_up:
            _delete_link(self.veth)
            _delete_link(self.peer)
            _run(["ip", "netns", "del", self.netns], check=False, timeout=15)
        self._network_up = False

    def _remove_folders(self):
        _remove_container_cgroups(self.data_root)
        _remove_tree(self.exec_root)
        _remove_tree(self.data_root)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile)

    # -- using it

    def docker(self, *args, check=True, timeout=120, **kwargs):
        """docker -H <this host's socket> args…"""
        return _run([DOCKER, "-H", self.socket] + [str(a) for a in args], check=check, timeout=timeout, **kwargs)

    def load(self, images=IMAGES, timeout=120):
        """Copies images from the machine's main engine: docker save … | docker -H socket load."""
        began = time.monotonic()
        missing = [i for i in images if _run([DOCKER, "image", "inspect", i], check=False, timeout=30).returncode != 0]
        if missing:
            raise RuntimeError(f"images missing on the main engine (run `make images`): {', '.join(missing)}")
        save = subprocess.Popen([DOCKER, "save"] + list(images), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            load = subprocess.run([DOCKER, "-H", self.socket, "load", "-q"], stdin=save.stdout, capture_output=True,
                                  timeout=timeout)
        finally:
            save.stdout.close()
            try:
                save.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                save.kill()
                save.wait(timeout=10)
        if save.returncode != 0 or load.returncode != 0:
            raise RuntimeError(f"loading {images} into {self.name} failed: {save.stderr.read().decode(errors='replace')}"
                               f"{load.stderr.decode(errors='replace')}")
        save.stderr.close()
        self.timings["load"] = time.monotonic() - began
        return self.timings["load"]

    def log_tail(self, chars=4000):
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return "(no log)"


def _delete_link(name):
    if os.path.exists(f"/sys/class/net/{name}"):
        _run(["ip", "link", "del", name], check=False, timeout=15)


# ---------------------------------------------------------------------------------------------
# Leftovers of an aborted run, by prefix only


def cleanup_stale():
    """Removes what an aborted run left: dockerds by their /run/bgctl-test-h*.pid files (then their
    containerd and shims, found by their own /run/bgctl-test-hN/ folder), veths bgctl-v*, namespaces
    bgctl-h*, folders /run/bgctl-test-h* and /var/lib/bgctl-test-h*. Nothing without those prefixes.
    Returns a list of what it removed. Call it only while holding the fleet lock (fleet_lock())."""
    removed = []
    numbers = set()
    for entry in os.listdir("/run"):
        m = re.fullmatch(r"bgctl-test-h(\d+)(\.pid)?", entry)
        if m:
            numbers.add(int(m.group(1)))
    for entry in _list_dir("/var/lib"):
        m = re.fullmatch(r"bgctl-test-h(\d+)", entry)
        if m:
            numbers.add(int(m.group(1)))
    for number in sorted(numbers):
        exec_root = f"/run/bgctl-test-h{number}"
        if _kill_by_pidfile(f"{exec_root}.pid", exec_root, f"stale dockerd h{number}"):
            removed.append(f"dockerd h{number}")
        if _kill_by_pidfile(f"{exec_root}/containerd/containerd.pid", exec_root, f"stale containerd h{number}", 10.0):
            removed.append(f"containerd h{number}")
    # Containers of an engine that crashed (they outlive it), then processes still naming one of our
    # folders: a dockerd whose pid file is gone, shims.
    for number in sorted(numbers):
        for pid in _kill_containers(f"/var/lib/bgctl-test-h{number}"):
            removed.append(f"container process {pid} of h{number}")
    for pid in _own_processes("/run/bgctl-test-h"):
        argv = _cmdline(pid)
        if any(re.match(r"(unix://)?/run/bgctl-test-h\d+(/|\.pid$|$)", arg) or arg.startswith("/var/lib/bgctl-test-h")
               for arg in argv):
            _terminate(pid, f"stale {argv[0] if argv else pid}", 10.0)
            removed.append(f"process {pid} {' '.join(argv[:1])}")
    for name in _list_dir("/sys/class/net"):
        if name.startswith("bgctl-v"):
            _run(["ip", "link", "del", name], check=False, timeout=15)
            removed.append(f"link {name}")
    for name in _list_dir("/run/netns"):
        if name.startswith("bgctl-h"):
            _run(["ip", "netns", "del", name], check=False, timeout=15)
            removed.append(f"netns {name}")
    for number in sorted(numbers):
        _remove_container_cgroups(f"/var/lib/bgctl-test-h{number}")
        for path in (f"/run/bgctl-test-h{number}", f"/var/lib/bgctl-test-h{number}"):
            if os.path.lexists(path):
                _remove_tree(path)
                removed.append(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/run/bgctl-test-h{number}.pid")
    return removed


def _list_dir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


@contextlib.contextmanager
def fleet_lock(timeout=600.0):
    """Only one test run at a time may have extra hosts (they have fixed names h1…h3)."""
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise RuntimeError(f"another test run holds {LOCK_FILE}") from error
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# The ssh stand-in

SSH_SCRIPT = r'''#!{python} -IS
# ssh stand-in for bgctl's tests (written by Tests/e2e/fleet.py): "ssh [opts] [user@]hN cmd…" runs
# cmd against the Docker engine of test host hN. Faults per host from $BGCTL_TEST_SSH_FAULTS, e.g.
# {{"h2": {{"delay_ms": 20}}}}, {{"h2": {{"hang": true}}}}, {{"h2": {{"fail": true}}}}, {{"h2": {{"drop_after_ms": 500}}}}.
import json, os, re, shlex, sys, time
STARTED = time.time()

DOCKER = {docker!r}
LOG = os.environ.get("BGCTL_TEST_SSH_LOG") or {log!r}
FAULTS = os.environ.get("BGCTL_TEST_SSH_FAULTS") or {faults!r}
WITH_ARG = set("BbcDEeFIiJLlmOopQRSWw")

def log(**entry):
    entry.update(time=time.time(), started=STARTED, pid=os.getpid())
    try:
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, (json.dumps(entry) + "\n").encode())
        os.close(fd)
    except OSError:
        pass

def die(code, message):
    if message:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    sys.exit(code)

argv = sys.argv[1:]
options, control, user, port, dest, i = [], None, None, None, None, 0
while i < len(argv):
    arg = argv[i]
    if arg == "--":
        i += 1
        if i < len(argv):
            dest = argv[i]
            i += 1
        break
    if arg.startswith("-") and len(arg) > 1:
        j = 1
        while j < len(arg):
            flag = arg[j]
            if flag in WITH_ARG:
                value = arg[j + 1:]
                if not value:
                    i += 1
                    value = argv[i] if i < len(argv) else ""
                options.append((flag, value))
                if flag == "O":
                    control = value
                elif flag == "l":
                    user = value
                elif flag == "p":
                    port = value
                break
            if flag == "V":
                die(0, "OpenSSH_9.2p1 bgctl-test-stand-in")
            options.append((flag, None))
            j += 1
        i += 1
        continue
    dest = arg
    i += 1
    break
command = argv[i:]
if dest is None:
    log(argv=argv, host=None, outcome="usage")
    die(255, "usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] destination [command [argument ...]]")

host = dest
if host.startswith("ssh://"):
    host = host[len("ssh://"):]
    if "/" in host:
        host = host.split("/", 1)[0]
if "@" in host:
    user, host = host.rsplit("@", 1)
if host.startswith("[") and "]" in host:
    host = host[1:host.index("]")]
elif host.count(":") == 1:
    host, port = host.split(":")
m = re.fullmatch(r"h(\d+)", host) or re.fullmatch(r"10\.251\.(\d+)\.2", host)
name = "h%s" % m.group(1) if m else host

if control is not None:  # -O check / exit / stop …: a ControlMaster request
    log(argv=argv, host=name, control=control, outcome="control")
    if control == "check":
        die(0, "Master running (pid=%d)" % os.getppid())
    if control == "exit":
        die(0, "Exit request sent.")
    die(0, "")

try:
    with open(FAULTS) as f:
        fault = (json.load(f) or {{}}).get(name) or {{}}
except (OSError, ValueError):
    fault = {{}}

entry = dict(argv=argv, host=name, user=user, command=command, fault=fault)
if not m or not os.path.exists("/run/netns/bgctl-h%s" % m.group(1)):  # no such test host (up)
    log(outcome="unknown host", **entry)
    die(255, "ssh: Could not resolve hostname %s: Name or service not known" % host)
socket = "unix:///run/bgctl-test-h%s/docker.sock" % m.group(1)

if fault.get("delay_ms"):
    time.sleep(float(fault["delay_ms"]) / 1000.0)
if fault.get("fail"):
    log(outcome="fail", **entry)
    die(255, "ssh: connect to host %s port %s: Connection refused" % (host, port or 22))
if fault.get("hang"):
    log(outcome="hang", **entry)
    parent = os.getppid()
    deadline = time.monotonic() + float(fault.get("hang_max_s", 900))
    while time.monotonic() < deadline and os.getppid() == parent:  # until killed, or orphaned
        time.sleep(0.2)
    die(255, "ssh: connect to host %s port %s: Connection timed out" % (host, port or 22))

# The remote command, as the remote shell would split it.
words = shlex.split(" ".join(command)) if command else []
if not words or os.path.basename(words[0]) != "docker":
    log(outcome="not docker", **entry)
    die(127, "sh: 1: %s: not found" % (words[0] if words else "(interactive shell)"))
rest, k = [], 1
while k < len(words):  # drop the command's own -H/--host/--context: the stand-in picks the socket
    w = words[k]
    if w in ("-H", "--host", "-c", "--context"):
        k += 2
        continue
    if w.startswith(("--host=", "-H=", "--context=")):
        k += 1
        continue
    rest.append(w)
    k += 1
real = [DOCKER, "-H", socket] + rest
log(outcome="connect", real=real, **entry)
if fault.get("drop_after_ms"):
    import subprocess
    child = subprocess.Popen(real)
    try:
        sys.exit(child.wait(timeout=float(fault["drop_after_ms"]) / 1000.0))
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        die(255, "Connection to %s closed by remote host." % host)
os.execv(DOCKER, real)
'''


class SshStandIn:
    """The `ssh` stand-in in `folder`: its faults file, its log of invocations, and the environment
    (PATH with the stand-in first) a test runs docker or bgctl with."""

    def __init__(self, folder):
        self.dir = str(folder)
        os.makedirs(self.dir, exist_ok=True)
        self.faults_file = os.path.join(self.dir, "faults.json")
        self.log_file = os.path.join(self.dir, "ssh-calls.jsonl")
        self.path = os.path.join(self.dir, "ssh")
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        script = SSH_SCRIPT.format(python=python, docker=DOCKER, log=self.log_file, faults=self.faults_file)
        with open(self.path, "w") as f:
            f.write(script)
        os.chmod(self.path, 0o755)
        self.set_faults({})
        open(self.log_file, "w").close()

    @property
    def env(self):
        """Variables to add to a command's environment (use fleet_env for a whole environment)."""
        return {"PATH": self.dir + os.pathsep + os.environ.get("PATH", ""),
                "BGCTL_TEST_SSH_FAULTS": self.faults_file, "BGCTL_TEST_SSH_LOG": self.log_file}

    def full_env(self, **extra):
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
        env.pop("DOCKER_CONTEXT", None)
        env.update(self.env)
        env.update(extra)
        return env

    def set_faults(self, faults):
        """faults: {"h2": {"delay_ms": 20} | {"hang": True} | {"fail": True} | {"drop_after_ms": N}}.
        Read on every invocation, so it takes effect on the next connection."""
        tmp = self.faults_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(faults, f)
        os.replace(tmp, self.faults_file)

    def clear_faults(self):
        self.set_faults({})

    def calls(self, host=None):
        """The logged invocations (dicts with time, host, argv, outcome, …), of one host if given."""
        entries = []
        with contextlib.suppress(FileNotFoundError), open(self.log_file) as f:
            for line in f:
                with contextlib.suppress(ValueError):
                    entries.append(json.loads(line))
        return [e for e in entries if host is None or e.get("host") == host]

    def connections(self, host=None):
        """How many times the stand-in was asked to connect (control requests not counted)."""
        return sum(1 for e in self.calls(host) if e.get("outcome") != "control")

    def reset_log(self):
        open(self.log_file, "w").close()


# ---------------------------------------------------------------------------------------------
# pytest fixtures


def _require_root():
    if os.geteuid() != 0:
        pytest.skip("extra Docker hosts need root (network namespaces)")


@pytest.fixture
def ssh_standin(tmp_path):
    """The ssh stand-in of this test (faults start empty)."""
    return SshStandIn(tmp_path / "fleet-ssh")


@pytest.fixture
def fleet_env(ssh_standin):
    """A whole environment for subprocesses: os.environ without DOCKER_HOST, the stand-in first on PATH,
    BGCTL_TEST_SSH_FAULTS and BGCTL_TEST_SSH_LOG."""
    return ssh_standin.full_env()


@pytest.fixture
def fleet_hosts(tmp_path):
    """A factory: fleet_hosts(n, images=IMAGES, config=None) gives n (≤ 3) new DockerHosts h1…hn with
    the images loaded. They are all removed after the test, also when it fails."""
    _require_root()
    made = []
    lock = contextlib.ExitStack()

    def factory(n=2, images=IMAGES, config=None):
        assert 1 <= n <= MAX_HOSTS, f"at most {MAX_HOSTS} hosts"
        if not made:
            lock.enter_context(fleet_lock())
            stale = cleanup_stale()
            if stale:
                print(f"fleet: removed leftovers of an earlier run: {stale}")
        first = len(made) + 1
        assert first + n - 1 <= MAX_HOSTS, f"at most {MAX_HOSTS} hosts in one test"
        hosts = []
        for number in range(first, first + n):
            host = DockerHost(number, tmp_path / "fleet", config=config, start=False)
            made.append(host)
            host.start()
            hosts.append(host)
        if images:  # in parallel: each is a docker save | docker load of its own
            with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
                for future in [pool.submit(host.load, images) for host in hosts]:
                    future.result()
        return hosts

    try:
        yield factory
    finally:
        errors = []
        for host in reversed(made):
            try:
                host.stop()
            except Exception as error:
                errors.append(str(error))
        if made:
            with contextlib.suppress(Exception):
                cleanup_stale()
        lock.close()
        if errors:
            raise RuntimeError("; ".join(errors))


@pytest.fixture
def hosts(request, fleet_hosts):
    """n hosts with the images loaded: 2, or `@pytest.mark.parametrize("hosts", [3], indirect=True)`."""
    return fleet_hosts(getattr(request, "param", 2))


if __name__ == "__main__":
    # python3 fleet.py cleanup: remove leftovers of an aborted run.
    if sys.argv[1:] == ["cleanup"]:
        with fleet_lock(timeout=0):
            print("\n".join(cleanup_stale()) or "nothing to clean up")
    else:
        sys.exit("usage: python3 fleet.py cleanup")
