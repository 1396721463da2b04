#!/usr/bin/env bash
# Makes this machine ready for bgctl's tests and demo: installs the Debian packages they need and
# starts dockerd when no engine answers. Safe to run again; changes nothing that is already right.
set -euo pipefail

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
# haproxy -c checks examples/fleet/haproxy.cfg (the unit tests); nothing starts it.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] || need+=(libcurl4-openssl-dev)
# libcrypto's headers: bgctl checks proxy.tls's certificate and key with it.
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # the TLS tests make throwaway certificates
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v curl >/dev/null 2>&1 || need+=(curl)
# ssh and ssh-keygen: the docker CLI's ssh:// hosts; the ssh sharing test (which fetches Debian's sshd
# itself, into /var/cache/bgctl-e2e, and never installs it as a service).
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -x /usr/bin/time ] || need+=(time)  # GNU time: peak RSS in make bench-watch
# Let's Encrypt's test CA and its DNS stand-in: the ACME tests issue real certificates offline.
command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1 || need+=(pebble)

if [ ${#need[@]} -gt 0 ]; then
  echo "host-setup: installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "host-setup: need root to install packages (run as root or install: ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! python3 -c 'import pytest' >/dev/null 2>&1; then
  echo "host-setup: installing pytest"
  python3 -m pip install -q pytest 2>/dev/null || python3 -m pip install -q --break-system-packages pytest 2>/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest >/dev/null; }
fi

# The metrics tests read bgctl's /metrics with the Prometheus project's own parser.
if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  echo "host-setup: installing prometheus-client"
  python3 -m pip install -q prometheus-client 2>/dev/null || python3 -m pip install -q --break-system-packages prometheus-client 2>/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-prometheus-client >/dev/null; }
fi

# The test host's engine keeps containers running across its own restarts (live-restore) and
# publishes loopback ports with iptables instead of a userland proxy that dies with it; the
# fault-injection test restarts dockerd in the middle of a switch. A host's own daemon.json is kept.
if [ ! -f /etc/docker/daemon.json ]; then
  mkdir -p /etc/docker
  printf '{"live-restore": true, "userland-proxy": false}\n' > /etc/docker/daemon.json
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi
if pgrep -x dockerd >/dev/null 2>&1; then
  echo "host-setup: dockerd is running but not answering yet; waiting"
else
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  echo "host-setup: starting dockerd (log: /var/log/bgctl-dockerd.log)"
  command -v containerd >/dev/null 2>&1 || true
  setsid dockerd >/var/log/bgctl-dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 150); do
  if docker info >/dev/null 2>&1; then
    echo "host-setup: docker engine ready ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.2
done
echo "host-setup: dockerd did not answer within 30 s; last log lines:" >&2
tail -n 20 /var/log/bgctl-dockerd.log >&2 || true
exit 1
