#!/usr/bin/env bash
# deploy/ansible/site.yml deploys the test bed's tree (docs/deploy.md, "With
# Ansible"): every host a network namespace, Ansible's local connection,
# the packages unpacked into each host's root (cascade_install=unpack) and
# each daemon started from its unit's ExecStart= line in its host's namespace
# (cascade_start=exec: PID 1 here is not systemd). Then: a second run
# changes nothing, every site gets every packet of a meeting, and the edge
# relay dist1 serves its player page over HTTPS.
#   tests/deploy/ansible_test.sh --packages=DIR [--out=DIR] [--tree=small]
#                                [--keep]
# DIR: the .debs of ./dev package. --tree=small (./dev test): only nat1,
# nat2, prov1, prov2, dist1, dist2 and dist1's and dist2's sites, 7 managed
# hosts instead of 12, and the second run on the controller and dist1 only,
# since every module Ansible runs is a Python process per host. Needs root, ansible (./dev's DEPLOY_PACKAGES), iproute2, curl,
# jq, dpkg-deb.
# Exit codes: 0 pass; 1 a check failed; 2 bad arguments or a missing tool.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/tools/testbed/lib/netns.sh"
source "$repo/tools/testbed/lib/sites.sh"

die() { echo "ansible_test: $*" >&2; exit 2; }
fail() { echo "ansible_test: FAIL: $*" >&2; exit 1; }
log() { echo "ansible_test: $*"; }

packages='' out=/tmp/cascade-ansible-test keep=0 tree=full
for arg in "$@"; do
  case "$arg" in
    --packages=*) packages=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    --tree=small|--tree=full) tree=${arg#*=} ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (--help)" ;;
  esac
done
[ -n "$packages" ] || die "--packages=DIR is required (./dev package writes out/packages)"
packages=$(cd "$packages" && pwd)
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
for tool in ansible-playbook ip curl jq dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool is missing (./dev's DEPLOY_PACKAGES: apt-get install ansible)"
done

readonly NS=ta- CTL=10.77.0.20 CC=10.77.0.10 EDGE=10.77.3.1:8443
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "${out:?}"/{stage,render,pki,hosts,logs,topology.textproto}
mkdir -p "$out/logs"

# The test bed's tree (small: without prov3 and the districts below prov2
# and prov3, which no kept node names), with a browser edge on dist1.
topology=$out/topology.textproto
dropped='^$'
[ "$tree" = full ] || dropped='^nodes { id: "(prov3|dist[3-6])[-"]'
grep -Ev "$dropped" "$repo/tools/testbed/testbed.textproto" |
  sed "s/^\(nodes { id: \"dist1\" .*\) }$/\1 edge_address: \"$EDGE\" }/" >"$topology"
grep -q "edge_address: \"$EDGE\"" "$topology" || fail "no edge added to dist1"

# The operator's tools (and the sites' and command center's) from the
# packages; the hosts get theirs from Ansible.
stage=$out/stage
deb=$(printf '%s\n' "$packages"/cascade-tools_*.deb | sort -V | tail -1)
[ -f "$deb" ] || die "no cascade-tools_*.deb in $packages"
dpkg-deb -x "$deb" "$stage"
relayctl=$stage/usr/bin/relayctl

# What the operator runs: a CA, the tree's files and inventory, topologyd's
# certificate, and a certificate the "browsers" (curl) trust for the edge.
render=$out/render
"$relayctl" pki init --out="$out/pki" >"$out/logs/pki.log"
"$relayctl" render --topology="$topology" --controller=$CTL:7700 --ca="$out/pki" \
  --out="$render" --all --ansible-inventory >"$out/logs/render.log" ||
  fail "relayctl render failed (logs/render.log)"
"$relayctl" pki issue topologyd --ip=$CTL --ca="$out/pki" --out="$render/certs" >>"$out/logs/pki.log"
"$relayctl" pki issue dist1 --ip=${EDGE%:*} --ca="$out/pki" --out="$out/pki/edge" >>"$out/logs/pki.log"
mv "$out/pki/edge/dist1.pem" "$render/certs/edge-dist1.pem"
mv "$out/pki/edge/dist1.key" "$render/certs/edge-dist1.key"
grep -q -- "--edge=$EDGE --edge_tls_cert=" "$render/relayd/dist1.env" ||
  fail "render gave dist1 no edge flags: $(grep RELAYD_OPTS "$render/relayd/dist1.env")"

# One host per inventory host (named as there), plus the command center and
# the sites; each at its inventory address.
inventory=$render/inventory.json
mapfile -t managed < <(jq -r '.. | .hosts? // empty | to_entries[] | "\(.key) \(.value.ansible_host)"' "$inventory")
expected_hosts=$((1 + $(grep -c '^nodes { id: "[^"]*" tier: TIER_[NPD][A-Z]* .*metrics_address' "$topology")))
[ ${#managed[@]} -eq $expected_hosts ] ||
  fail "the inventory has ${#managed[@]} hosts, not $expected_hosts: $inventory"
hosts="cc sites"
for entry in "${managed[@]}"; do hosts+=" ${entry%% *}"; done
# shellcheck disable=SC2086
cleanup() {
  local rc=$? pid_file
  for pid_file in "$out"/hosts/*/run/cascade/*.pid "$out"/run/*.pid; do
    if [ -f "$pid_file" ]; then kill -TERM "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  netns_delete $NS $hosts
  return $rc
}
for host in $hosts; do
  ! netns_exists $NS "$host" || die "namespace $NS$host exists: another run, or $0 --keep left it"
done
[ $keep -eq 1 ] || trap cleanup EXIT
trap 'exit 130' INT TERM
netns_segment $NS
netns_host $NS cc $CC
netns_host $NS sites $(seq -f '10.77.4.%g' 1 12)
for entry in "${managed[@]}"; do netns_host $NS "${entry%% *}" "${entry#* }"; done
log "network: $(wc -w <<<"$hosts") namespaces $NS*"

# The playbook, as the issue asks: Ansible's local connection per namespace;
# ARG... to ansible-playbook.
playbook() {
  HOME=$out ANSIBLE_LOCAL_TEMP=$out/ansible-tmp ANSIBLE_NOCOLOR=1 ANSIBLE_PIPELINING=1 \
    ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks ansible-playbook \
    -i "$inventory" "$repo/deploy/ansible/site.yml" --forks=13 \
    -e ansible_connection=local -e ansible_python_interpreter=/usr/bin/python3 \
    -e cascade_packages_dir="$packages" -e cascade_install=unpack -e cascade_start=exec \
    -e cascade_group=root \
    -e "cascade_root=$out/hosts/{{ inventory_hostname }}" \
    -e "cascade_exec_prefix='ip netns exec $NS{{ inventory_hostname }}'" "$@"
}
started=$SECONDS
playbook >"$out/logs/ansible-1.log" 2>&1 || { tail -40 "$out/logs/ansible-1.log"; fail "ansible-playbook failed (logs/ansible-1.log)"; }
recap() { sed -n '/^PLAY RECAP/,$p' "$1" | grep ' : ok='; }
log "first run: $((SECONDS - started))s, $(recap "$out/logs/ansible-1.log" | grep -c 'failed=0') hosts"

# metric HOST NAME: a relay's metric from its /metrics, summed over labels.
metric() {
  local addr
  addr=$(sed -n "s/^nodes { id: \"$1\" .* metrics_address: \"\([^\"]*\)\".*/\1/p" "$topology")
  ip netns exec ${NS}cc curl -s -m 2 "http://$addr/metrics" 2>/dev/null |
    awk -v m="$2" 'index($1, m) == 1 && substr($1, length(m) + 1) ~ /^({|$)/ { s += $2; n++ }
      END { if (n) print s }' || true
}
relays=$(jq -r '.all.children.cascade_relays.children[].hosts | keys[]' "$inventory")
# Every relay serves the children that name it first (sites included).
children_ready() {
  local relay expected
  for relay in $relays; do
    expected=$(grep -c "^nodes { id: \"[^\"]*\" tier: [A-Z_]* .*parent: \"$relay\"" "$topology" || true)
    [ "$(metric "$relay" relay_children)" -ge "$expected" ] 2>/dev/null || return 1
  done
}
# wait_until SECONDS WHAT COMMAND...: until COMMAND succeeds, bounded.
wait_until() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}

mkdir -p "$out/run"
sites=$(sed -n 's/^nodes { id: "\([^"]*\)" tier: TIER_SITE .*/\1/p' "$topology")
# shellcheck disable=SC2086
sites_file "$render" $sites >"$out/sites.txt"
ip netns exec ${NS}sites "$stage/usr/bin/relay-probe" --sites_file="$out/sites.txt" --json \
  --duration=0 --interval=1 --parent_timeout=300ms --keepalive=250ms \
  >"$out/logs/relay-probe.log" 2>&1 &
echo $! >"$out/run/relay-probe.pid"
wait_until 60 "every relay serving its children" children_ready
log "tree ready $((SECONDS - started))s after the first run began"

# Ansible again: everything is in place and running, so nothing changes. The
# small tree checks the controller and dist1 (every relay task, the edge's
# too), whose tasks the other relays repeat.
again=()
[ "$tree" = full ] || again=(--limit 'cascade_controllers:dist1')
playbook "${again[@]}" >"$out/logs/ansible-2.log" 2>&1 ||
  fail "the second ansible-playbook failed (logs/ansible-2.log)"
changed=$(recap "$out/logs/ansible-2.log" | grep -vc 'changed=0 ' || true)
[ "$changed" -eq 0 ] || fail "the second run changed $changed hosts (logs/ansible-2.log)"
log "second run: no host changed"

# A meeting through the tree.
duration=6
ip netns exec ${NS}cc "$stage/usr/bin/relay-source" --json --bind=$CC:5000 \
  --dest=10.77.1.1:5004 --standby_dest=10.77.1.2:5004 --ssrc=1128464385 \
  --audio_ssrc=1128464386 --bitrate=500 --fps=15 --gop=30 --duration=$duration \
  >"$out/logs/relay-source.log" 2>&1 || fail "relay-source failed (logs/relay-source.log)"
# The last repairs land, then the final report.
sleep 1.5
kill -TERM "$(cat "$out/run/relay-probe.pid")"
wait_until 10 "relay-probe's final report" grep -q '^{"type":"final"' "$out/logs/relay-probe.log"
sent=$(grep '^{' "$out/logs/relay-source.log" | tail -1 | jq '.video_packets + .audio_packets')
final=$(grep '^{"type":"final"' "$out/logs/relay-probe.log" | tail -1)
complete=$(jq --argjson sent "$sent" '[.per_site[] | select(.lost == 0 and .packets >= $sent)] | length' <<<"$final")
log "relay-source sent $sent packets; $complete of $(wc -w <<<"$sites") sites got every one"
[ "$complete" -eq "$(wc -w <<<"$sites")" ] ||
  fail "sites missing packets: $(jq -c '[.per_site[] | {packets, lost}]' <<<"$final")"

# The edge: its player page over HTTPS, with the certificate Ansible placed.
page=$(ip netns exec ${NS}cc curl -sS -m 5 --cacert "$out/pki/ca.pem" "https://$EDGE/watch") ||
  fail "dist1's edge does not answer https://$EDGE/watch"
grep -q '<video' <<<"$page" || fail "dist1's edge served no player page"
log "dist1's browser edge serves https://$EDGE/watch"
log "PASS in $((SECONDS - started))s"
