#!/bin/sh
# Lists every node whose standby parent is missing: it has an active parent
# and nothing to fall back to, or no parent at all (an orphan). Worked
# example: copy and adapt (see README.md).
set -eu
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
usage: $SCRIPT [--controller=HOST:PORT] [--tier=TIER] [--json]

Lists each node (the root excepted) with fewer than two effective parents:
"ID TIER STATUS PARENT" one a line, PARENT "-" for an orphan. --tier keeps
one tier (national, provincial, district or site). --json prints
{"missing": [{"id", "tier", "status", "parents", "orphan"}]} instead.

Exit: 0 every node has a standby, 1 some do not (or relayctl failed: the
message says which), 2 usage.
USAGE
}

tier=
json=false
for arg in "$@"; do
  case $arg in
    --help | -h) usage; exit 0 ;;
    --controller=*) RELAYCTL_FLAGS="$RELAYCTL_FLAGS $arg" ;;
    --tier=national | --tier=provincial | --tier=district | --tier=site)
      tier=TIER_$(echo "${arg#--tier=}" | tr a-z A-Z) ;;
    --tier=*) die 2 "--tier must be national, provincial, district or site" ;;
    --json) json=true ;;
    *) die 2 "unknown argument $arg (--help explains)" ;;
  esac
done
need_tools

nodes=$(ctl nodes) || die 1 "relayctl nodes failed (exit $?)"
missing=$(printf '%s\n' "$nodes" | jq -c --arg tier "$tier" '
  [.nodes[]
   | select(.desired_parent != "" and (.parents | length) < 2)
   | select($tier == "" or .tier == $tier)
   | {id, tier, status, parents, orphan}]')

if $json; then
  printf '%s\n' "$missing" | jq -c '{missing: .}'
else
  printf '%s\n' "$missing" | jq -r '.[] |
    "\(.id) \(.tier | sub("TIER_"; "") | ascii_downcase) \(.status | sub("STATUS_"; "") | ascii_downcase) \(.parents[0] // "-")"'
fi
[ "$(printf '%s\n' "$missing" | jq length)" -eq 0 ]
