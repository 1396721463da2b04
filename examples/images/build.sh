#!/usr/bin/env bash
# Builds bgctl's local images with no registry: the nginx proxy from Debian's nginx on this host
# (the nginx binary and its libraries, nothing else),
# the demo app from examples/demo-app, and bgctl itself for the watcher container.
# Usage: build.sh [nginx] [demo-app] [bgctl]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOCKER_BUILDKIT=0

build_nginx() {
  local ctx="$work/nginx" rootfs="$work/nginx/rootfs"
  mkdir -p "$rootfs"/{usr/sbin,etc,bgctl/conf,bgctl/logs,bgctl/run,bgctl/tmp,var/log/nginx,var/lib/nginx,run,tmp}
  cp /usr/sbin/nginx "$rootfs/usr/sbin/nginx"
  # The binary's libraries, and the dynamic loader, at the paths ldd names.
  ldd /usr/sbin/nginx | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  # Nothing else: no shell, no wget. bgctl checks the proxy from outside, through its published port.
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  cp "$here/nginx/Dockerfile" "$ctx/Dockerfile"
  docker build -q -t bgctl/nginx:local "$ctx" >/dev/null 2>"$work/nginx.log" || { cat "$work/nginx.log" >&2; exit 1; }
  echo "built bgctl/nginx:local ($(docker image inspect -f '{{.Size}}' bgctl/nginx:local | awk '{printf "%.1f MB", $1/1e6}'))"
}

build_demo_app() {
  local ctx="$work/demo-app"
  mkdir -p "$ctx"
  gcc -O2 -Wall -Wextra -Werror -static -pthread -o "$ctx/demo-app" "$root/examples/demo-app/demo-app.c"
  strip "$ctx/demo-app"
  cp "$root/examples/demo-app/Dockerfile" "$ctx/Dockerfile"
  docker build -q -t bgctl/demo-app:local "$ctx" >/dev/null 2>"$work/demo.log" || { cat "$work/demo.log" >&2; exit 1; }
  echo "built bgctl/demo-app:local ($(docker image inspect -f '{{.Size}}' bgctl/demo-app:local | awk '{printf "%.1f MB", $1/1e6}'))"
}

build_bgctl() {
  local ctx="$work/bgctl" rootfs="$work/bgctl/rootfs"
  # BGCTL_RELEASE: a release build already made (make images passes the one `make release` built);
  # else `make release` here, so that the image, install and dist have one build with the same flags.
  local binary="${BGCTL_RELEASE:-}"
  if [ -z "$binary" ]; then
    make -C "$root" --no-print-directory release >"$work/swift.log" 2>&1 || { tail -n 30 "$work/swift.log" >&2; exit 1; }
    binary="$root/.build/release/bgctl"
  fi
  [ -x "$binary" ] || { echo "build.sh: no bgctl binary at $binary" >&2; exit 1; }
  mkdir -p "$rootfs"/{usr/local/bin,etc/ssl/certs,tmp,bgctl}
  cp "$binary" "$rootfs/usr/local/bin/bgctl"
  strip "$rootfs/usr/local/bin/bgctl"
  ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  # The docker CLI, for a fleet host's agent (bgctl runs docker commands against that host's engine);
  # the watcher never uses it (it has no socket). Its libraries too, when it is not a static binary.
  local docker_cli
  docker_cli=$(command -v docker) || { echo "build.sh: no docker CLI to put in the image" >&2; exit 1; }
  cp -L "$docker_cli" "$rootfs/usr/local/bin/docker"
  if ldd "$docker_cli" >/dev/null 2>&1; then
    ldd "$docker_cli" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done
  fi
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
  chmod 1777 "$rootfs/tmp"
  cp "$here/bgctl/Dockerfile" "$ctx/Dockerfile"
  docker build -q -t bgctl/bgctl:local "$ctx" >/dev/null 2>"$work/bgctl.log" || { cat "$work/bgctl.log" >&2; exit 1; }
  echo "built bgctl/bgctl:local ($(docker image inspect -f '{{.Size}}' bgctl/bgctl:local | awk '{printf "%.1f MB", $1/1e6}'))"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(nginx demo-app bgctl)
for target in "${targets[@]}"; do
  case "$target" in
    nginx) build_nginx ;;
    demo-app) build_demo_app ;;
    bgctl) build_bgctl ;;
    *) echo "build.sh: unknown image $target (nginx, demo-app, bgctl)" >&2; exit 64 ;;
  esac
done
