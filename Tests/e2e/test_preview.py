"""Preview routing through the main proxy: a header or a cookie reaches the named pool, only from the
allowed source addresses, logged with its route and left out of the live pool's analysis."""
import ipaddress
import json
import time
import urllib.request


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
        return response.headers["X-Bgctl-Pool"]


def gateway(project):
    """Docker masquerades traffic to a port published on 127.0.0.1: nginx sees the network's gateway."""
    return str(next(ipaddress.ip_network(project.subnet).hosts()))


def test_a_header_or_cookie_reaches_the_named_pool_from_an_allowed_address_only(project):
    project.write_spec(extra=f"preview:\n  allow: [\"{gateway(project)}/32\"]\n")
    project.bgctl("up", check=0)
    assert get(project.url) == "blue"
    assert get(project.url, {"X-Bgctl-Pool": "green"}) == "green"
    assert get(project.url, {"Cookie": "bgctl_pool=green"}) == "green"
    assert get(project.url, {"X-Bgctl-Pool": "green", "Cookie": "bgctl_pool=blue"}) == "green", "the header wins"
    assert get(project.url, {"X-Bgctl-Pool": "purple"}) == "blue", "anything but a pool name is ignored"

    summary = json.loads(project.bgctl("watch", "--once", "--json", check=0).stdout.splitlines()[-1])
    assert summary["preview_routed"] == 3, summary
    assert summary["by_pool"].get("green", 0) == 3

    # The same requests from an address outside allow: the live routing, as if no header were sent.
    project.write_spec(extra="preview:\n  allow: [10.99.0.0/16]\n")
    project.bgctl("up", check=0)
    # nginx's old workers may still take a connection for a moment after the reload.
    deadline = time.monotonic() + 5
    while get(project.url, {"X-Bgctl-Pool": "green"}) != "blue" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(project.url, {"X-Bgctl-Pool": "green"}) == "blue"
    assert get(project.url, {"Cookie": "bgctl_pool=green"}) == "blue"
