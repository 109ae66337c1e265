# shellcheck shell=bash
# The test bed's controller group, sourced by testbed.sh (its variables and
# functions; docs/deploy.md "The test bed"): three hosts ctl1..ctl3, each an
# etcd member of one cluster and a topologyd from its unit with
# --store=etcd. etcd has a CA of its own (docs/etcd.md advises it), made like
# the relays' with relayctl pki; clients and peers use mutual TLS. Who leads
# is read from topologyd's /metrics (topology_leader), never assumed.
readonly CTL_HOSTS="ctl1 ctl2 ctl3" CTL_PORT=7700 CTL_METRICS_PORT=9464
readonly ETCD_CLIENT_PORT=2379 ETCD_PEER_PORT=2380
# A leader cut off from etcd stops leading by its own count within its lease
# (topologyd's --leader-ttl, 5 s by default) and exits 3 (docs/etcd.md).
readonly STEP_DOWN_EXIT=3
leader='' etcd_cluster=''

# ctl_addr HOST: ctl1 10.77.0.21, ctl2 10.77.0.22, ctl3 10.77.0.23.
ctl_addr() { echo "10.77.0.2${1#ctl}"; }

# controller_list [HOST...]: their topologyd addresses, comma-separated, as
# relayd and relayctl take them (default: every controller).
controller_list() {
  local host list=()
  # shellcheck disable=SC2086  # a list of host names
  [ $# -gt 0 ] || set -- $CTL_HOSTS
  for host in "$@"; do list+=("$(ctl_addr "$host"):$CTL_PORT"); done
  (IFS=,; echo "${list[*]}")
}

# now_ms: wall-clock milliseconds (bash's EPOCHREALTIME).
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# configure_controllers RELAYCTL: each controller host's files: topologyd's
# server certificate (the relays' CA) and its etcd client certificate (the
# etcd CA), the member's certificate (server and peer, its address in the
# SAN), and the shipped topologyd.env with its address, the etcd members,
# the etcd TLS flags and --metrics.
configure_controllers() {
  local relayctl=$1 host addr etc members='' opts
  "$relayctl" pki init etcd --out="$out/pki/etcd-ca" >>"$out/logs/pki.log"
  for host in $CTL_HOSTS; do
    addr=$(ctl_addr "$host")
    members+="${members:+,}https://$addr:$ETCD_CLIENT_PORT"
    etcd_cluster+="${etcd_cluster:+,}$host=https://$addr:$ETCD_PEER_PORT"
  done
  [ -f "$stage/etc/cascade/topologyd.env" ] || fail "the packages have no /etc/cascade/topologyd.env"
  for host in $CTL_HOSTS; do
    addr=$(ctl_addr "$host") etc=$out/hosts/$host/etc
    {
      "$relayctl" pki issue topologyd --ip="$addr" --ca="$out/pki/ca" --out="$etc/cascade/certs"
      "$relayctl" pki issue topologyd --name=etcd-client --ca="$out/pki/etcd-ca" \
        --out="$etc/cascade/certs"
      "$relayctl" pki issue "etcd-$host" --ip="$addr" --ca="$out/pki/etcd-ca" --out="$etc/etcd"
    } >>"$out/logs/pki.log"
    cp "$out/pki/ca/ca.pem" "$etc/cascade/certs/"
    cp "$out/pki/etcd-ca/ca.pem" "$etc/cascade/certs/etcd-ca.pem"
    cp "$out/pki/etcd-ca/ca.pem" "$etc/etcd/ca.pem"
    cp "$topology_file" "$etc/cascade/topology.textproto"
    opts="--etcd-ca=/etc/cascade/certs/etcd-ca.pem --etcd-cert=/etc/cascade/certs/etcd-client.pem"
    opts+=" --etcd-key=/etc/cascade/certs/etcd-client.key --metrics=$addr:$CTL_METRICS_PORT"
    sed -e "s|^LISTEN=.*|LISTEN=$addr:$CTL_PORT|" -e "s|^STORE=.*|STORE=etcd://$members|" \
      -e "s|^TOPOLOGY=.*|TOPOLOGY=/etc/cascade/topology.textproto|" \
      -e "s|^TOPOLOGYD_OPTS=.*|TOPOLOGYD_OPTS=$opts|" \
      "$stage/etc/cascade/topologyd.env" >"$etc/cascade/topologyd.env"
    if ! grep -q '^STORE=etcd://' "$etc/cascade/topologyd.env" ||
      ! grep -q -- '--metrics=' "$etc/cascade/topologyd.env"; then
      fail "the shipped topologyd.env has no STORE= or TOPOLOGYD_OPTS= line"
    fi
  done
}

# start_etcd HOST: its member, as Debian's etcd-server runs it (not one of
# Cascade's packages: /usr/bin/etcd), data in the host's /var/lib/etcd.
start_etcd() {
  local host=$1 addr etc=$out/hosts/$1/etc/etcd data=$out/hosts/$1/var/lib/etcd
  addr=$(ctl_addr "$host")
  mkdir -p "$data"
  chmod 0700 "$data"
  local -a cmd=(/usr/bin/etcd --name="$host" --data-dir="$data" --logger=zap
    --listen-client-urls="https://$addr:$ETCD_CLIENT_PORT"
    --advertise-client-urls="https://$addr:$ETCD_CLIENT_PORT"
    --client-cert-auth --trusted-ca-file="$etc/ca.pem"
    --cert-file="$etc/etcd-$host.pem" --key-file="$etc/etcd-$host.key"
    --listen-peer-urls="https://$addr:$ETCD_PEER_PORT"
    --initial-advertise-peer-urls="https://$addr:$ETCD_PEER_PORT"
    --peer-client-cert-auth --peer-trusted-ca-file="$etc/ca.pem"
    --peer-cert-file="$etc/etcd-$host.pem" --peer-key-file="$etc/etcd-$host.key"
    --initial-cluster="$etcd_cluster" --initial-cluster-state=new
    --initial-cluster-token=cascade-testbed)
  printf '%q ' "${cmd[@]#$out/}" >"$out/logs/etcd-$host.cmd"
  start "$host" "etcd-$host" "${cmd[@]}"
}

# etcd_healthy HOST: its member's /health says true (it needs a quorum),
# asked over mutual TLS with topologyd's etcd certificate.
etcd_healthy() {
  local certs=$out/hosts/$1/etc/cascade/certs
  ip netns exec "$NS$1" curl -s -m 2 --cacert "$certs/etcd-ca.pem" --cert "$certs/etcd-client.pem" \
    --key "$certs/etcd-client.key" "https://$(ctl_addr "$1"):$ETCD_CLIENT_PORT/health" 2>/dev/null |
    jq -e '.health == "true"' >/dev/null 2>&1
}

# find_leader HOST...: sets leader to the one of them whose topologyd says
# topology_leader 1; false unless exactly one does.
find_leader() {
  local host found=()
  for host in "$@"; do
    [ "$(metric "$host" topology_leader)" != 1 ] || found+=("$host")
  done
  [ ${#found[@]} -eq 1 ] || return 1
  leader=${found[0]}
}

# start_controllers: the etcd members, each healthy (a quorum), then
# topologyd on each from its unit, each serving, and one leader.
start_controllers() {
  local host addr t0=$SECONDS
  [ -x /usr/bin/etcd ] || fail "no /usr/bin/etcd: Debian's etcd-server (./dev installs it)"
  for host in $CTL_HOSTS; do start_etcd "$host"; done
  for host in $CTL_HOSTS; do
    wait_until 30 "etcd on $host healthy (https://$(ctl_addr "$host"):$ETCD_CLIENT_PORT/health)" \
      etcd_healthy "$host"
  done
  log "etcd: 3 members healthy after $((SECONDS - t0))s"
  for host in $CTL_HOSTS; do start_unit cascade-topologyd.service "" "$host"; done
  for host in $CTL_HOSTS; do
    addr=$(ctl_addr "$host")
    wait_until 30 "topologyd on $host serving $addr:$CTL_PORT" \
      ip netns exec "${NS}cc" bash -c "exec 3<>/dev/tcp/$addr/$CTL_PORT" 2>/dev/null
  done
  # shellcheck disable=SC2086  # a list of host names
  wait_until 30 "one controller leading (topology_leader 1 on /metrics)" find_leader $CTL_HOSTS
  log "controllers: topologyd on $CTL_HOSTS, $leader leads; $((SECONDS - t0))s"
}

# relays_acked: the leader (relayctl_controllers) shows every relay up,
# having acknowledged its current assignment, and holds a Watch stream of
# each (its topology_watch_streams).
relays_acked() {
  local relay_ids streams
  relay_ids=$(jq -Rc 'split(" ")' <<<"$(echo $relays)")
  relayctl_as testbed --json nodes 2>/dev/null | jq -e --argjson ids "$relay_ids" '
    [.nodes[] | select(.id as $id | $ids | index($id))] as $r
    | ($r | length) == ($ids | length)
      and all($r[]; .status == "STATUS_UP" and (.assignment_version // 0 | tonumber) > 0
              and (.acked_version // 0 | tonumber) == (.assignment_version | tonumber)
              and (.ack_error // "") == "")' >/dev/null || return 1
  streams=$(metric "$leader" topology_watch_streams)
  [ "${streams:-0}" -ge "$(echo "$relays" | wc -w)" ]
}

# controller_lost: halfway, the leader's host loses its link (at the
# bridge: no process is told). The relays keep forwarding; a survivor must
# lead, every relay reconnect to it and acknowledge, and the cut-off
# leader step down by its own count (exit 3). The media then goes on until
# --duration or 3 s after the reconnection, whichever is later.
ctl_lost='' ctl_takeover_ms='' ctl_reconnect_ms='' ctl_old_exit=''
controller_lost() {
  local host survivors=() cut_ms
  # shellcheck disable=SC2086  # a list of host names
  find_leader $CTL_HOSTS || fail "not exactly one controller leads before the cut"
  ctl_lost=$leader
  for host in $CTL_HOSTS; do [ "$host" = "$ctl_lost" ] || survivors+=("$host"); done
  wait_until $((duration / 2 + 5)) "the middle of the meeting" media_for $((duration / 2))
  ip -n $NS$BACKBONE link set "$NS$ctl_lost" down
  cut_ms=$(now_ms)
  log "cut the leader $ctl_lost's link at $((SECONDS - media_start))s"
  wait_until 30 "a new leader among ${survivors[*]}" find_leader "${survivors[@]}"
  ctl_takeover_ms=$(($(now_ms) - cut_ms))
  log "$leader leads ${ctl_takeover_ms} ms after the cut"
  relayctl_controllers=$(controller_list "$leader")
  wait_until 60 "every relay up at $leader, its assignment acknowledged" relays_acked
  ctl_reconnect_ms=$(($(now_ms) - cut_ms))
  log "every relay reconnected to $leader and acknowledged ${ctl_reconnect_ms} ms after the cut"
  local until=$((SECONDS - media_start + 3))
  [ "$until" -ge "$duration" ] || until=$duration
  # It stops serving when its count runs out (--leader-ttl), then tries to
  # revoke its lease on every member (2 s each) before it exits.
  local deadline=$((SECONDS + 30))
  while kill -0 "${pid[$ctl_lost]}" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 "${pid[$ctl_lost]}" 2>/dev/null; then
    ctl_old_exit='nothing (still running 30 s later)'
  else
    ctl_old_exit=0
    wait "${pid[$ctl_lost]}" || ctl_old_exit=$?
    ctl_old_exit+=" $(($(now_ms) - cut_ms)) ms after the cut"
    unset "pid[$ctl_lost]"
  fi
  wait_until $((until + 5)) "the end of the meeting" media_for "$until"
}

# controller_report: controller-lost's figures; a problem (bad) when the
# cut-off leader did not step down with exit 3. The relays' parent
# failovers are printed: the media plane should not have noticed.
controller_report() {
  local relay moved=0
  for relay in $relays; do
    moved=$((moved + $(metric "$relay" relay_parent_failovers_total || echo 0)))
  done
  log "controller-lost: $ctl_lost (the leader) cut; $leader led after ${ctl_takeover_ms} ms," \
    "every relay acknowledged it after ${ctl_reconnect_ms} ms; $ctl_lost's topologyd exited $ctl_old_exit;" \
    "relay parent failovers: $moved"
  if [ "${ctl_old_exit%% *}" != $STEP_DOWN_EXIT ] ||
    ! grep -q 'no longer the leader' "$out/logs/$ctl_lost.log"; then
    echo "testbed: $ctl_lost's topologyd did not step down (exit $STEP_DOWN_EXIT, 'no longer the leader')" >&2
    bad=$((bad + 1))
  fi
}

# stop_etcd: the members, at the end, after the daemons: SIGTERM, then
# SIGKILL to any still running 15 s later (as systemd's TimeoutStopSec
# would): after controller-lost, a member (the cut one or a survivor) hung
# in its shutdown in about half the runs, after "skipped leadership
# transfer" or "leadership transfer failed". etcd dies of the SIGTERM it
# handled (143): systemd counts that clean.
stop_etcd() {
  local host name code deadline=$((SECONDS + 15))
  for host in $CTL_HOSTS; do kill -TERM "${pid[etcd-$host]}" 2>/dev/null || true; done
  for host in $CTL_HOSTS; do
    name=etcd-$host code=0
    while kill -0 "${pid[$name]}" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if kill -0 "${pid[$name]}" 2>/dev/null; then
      kill -KILL "${pid[$name]}" 2>/dev/null || true
      log "warning: $name did not stop within 15 s of SIGTERM: killed (logs/$name.log)"
    fi
    # (bash's "Killed" line for the job is not wanted: said above)
    { wait "${pid[$name]}"; } 2>/dev/null || code=$?
    [ $code -eq 0 ] || [ $code -eq 143 ] || [ $code -eq 137 ] ||
      log "warning: $name exited $code on SIGTERM (logs/$name.log)"
  done
}
