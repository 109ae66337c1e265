#!/usr/bin/env bash
# The Debian packages of packaging/build.sh, built from this test's binaries:
# each holds what it must, lintian finds no error, systemd-analyze verify
# finds nothing in any unit, the units' exposure stays low, and the unpacked
# binaries run, topologyd and relayd from their units' own command lines.
set -u
failed=0
fail() { echo "FAIL: $*"; failed=1; }
tmp=${TEST_TMPDIR:-$(mktemp -d)}
out=$tmp/out stage=$tmp/stage
version=0.0.0~test

echo "== packaging/build.sh --lintian (warnings and notes below are not errors)"
if ! bash packaging/build.sh --bin-root=. --out="$out" --version="$version" --lintian \
  >"$tmp/built" 2>"$tmp/build.log"; then
  cat "$tmp/build.log"
  echo "FAIL: packaging/build.sh"
  exit 1
fi
grep -v '^dpkg-shlibdeps: warning' "$tmp/build.log"
arch=$(dpkg --print-architecture)
deb() { echo "$out/$1_${version}_$arch.deb"; }

# has PACKAGE PATH...: dpkg-deb --contents lists each path.
has() {
  local pkg=$1 listing
  shift
  listing=$(dpkg-deb --contents "$(deb "$pkg")" | awk '{print $6}' | sed 's|^\.||')
  for path in "$@"; do
    grep -qxF "$path" <<<"$listing" || fail "$pkg does not hold $path"
  done
}
has cascade-relayd /usr/bin/relayd /usr/share/man/man8/relayd.8.gz \
  '/lib/systemd/system/cascade-relayd@.service' /etc/cascade/relayd/NODE.env.example \
  /usr/lib/sysctl.d/60-cascade-relayd.conf \
  /usr/share/doc/cascade-relayd/copyright /usr/share/doc/cascade-relayd/changelog.gz
has cascade-topologyd /usr/bin/topologyd /usr/share/man/man8/topologyd.8.gz \
  /lib/systemd/system/cascade-topologyd.service /etc/cascade/topologyd.env \
  /usr/share/doc/cascade-topologyd/copyright
has cascade-tools /usr/bin/relayctl /usr/bin/relay-source /usr/bin/relay-probe \
  /usr/bin/relay-record /usr/share/man/man1/relayctl.1.gz \
  /usr/share/man/man1/relay-source.1.gz /usr/share/man/man1/relay-probe.1.gz \
  /usr/share/man/man1/relay-record.1.gz /usr/share/doc/cascade-tools/copyright

# field PACKAGE FIELD: one control field.
field() { dpkg-deb --field "$(deb "$1")" "$2"; }
for pkg in cascade-relayd cascade-topologyd cascade-tools; do
  [ "$(field $pkg Version)" = "$version" ] || fail "$pkg: version $(field $pkg Version)"
  # Depends come from dpkg-shlibdeps: the libraries the binaries link.
  for lib in libc6 libabsl20220623 libgoogle-glog0v6 libstdc++6; do
    field $pkg Depends | grep -q "$lib" || fail "$pkg: Depends lacks $lib: $(field $pkg Depends)"
  done
done
field cascade-relayd Depends | grep -q 'libuv1' || fail "cascade-relayd: Depends lacks libuv1"
field cascade-relayd Depends | grep -q 'libsystemd0' || fail "cascade-relayd: Depends lacks libsystemd0"
# The browser edge's hop-by-hop SRTP (never the stream key: a layering
# rule checks that) and its HTTPS.
field cascade-relayd Depends | grep -q 'libsrtp2' || fail "cascade-relayd: Depends lacks libsrtp2 (the browser edge)"
field cascade-relayd Depends | grep -q 'libcpp-httplib' || fail "cascade-relayd: Depends lacks libcpp-httplib"
field cascade-tools Depends | grep -q 'libavcodec' || fail "cascade-tools: Depends lacks libavcodec"
for pkg in cascade-relayd cascade-topologyd; do
  field $pkg Depends | grep -q 'adduser' || fail "$pkg: Depends lacks adduser"
done

# control_file PACKAGE FILE: one file of the control area.
control_file() { dpkg-deb --ctrl-tarfile "$(deb "$1")" | tar -xO "./$2"; }
[ "$(control_file cascade-relayd conffiles)" = "/etc/cascade/relayd/NODE.env.example" ] ||
  fail "cascade-relayd conffiles: $(control_file cascade-relayd conffiles)"
[ "$(control_file cascade-topologyd conffiles)" = "/etc/cascade/topologyd.env" ] ||
  fail "cascade-topologyd conffiles: $(control_file cascade-topologyd conffiles)"
for pkg in cascade-relayd cascade-topologyd; do
  control_file $pkg postinst | grep -q 'adduser --system' || fail "$pkg postinst makes no system user"
  control_file $pkg postinst | sh -n || fail "$pkg postinst: syntax"
  control_file $pkg postrm | grep -q 'purge)' || fail "$pkg postrm handles no purge"
  control_file $pkg md5sums | grep -q 'usr/bin/' || fail "$pkg md5sums lacks its binary"
done
# Stripped: no symbol table left.
for pkg in cascade-relayd cascade-topologyd cascade-tools; do
  dpkg-deb -x "$(deb $pkg)" "$stage"
done
# Each binary with a flag its man page (from --help) must explain.
for bin_flag in relayd:listen topologyd:state_dir relayctl:controller relay-source:dest \
  relay-probe:listen relay-record:segment; do
  bin=${bin_flag%:*} flag=${bin_flag#*:}
  file -b "$stage/usr/bin/$bin" | grep -q 'not stripped' && fail "$bin is not stripped"
  ldd "$stage/usr/bin/$bin" | grep -q 'not found' && fail "$bin: a library is missing"
  "$stage/usr/bin/$bin" --help >/dev/null 2>&1 || fail "$bin --help from the package exited $?"
  zcat "$stage/usr/share/man/man"?"/$bin."?.gz | grep -qF "\\-\\-$flag" ||
    fail "$bin's man page does not explain --$flag"
done

echo "== systemd-analyze verify, against the unpacked packages"
# --root finds the units the packages' units name (network-online.target)
# and ExecReload's /bin/kill in the staging root: take them from this host.
mkdir -p "$stage/usr/lib/systemd/system" "$stage/bin"
cp -a /lib/systemd/system/*.target "$stage/usr/lib/systemd/system/"
cp /bin/kill "$stage/bin/kill"
units=(cascade-topologyd.service 'cascade-relayd@.service')
# verify UNIT: nothing said, exit 0 (a bad setting is only a warning).
verify() {
  systemd-analyze verify --man=no --root="$stage" "$stage/lib/systemd/system/$1" 2>&1
}
for unit in "${units[@]}"; do
  said=$(verify "$unit")
  rc=$?
  [ "$rc" -eq 0 ] && [ -z "$said" ] || fail "systemd-analyze verify $unit ($rc): $said"
  score=$(systemd-analyze security --offline=yes --root="$stage" \
    "$stage/lib/systemd/system/$unit" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  echo "$unit: exposure $score"
  awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' ||
    fail "$unit: exposure '$score' above 2.0 (docs/deploy.md says 1.2)"
done
# The check sees a broken setting.
cp "$stage/lib/systemd/system/cascade-topologyd.service" "$stage/lib/systemd/system/broken.service"
sed -i 's/^ProtectSystem=strict/ProtectSystem=bogus/' "$stage/lib/systemd/system/broken.service"
[ -n "$(verify broken.service)" ] || fail "systemd-analyze verify is blind to a bad setting"
rm "$stage/lib/systemd/system/broken.service"

echo "== the units' command lines, from the packages"
# run_unit UNIT ENVFILE NAME=VALUE...: starts the unit's ExecStart as the
# manager would (%i, ${VAR} and $VAR from the environment file, then the
# overrides), the binary from the staging root. Sets $pid.
run_unit() {
  local unit=$1 env=$2 line args
  shift 2
  line=$(sed -n 's/^ExecStart=//p' "$stage/lib/systemd/system/$unit")
  line=${line//%i/n1}
  line=${line//\/usr\/bin\//$stage/usr/bin/}
  line=${line//\/var\/lib\/cascade/$tmp/state}
  (
    set -a
    . "$stage/$env"
    for assignment in "$@"; do export "${assignment?}"; done
    eval "args=($line)"
    exec "${args[@]}"
  ) >"$tmp/$unit.log" 2>&1 &
  pid=$!
}
# wait_for FILE PID: until FILE holds a line (bounded), or PID died.
wait_for() {
  local deadline=$((SECONDS + 30))
  while [ ! -s "$1" ] && kill -0 "$2" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
    sleep 0.1
  done
  [ -s "$1" ]
}
mkdir -p "$tmp/state"
run_unit cascade-topologyd.service etc/cascade/topologyd.env LISTEN=127.0.0.1:0 TLS_CERT= \
  TLS_KEY= TLS_CLIENT_CA= "TOPOLOGYD_OPTS=--insecure --port-file=$tmp/topologyd.port"
topologyd=$pid
if wait_for "$tmp/topologyd.port" $topologyd; then
  port=$(head -1 "$tmp/topologyd.port")
  [ -d "$tmp/state/topologyd" ] || fail "topologyd made no state in its --state-dir"
  run_unit 'cascade-relayd@.service' etc/cascade/relayd/NODE.env.example \
    CONTROLLER=127.0.0.1:$port LISTEN=127.0.0.1:0 METRICS=127.0.0.1:0 TLS_CA= TLS_CERT= TLS_KEY= \
    "RELAYD_OPTS=--insecure --port-file=$tmp/relayd.port"
  relayd=$pid
  if wait_for "$tmp/relayd.port" $relayd; then
    grep -q '^udp=[1-9]' "$tmp/relayd.port" || fail "relayd's port file: $(cat "$tmp/relayd.port")"
  else
    fail "relayd from its unit's command line did not bind: $(cat "$tmp/cascade-relayd@.service.log")"
  fi
  kill "$relayd" 2>/dev/null
  wait "$relayd"
else
  fail "topologyd from its unit's command line did not serve: $(cat "$tmp/cascade-topologyd.service.log")"
fi
kill "$topologyd" 2>/dev/null
wait "$topologyd"
# With the shipped environment, the TLS files it names are what is missing.
run_unit cascade-topologyd.service etc/cascade/topologyd.env
wait $pid
rc=$?
{ [ "$rc" -eq 2 ] && grep -q '/etc/cascade/certs/topologyd.pem' "$tmp/cascade-topologyd.service.log"; } ||
  fail "topologyd with the shipped environment: exit $rc, $(cat "$tmp/cascade-topologyd.service.log")"
run_unit 'cascade-relayd@.service' etc/cascade/relayd/NODE.env.example
wait $pid
rc=$?
{ [ "$rc" -eq 2 ] && grep -q '/etc/cascade/certs/ca.pem' "$tmp/cascade-relayd@.service.log"; } ||
  fail "relayd with the example environment: exit $rc, $(cat "$tmp/cascade-relayd@.service.log")"

[ "$failed" -eq 0 ] && echo "packaging: every check passed"
exit "$failed"
