#!/usr/bin/env bash
# Builds the Debian packages cascade-relayd, cascade-topologyd and
# cascade-tools from already built binaries, with dpkg-deb (no debhelper).
#   packaging/build.sh --bin-root=DIR --out=DIR --version=V [--lintian]
# DIR holds Bazel's layout (relay/relayd, topology/topologyd,
# tools/relayctl/relayctl, ...): bazel-bin, or a test's runfiles.
# Needs dpkg-dev (dpkg-shlibdeps), help2man, binutils; lintian for --lintian.
# Prints one line per package built: its path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

bin_root= out= version= run_lintian=0
for arg in "$@"; do
  case "$arg" in
    --bin-root=*) bin_root=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    --version=*) version=${arg#*=} ;;
    --lintian) run_lintian=1 ;;
    *) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
[ -n "$bin_root" ] && [ -n "$out" ] && [ -n "$version" ] ||
  { echo "build.sh: --bin-root, --out and --version are required" >&2; exit 2; }
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] ||
  { echo "build.sh: version \"$version\" is not a Debian native version" >&2; exit 2; }
for tool in dpkg-deb dpkg-shlibdeps help2man strip; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing" >&2; exit 2; }
done

arch=$(dpkg --print-architecture)
# The changelog's date: the commit's time when ./dev package gives it.
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# install_binary ROOT SRC NAME SECTION: a stripped copy in /usr/bin and its
# man page from --help.
install_binary() {
  local root=$1 src=$2 name=$3 section=$4
  [ -x "$bin_root/$src" ] || { echo "build.sh: $bin_root/$src is missing" >&2; exit 2; }
  install -D -m 0755 "$bin_root/$src" "$root/usr/bin/$name"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$name"
  mkdir -p "$root/usr/share/man/man$section"
  # absl's --version says "Debug build" for any build without NDEBUG: the
  # package's version is the one that counts.
  help2man --no-info --section="$section" --version-string="$version" \
    --name="$(man_name "$name")" "$root/usr/bin/$name" |
    gzip -9n >"$root/usr/share/man/man$section/$name.$section.gz"
}

man_name() {
  case "$1" in
    relayd) echo "Cascade relay daemon" ;;
    topologyd) echo "Cascade topology controller" ;;
    relayctl) echo "command line over topologyd's Admin API" ;;
    relay-source) echo "send an H.264 and Opus test stream as RTP" ;;
    relay-probe) echo "receive a Cascade stream as one or many sites and measure it" ;;
    relay-record) echo "record a Cascade stream as a site, without re-encoding" ;;
  esac
}

# install_doc ROOT PACKAGE: copyright and changelog (a native package).
install_doc() {
  local root=$1 pkg=$2 doc=$1/usr/share/doc/$2
  install -D -m 0644 "$here/debian/copyright" "$doc/copyright"
  {
    echo "$pkg ($version) unstable; urgency=medium"
    echo
    echo "  * Built from the Cascade repository (git history has the changes)."
    echo
    echo " -- Cascade developers <cascade@example.org>  $(date -R -u -d @"$epoch")"
  } | gzip -9n >"$doc/changelog.gz"
  chmod 0644 "$doc/changelog.gz"
}

# install_script ROOT NAME SRC: a maintainer script, the user snippet in.
install_script() {
  local root=$1 name=$2 src=$3
  sed -e "/^#USER#$/{r $here/debian/user.sh" -e 'd}' "$src" >"$root/DEBIAN/$name"
  chmod 0755 "$root/DEBIAN/$name"
}

# finish ROOT PACKAGE DESCRIPTION EXTRA_DEPENDS: control (with Depends from
# dpkg-shlibdeps on the binaries in it), conffiles, md5sums, then the .deb.
finish() {
  local root=$1 pkg=$2 description=$3 extra=$4 shlibs deps size
  # dpkg-shlibdeps reads debian/control of a source tree: a minimal one.
  local src=$work/src-$pkg
  mkdir -p "$src/debian"
  printf 'Source: cascade\n\nPackage: %s\nArchitecture: any\n' "$pkg" >"$src/debian/control"
  # --warnings=1: Bazel links every absl library into every binary; saying
  # which ones a binary does not use helps no one here.
  shlibs=$(cd "$src" && dpkg-shlibdeps --warnings=1 -O "$root"/usr/bin/*)
  deps=${shlibs#shlibs:Depends=}
  [ -n "$extra" ] && deps="$deps, $extra"
  find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
  size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
  sed -e "s|@PACKAGE@|$pkg|" -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" \
    -e "s|@SIZE@|$size|" -e "s|@DEPENDS@|$deps|" -e "s|@DESCRIPTION@|$description|" \
    "$here/debian/control.in" | sed 's/\\n/\n/g' >"$root/DEBIAN/control"
  if [ -d "$root/etc" ]; then
    (cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
  fi
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum) >"$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
  [ -f "$root/DEBIAN/conffiles" ] && chmod 0644 "$root/DEBIAN/conffiles"
  local deb=$out/${pkg}_${version}_${arch}.deb
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "$deb"
}

# cascade-relayd
root=$work/cascade-relayd
install_binary "$root" relay/relayd relayd 8
install -D -m 0644 "$here/systemd/cascade-relayd@.service" "$root/lib/systemd/system/cascade-relayd@.service"
install -D -m 0644 "$here/etc/relayd/NODE.env.example" "$root/etc/cascade/relayd/NODE.env.example"
install -D -m 0644 "$here/sysctl/60-cascade-relayd.conf" "$root/usr/lib/sysctl.d/60-cascade-relayd.conf"
install_doc "$root" cascade-relayd
mkdir -p "$root/DEBIAN"
for s in postinst prerm postrm; do install_script "$root" $s "$here/debian/relayd.$s"; done
finish "$root" cascade-relayd \
  "Cascade media relay daemon\n relayd forwards RTP and RTCP down a tree of relays with NACK repair,\n a keyframe cache and authenticated children, under a topologyd\n controller or from a standalone configuration. One systemd unit\n instance per relay: cascade-relayd@NODE.service." \
  "adduser"

# cascade-topologyd
root=$work/cascade-topologyd
install_binary "$root" topology/topologyd topologyd 8
install -D -m 0644 "$here/systemd/cascade-topologyd.service" "$root/lib/systemd/system/cascade-topologyd.service"
install -D -m 0644 "$here/etc/topologyd.env" "$root/etc/cascade/topologyd.env"
install_doc "$root" cascade-topologyd
mkdir -p "$root/DEBIAN"
for s in postinst prerm postrm; do install_script "$root" $s "$here/debian/topologyd.$s"; done
finish "$root" cascade-topologyd \
  "Cascade topology controller\n topologyd holds the relay tree of a Cascade network and hands every\n relay its parents, children, streams and keys over gRPC; its state\n lives in a journal or in etcd for a group of controllers." \
  "adduser"

# cascade-tools
root=$work/cascade-tools
install_binary "$root" tools/relayctl/relayctl relayctl 1
install_binary "$root" tools/source/relay-source relay-source 1
install_binary "$root" tools/probe/relay-probe relay-probe 1
install_binary "$root" tools/record/relay-record relay-record 1
install_doc "$root" cascade-tools
mkdir -p "$root/DEBIAN"
finish "$root" cascade-tools \
  "Cascade operator and test tools\n relayctl drives topologyd's Admin API (topology, drains, certificates,\n tokens); relay-source sends a test stream into a Cascade network,\n relay-probe receives it as one or many sites and measures it, and\n relay-record records it as a site into Matroska or MP4 segments." \
  ""

if [ "$run_lintian" = 1 ]; then
  command -v lintian >/dev/null || { echo "build.sh: lintian is missing" >&2; exit 2; }
  # Errors fail the build; warnings and notes are printed.
  lintian --fail-on error --tag-display-limit 0 "$out"/cascade-*_"${version}"_"$arch".deb >&2
fi
