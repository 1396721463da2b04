#!/usr/bin/env bash
# Builds bgctl's local images with no registry: the nginx proxy from Debian's nginx on this host,
# and the demo app from examples/demo-app. Usage: build.sh [nginx] [demo-app]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOCKER_BUILDKIT=0

build_nginx() {
  local ctx="$work/nginx" rootfs="$work/nginx/rootfs"
  mkdir -p "$rootfs"/{usr/sbin,bin,etc,bgctl/conf,bgctl/logs,bgctl/run,bgctl/tmp,var/log/nginx,var/lib/nginx,run,tmp}
  cp /usr/sbin/nginx "$rootfs/usr/sbin/nginx"
  # The binary's libraries, and the dynamic loader, at the paths ldd names.
  ldd /usr/sbin/nginx | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  cp /bin/busybox "$rootfs/bin/busybox"
  for tool in sh wget cat ls kill ps sleep; do ln -s busybox "$rootfs/bin/$tool"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
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

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(nginx demo-app)
for target in "${targets[@]}"; do
  case "$target" in
    nginx) build_nginx ;;
    demo-app) build_demo_app ;;
    *) echo "build.sh: unknown image $target (nginx, demo-app)" >&2; exit 64 ;;
  esac
done
