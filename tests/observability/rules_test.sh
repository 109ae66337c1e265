#!/bin/bash
# promtool (Debian's prometheus package) checks observability/rules.yml:
# syntax, PromQL, templates; and reads back every group it must hold.
set -euo pipefail
rules="$TEST_SRCDIR/$TEST_WORKSPACE/observability/rules.yml"
command -v promtool >/dev/null || {
  echo "promtool missing: ./dev installs Debian's prometheus package" >&2
  exit 1
}
out=$(promtool check rules "$rules")
echo "$out"
grep -q SUCCESS <<<"$out"
for alert in CascadeSiteNotReceiving CascadeRelayDown CascadeLossAfterRepair \
  CascadeLeaseExpiries CascadeLeaderChanged CascadeRelayNearCapacity; do
  grep -q "alert: $alert\$" "$rules" || { echo "no alert $alert" >&2; exit 1; }
done
