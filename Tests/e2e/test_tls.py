"""TLS termination at the proxy, with a CA and certificates made by openssl in the test."""
import http.client
import ssl
import subprocess
import time

from conftest import free_port
from loadgen import Load


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca_and_certificate(folder, days=30, name="server", dns=("localhost",)):
    """A throwaway CA and a certificate for 127.0.0.1 (and the dns names) signed by it; returns (ca, cert, key)."""
    folder.mkdir(exist_ok=True)
    if not (folder / "ca.pem").exists():
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                "-days", "2", "-subj", "/CN=bgctl e2e CA", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1," + ",".join(f"DNS:{d}" for d in dns) + "\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", str(days), "-extfile", "san.ext", cwd=folder)
    return folder / "ca.pem", folder / f"{name}.pem", folder / f"{name}.key"


def tls_spec(project, port, cert, key):
    project.write_spec()
    text = project.spec.read_text().replace(
        "proxy:\n",
        f"proxy:\n  tls: {{listen: \"127.0.0.1:{port}\", cert: {cert}, key: {key}, redirect_http: true, http2: true}}\n", 1)
    project.spec.write_text(text)


def https_get(port, cafile, path="/"):
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    try:
        conn.connect()
        peer = conn.sock.getpeercert()  # before the response: a closed connection has no socket
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response, peer
    finally:
        conn.close()


def test_https_serves_the_live_pool_redirects_http_and_switches_without_a_failed_request(project):
    tls_port = free_port()
    ca, cert, key = make_ca_and_certificate(project.dir / "tls")
    tls_spec(project, tls_port, cert, key)
    project.bgctl("validate", check=0)
    project.bgctl("up", check=0)

    response, peer = https_get(tls_port, ca)
    assert response.status == 200
    assert response.getheader("X-Bgctl-Pool") == "blue"

    plain = http.client.HTTPConnection("127.0.0.1", project.proxy_port, timeout=5)
    plain.request("GET", "/orders?id=7")
    redirect = plain.getresponse()
    redirect.read()
    plain.close()
    assert redirect.status == 308
    assert redirect.getheader("Location") == f"https://127.0.0.1:{tls_port}/orders?id=7"

    status = project.status(expect=0)
    assert status["proxy"]["health"] == "healthy", "the health path stays on plain HTTP for bgctl's own check"
    assert status["tls"]["days_left"] >= 28 and status["tls"]["files_in_sync"] is True, status["tls"]

    with Load(f"https://127.0.0.1:{tls_port}/", keepalive_clients=2, fresh_clients=1, rate_per_client=50,
              max_requests=6000, max_seconds=40, cafile=str(ca)) as load:
        time.sleep(1.0)
        for target in ["green", "blue", "green"]:
            project.bgctl("switch", target, check=0)
            time.sleep(0.7)
        time.sleep(0.5)
    result = load.result
    print("HTTPS switches:", result.summary())
    assert result.failed == 0, result.failures[:10]
    assert result.by_pool.get("blue", 0) > 20 and result.by_pool.get("green", 0) > 20


def test_a_renewed_certificate_is_picked_up_by_up_with_a_reload_not_a_recreate(project):
    tls_port = free_port()
    ca, cert, key = make_ca_and_certificate(project.dir / "tls", days=30)
    tls_spec(project, tls_port, cert, key)
    project.bgctl("up", check=0)
    proxy = f"{project.name}-proxy"
    before = project.docker("inspect", "-f", "{{.Id}}", proxy).stdout.strip()
    _, first = https_get(tls_port, ca)

    make_ca_and_certificate(project.dir / "tls", days=60)  # same paths, new certificate and key
    out = project.bgctl("up", check=0)
    assert project.docker("inspect", "-f", "{{.Id}}", proxy).stdout.strip() == before, out.stdout + out.stderr
    # nginx's old workers may still take a connection for a moment after the reload.
    deadline = time.monotonic() + 5
    _, second = https_get(tls_port, ca)
    while second["notAfter"] == first["notAfter"] and time.monotonic() < deadline:
        time.sleep(0.05)
        _, second = https_get(tls_port, ca)
    assert first["notAfter"] != second["notAfter"], (first["notAfter"], second["notAfter"])
    assert "nginx -t accepted the new configuration" in out.stderr


def test_a_key_of_another_certificate_is_refused_before_anything_starts(project):
    tls_port = free_port()
    folder = project.dir / "tls"
    ca, cert, key = make_ca_and_certificate(folder)
    _, _, other_key = make_ca_and_certificate(folder, name="other")
    tls_spec(project, tls_port, cert, other_key)
    out = project.bgctl("up")
    assert out.returncode == 65, out.stdout + out.stderr
    assert "does not belong to the certificate" in out.stderr
    assert "PRIVATE KEY" not in out.stderr + out.stdout
    assert project.containers() == [], "nothing is started with a bad certificate"
