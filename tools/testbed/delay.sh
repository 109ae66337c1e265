# shellcheck shell=bash
# lossy-province's delay, sourced by testbed.sh (its variables and
# functions): prov2's parents are 150 ms further away, each way. This kernel
# has no netem, so udp-impair (tools/impair, a test-bed tool in no package)
# runs on the host wan, one proxy per parent of prov2. In prov2's namespace
# an nft DNAT sends its datagrams for a parent's media address to that
# parent's proxy, and conntrack gives the answers the parent's address back,
# so neither relayd nor the controller is told. The rule is in place before
# prov2's relayd starts: a flow it had already would bypass it.
readonly DELAY_MS=150 DELAYED=prov2

start_delay() {
  local impair=$out/tools/udp-impair parent addr port=5100 rules=''
  [ -x "$bin_root/tools/impair/udp-impair" ] || fail "no tools/impair/udp-impair in $bin_root"
  install -D -m 0755 "$bin_root/tools/impair/udp-impair" "$impair"
  log "staged udp-impair from $bin_root as a test-bed tool (it is in no package)"
  for parent in $(node_field $DELAYED parent) $(node_field $DELAYED standby_parents); do
    addr=$(node_field "$parent" media_address)
    port=$((port + 1))
    start wan "udp-impair-$parent" "$impair" --listen=$WAN_ADDR:$port --forward="$addr" \
      --delay=$DELAY_MS
    wait_until 10 "udp-impair toward $parent" \
      grep -q '^udp-impair: listening' "$out/logs/udp-impair-$parent.log"
    rules+="ip daddr ${addr%:*} udp dport ${addr#*:} dnat to $WAN_ADDR:$port; "
  done
  ip netns exec "$NS$DELAYED" nft -f - <<NFT
table ip testbed_wan {
  chain out { type nat hook output priority -100; $rules}
}
NFT
  log "$DELAYED's datagrams to its parents go through udp-impair on wan: ${DELAY_MS} ms each way"
}

mean_of() { echo "$@" | awk '{ for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF }'; }

# delay_report: the delay the sites below DELAYED saw on top of the others
# (the mean latency p50 of their districts' probes against the others'); a
# problem (bad) if it is under DELAY_MS - 10: the proxy was not on the path.
delay_report() {
  local g below='' others='' added
  for g in "${groups[@]}"; do
    if [ "$(node_field "$g" parent)" = $DELAYED ]; then below+=" ${latency_p50[$g]}"
    else others+=" ${latency_p50[$g]}"; fi
  done
  below=$(mean_of $below) others=$(mean_of $others)
  added=$(awk -v d="$below" -v o="$others" 'BEGIN { printf "%.1f", d - o }')
  log "added delay: the sites below $DELAYED got the media $added ms later than the others" \
    "(latency p50 $below ms against $others ms; udp-impair --delay=$DELAY_MS)"
  if awk -v a="$added" -v d=$DELAY_MS 'BEGIN { exit !(a < d - 10) }'; then
    echo "testbed: the delay did not reach the sites below $DELAYED" >&2
    bad=$((bad + 1))
  fi
}
