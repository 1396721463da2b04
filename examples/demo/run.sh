#!/usr/bin/env bash
# The README's main command (make demo): bring up the demo stack, send traffic, switch to green,
# and show the status. The stack keeps running afterwards; `make demo-down` removes it.
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

say "bgctl status"
"$bgctl" -f "$spec" status

echo
echo "The stack is still running: try 'curl -i http://127.0.0.1:8080/', '$bgctl -f $spec switch blue',"
echo "or remove it with 'make demo-down'."
