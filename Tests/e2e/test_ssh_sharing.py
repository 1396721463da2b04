"""ssh:// hosts share one connection per host, against a real OpenSSH server: consecutive bgctl calls
to one host make one TCP connection and one login through the ssh wrapper bgctl writes
(SSHMultiplex), every call's sessions on it; with BGCTL_SSH_MULTIPLEX=0 every session logs in anew.

The server is Debian's own sshd, taken from its package with `apt-get download` and `dpkg -x` into a
cache folder (never installed, no service), run in the foreground on a free loopback port with the
test's host key, authorized key and configuration. Its ForceCommand logs each session and exits 1, so
no docker command ever runs on the far side (that would be this machine's engine): the calls fail
there, and what the test counts is connections and sessions in the server's log.

OpenSSH finds ~/.ssh from the password database, not $HOME, and the server needs its privilege
separation user (`sshd`), which only the package's installation would add. So the server and every
client run in a private mount namespace where /etc/passwd is a copy: root's home is the test's
folder (its .ssh/config names the test's key and skips host key checks) and `sshd` exists. Nothing
of the machine's changes, except /run/sshd (the privilege separation folder), made when missing and
left. Only root can run this."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import BGCTL, free_port

CALLS = 4
CACHE = "/var/cache/bgctl-e2e/sshd"  # the packages' files, kept between runs
PACKAGES = ("openssh-server", "libwrap0")  # sshd and the one library of its that Debian 12 lacks by default
LIBRARIES = os.path.join(CACHE, "root", "usr", "lib", "x86_64-linux-gnu")


def _run(argv, timeout=30, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(argv, timeout=timeout, **kwargs)


def _missing_libraries(sshd):
    out = _run(["ldd", sshd], env=dict(os.environ, LD_LIBRARY_PATH=LIBRARIES)).stdout
    return [line.split()[0] for line in out.splitlines() if "not found" in line]


def obtain_sshd():
    """The path of a runnable sshd from Debian's package (fetched into CACHE once), or skips the test
    saying why none can be had."""
    if os.geteuid() != 0:
        pytest.skip("needs root (sshd's privilege separation, a private mount namespace)")
    sshd = os.path.join(CACHE, "root", "usr", "sbin", "sshd")
    if os.path.exists(sshd) and not _missing_libraries(sshd):
        return sshd
    os.makedirs(CACHE, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="fetch-", dir=CACHE)
    try:
        download = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"] + list(PACKAGES)
        got = _run(download, cwd=staging, timeout=120)
        if got.returncode != 0:  # a fresh machine may have no package lists yet
            _run(["apt-get", "update", "-qq"], timeout=300)
            got = _run(download, cwd=staging, timeout=120)
        if got.returncode != 0:
            pytest.skip(f"cannot fetch {', '.join(PACKAGES)} with apt-get download: {got.stderr.strip()[-300:]}")
        tree = os.path.join(staging, "root")
        for deb in sorted(f for f in os.listdir(staging) if f.endswith(".deb")):
            _run(["dpkg", "-x", os.path.join(staging, deb), tree], timeout=60).check_returncode()
        shutil.rmtree(os.path.join(CACHE, "root"), ignore_errors=True)
        try:
            os.rename(tree, os.path.join(CACHE, "root"))
        except OSError:  # another run put its copy there first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    missing = _missing_libraries(sshd)
    if missing:
        pytest.skip(f"{sshd} lacks libraries: {', '.join(missing)}")
    return sshd


class Namespace:
    """argv run in a private mount namespace whose /etc/passwd gives root the home `home` and has
    sshd's privilege separation user."""

    def __init__(self, folder, home):
        self.passwd = os.path.join(folder, "passwd")
        lines = []
        with open("/etc/passwd") as f:
            for line in f.read().splitlines():
                fields = line.split(":")
                if fields[0] == "root":
                    fields[5] = home
                if fields[0] != "sshd":
                    lines.append(":".join(fields))
        lines.append("sshd:x:65534:65534:bgctl test sshd privilege separation:/run/sshd:/usr/sbin/nologin")
        with open(self.passwd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.passwd, 0o644)

    def argv(self, argv):
        script = 'mount --bind "$0" /etc/passwd && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, self.passwd] + list(argv)


class Server:
    """The test's sshd: its port, its log (stderr, LogLevel VERBOSE) and its sessions' log."""

    def __init__(self, sshd, folder, namespace, home):
        self.folder = folder
        self.namespace = namespace
        self.home = home
        self.port = free_port()
        self.log = os.path.join(folder, "sshd.log")
        self.sessions = os.path.join(folder, "sessions.log")
        self.pid_file = os.path.join(folder, "sshd.pid")
        host_key = os.path.join(folder, "host_ed25519")
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bgctl-test-host", "-f", host_key]).check_returncode()
        self.client_key = os.path.join(folder, "id_ed25519")
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bgctl-test-client", "-f", self.client_key]).check_returncode()
        shutil.copyfile(self.client_key + ".pub", os.path.join(folder, "authorized_keys"))
        session = os.path.join(folder, "session.sh")
        # Logs the call and refuses it: no docker command runs on the far side.
        with open(session, "w") as f:
            f.write(f'#!/bin/sh\necho "$$ $SSH_ORIGINAL_COMMAND" >> {self.sessions}\n'
                    'echo "bgctl test sshd: no docker here" >&2\nexit 1\n')
        os.chmod(session, 0o755)
        config = os.path.join(folder, "sshd_config")
        with open(config, "w") as f:
            f.write(textwrap.dedent(f"""\
                ListenAddress 127.0.0.1:{self.port}
                HostKey {host_key}
                PidFile {self.pid_file}
                AuthorizedKeysFile {folder}/authorized_keys
                AllowUsers root
                PermitRootLogin prohibit-password
                PubkeyAuthentication yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                LogLevel VERBOSE
                ForceCommand {session}
                AllowTcpForwarding no
                X11Forwarding no
                PermitTTY no
                PrintMotd no
                """))
        # Privilege separation's chroot: root's, not writable by others (what the package makes).
        if not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(namespace.argv([sshd, "-D", "-e", "-f", config]), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, env=dict(os.environ, LD_LIBRARY_PATH=LIBRARIES))
        deadline = time.monotonic() + 10
        while "Server listening on" not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"sshd did not start (exit {self.process.returncode}):\n{self.text()}")
            time.sleep(0.05)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def connections(self):
        return len(re.findall(r"^Connection from 127\.0\.0\.1 port \d+", self.text(), re.M))

    def logins(self):
        return len(re.findall(r"^Accepted publickey for root from 127\.0\.0\.1", self.text(), re.M))

    def sessions_started(self):
        return len(re.findall(r"^Starting session: forced-command", self.text(), re.M))

    def session_lines(self):
        if not os.path.exists(self.sessions):
            return []
        with open(self.sessions) as f:
            return f.read().splitlines()

    def stop(self):
        """The listener (the process this test started, by its pid); its connections' processes end
        when their clients leave."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    sshd = obtain_sshd()
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    s = Server(sshd, str(tmp_path), Namespace(str(tmp_path), str(home)), str(home))
    try:
        config = home / ".ssh" / "config"
        config.write_text(textwrap.dedent(f"""\
            Host 127.0.0.1
              IdentityFile {s.client_key}
              IdentitiesOnly yes
              BatchMode yes
              StrictHostKeyChecking no
              UserKnownHostsFile /dev/null
              LogLevel ERROR
            """))
        config.chmod(0o600)
        yield s
    finally:
        s.stop()


@pytest.fixture
def runtime_dir():
    """A short XDG_RUNTIME_DIR of the test's own: bgctl keeps its ssh wrapper and control sockets in
    its bgctl-ssh (a socket's path must fit in 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="bgs-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def write_spec(folder, port):
    spec = os.path.join(folder, "bgctl.yaml")
    with open(spec, "w") as f:
        f.write(textwrap.dedent(f"""\
            version: 1
            project: ssh-share
            pull: never
            network: {{subnet: 172.29.250.0/24}}
            proxy:
              image: bgctl/nginx:local
              listen: "127.0.0.1:18190"
            app:
              port: 3000
            pools:
              blue:  {{image: bgctl/demo-app:local, release: r-blue, preview_port: 18191}}
              green: {{image: bgctl/demo-app:local, release: r-green, preview_port: 18192}}
            active: blue
            hosts:
              - {{name: h1, docker: "ssh://root@127.0.0.1:{port}", state_root: {folder}/state}}
            """))
    return spec


def run_calls(server, spec, env):
    """CALLS consecutive `bgctl status` runs (each one `docker --host ssh://… exec` through ssh), and
    how long they took and what the last one said of h1. Each fails: the far side runs no docker."""
    started = time.monotonic()
    for _ in range(CALLS):
        result = _run(server.namespace.argv([BGCTL, "-f", spec, "status", "--json"]), env=env, timeout=60)
        assert result.returncode != 0 and "not reached" in result.stdout, (
            f"bgctl status exited {result.returncode}, expected h1 not reached\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    problem = json.loads(result.stdout)["hosts"][0]["problems"][0]
    return time.monotonic() - started, problem


def end_master(server, control_folder):
    """`ssh -O exit` on the shared connection, with the wrapper's ControlPath: the master ends now,
    not when ControlPersist runs out."""
    _run(server.namespace.argv(["ssh", "-o", f"ControlPath={control_folder}/%C", "-O", "exit",
                                "-p", str(server.port), "-l", "root", "127.0.0.1"]), timeout=15)


def test_consecutive_calls_to_one_host_share_one_ssh_connection(server, runtime_dir, tmp_path):
    assert os.path.exists(BGCTL), f"build bgctl first: {BGCTL}"
    spec = write_spec(str(tmp_path), server.port)
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": server.home,
           "XDG_RUNTIME_DIR": runtime_dir, "NO_COLOR": "1", "LANG": "C.UTF-8"}
    control_folder = os.path.join(runtime_dir, "bgctl-ssh")
    try:
        shared_time, problem = run_calls(server, spec, env)
        shared = (server.connections(), server.logins(), len(server.session_lines()))
    finally:
        end_master(server, control_folder)
    wrapper = os.path.join(control_folder, "ssh")
    assert os.path.exists(wrapper), f"bgctl wrote no ssh wrapper in {control_folder}"
    deadline = time.monotonic() + 5
    while [f for f in os.listdir(control_folder) if f != "ssh"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(control_folder) == ["ssh"], f"control sockets left after ssh -O exit: {os.listdir(control_folder)}"

    unshared_time, _ = run_calls(server, spec, dict(env, BGCTL_SSH_MULTIPLEX="0"))
    total = (server.connections(), server.logins(), len(server.session_lines()))
    unshared = tuple(t - s for t, s in zip(total, shared))

    print(f"\nssh sharing: {CALLS} bgctl status calls to one ssh:// host (h1: {problem})")
    print(f"  shared (bgctl's wrapper):  {shared[0]} TCP connection(s), {shared[1]} login(s), {shared[2]} sessions, {shared_time:.2f} s")
    print(f"  BGCTL_SSH_MULTIPLEX=0:     {unshared[0]} TCP connection(s), {unshared[1]} login(s), {unshared[2]} sessions, {unshared_time:.2f} s")

    lines = server.session_lines()
    assert len(lines) == server.sessions_started(), f"{len(lines)} sessions logged by ForceCommand, {server.sessions_started()} by sshd"
    assert all(line.endswith(" docker system dial-stdio") for line in lines), f"sessions other than the docker CLI's: {lines}"
    # The docker CLI dials up to 3 times for a call the far side refuses: at least one session per call.
    assert shared[2] >= CALLS, f"expected at least {CALLS} sessions (one per call), the far side saw {shared[2]}:\n{server.text()}"
    assert shared[:2] == (1, 1), f"expected 1 connection and 1 login for {shared[2]} sessions, found {shared[:2]}:\n{server.text()}"
    assert unshared[2] == shared[2], f"the same calls made {unshared[2]} sessions without sharing, {shared[2]} with"
    assert unshared[:2] == (unshared[2], unshared[2]), f"without sharing, expected one connection and login per session, found {unshared}"
