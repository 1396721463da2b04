#!/usr/bin/env bash
# The README's main command (make demo): bring up the demo stack, send traffic, switch to green,
# watch the access log (with a burst of errors to alert on), and show the status.
# The stack keeps running afterwards; `make demo-down` removes it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bgctl=${BGCTL:-bgctl}
spec="$here/bgctl.yaml"

say() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }

say "bgctl validate"
"$bgctl" -f "$spec" validate

say "bgctl up"
"$bgctl" -f "$spec" up

say "traffic through the proxy on 127.0.0.1:8080 (20 requests)"
for _ in $(seq 1 20); do curl -s --max-time 2 http://127.0.0.1:8080/; done | sort | uniq -c

say "bgctl switch green"
"$bgctl" -f "$spec" switch green --reason "make demo"

say "traffic after the switch (20 requests)"
for _ in $(seq 1 20); do curl -s --max-time 2 http://127.0.0.1:8080/; done | sort | uniq -c

say "bgctl watch --once: what the watcher sees in the proxy's access log"
"$bgctl" -f "$spec" watch --once

say "a bad moment on green (chaos mode: errors), then bgctl watch --once again"
curl -s --max-time 2 -X POST 'http://127.0.0.1:8082/chaos/start?mode=error' >/dev/null
for _ in $(seq 1 40); do curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/; done
curl -s --max-time 2 -X POST http://127.0.0.1:8082/chaos/stop >/dev/null
"$bgctl" -f "$spec" watch --once || true

say "bgctl status"
"$bgctl" -f "$spec" status

echo
echo "The stack is still running: try 'curl -i http://127.0.0.1:8080/', '$bgctl -f $spec switch blue',"
echo "or remove it with 'make demo-down'."
