#!/usr/bin/env bash
# capture.sh - record real GoBGP messages for the weft-bgp golden tests.
#
#   capture.sh OUTDIR
#
# Creates two network namespaces (wbgcap1, wbgcap2) joined by a veth (192.0.2.1/24 <->
# 192.0.2.2/24), runs capture.py (a passive BGP listener that records what it receives) in
# wbgcap1 and gobgpd in wbgcap2, injects routes with the gobgp CLI, and leaves one directory
# of NNN-TYPE.hex files per scenario under OUTDIR. Everything it started is stopped by PID
# and both namespaces are deleted on exit. Needs root, gobgpd/gobgp (Debian package gobgpd)
# and python3. Nothing runs in the host's own namespace.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: capture.sh OUTDIR}
NS1=wbgcap1 NS2=wbgcap2 PORT=50061
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wbgcap.XXXXXX")
GOBGPD_PID= CAPTURE_PID=

stop_pid() { # PID COMM
  local pid=$1 comm=$2
  [ -n "$pid" ] || return 0
  if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$comm" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  stop_pid "$GOBGPD_PID" gobgpd; GOBGPD_PID=
  stop_pid "$CAPTURE_PID" python3; CAPTURE_PID=
  ip netns del "$NS1" 2>/dev/null || true
  ip netns del "$NS2" 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

for ns in "$NS1" "$NS2"; do
  if ip netns list | awk '{print $1}' | grep -qx "$ns"; then echo "netns $ns exists, refusing" >&2; exit 1; fi
done
ip netns add "$NS1"; ip netns add "$NS2"
ip link add wbgcapa type veth peer name wbgcapb
ip link set wbgcapa netns "$NS1"; ip link set wbgcapb netns "$NS2"
ip -n "$NS1" addr add 192.0.2.1/24 dev wbgcapa; ip -n "$NS2" addr add 192.0.2.2/24 dev wbgcapb
for ns in "$NS1" "$NS2"; do ip -n "$ns" link set lo up; done
ip -n "$NS1" link set wbgcapa up; ip -n "$NS2" link set wbgcapb up

G() { ip netns exec "$NS2" gobgp -u 127.0.0.1 -p "$PORT" "$@"; }

# gobgpd_conf AS PEER_AS FAMILIES [EXTRA_NEIGHBOR_TOML] [PER_FAMILY_TOML]
gobgpd_conf() {
  local as=$1 peer_as=$2 families=$3 extra=${4:-} per_family=${5:-}
  cat <<CONF
[global.config]
  as = $as
  router-id = "192.0.2.2"
  port = 179
  local-address-list = ["192.0.2.2"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.1"
    peer-as = $peer_as
  [neighbors.transport.config]
    local-address = "192.0.2.2"
  [neighbors.timers.config]
    connect-retry = 1
$extra
CONF
  for f in ${families//,/ }; do
    printf '  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "%s"\n%s\n' "$f" "$per_family"
  done
}

# scenario NAME CAPTURE_ARGS -- (gobgpd.toml on stdin); then run the function NAME_routes
scenario() {
  local name=$1; shift
  mkdir -p "$OUT/$name"
  cat > "$WORK/gobgpd.toml"
  ip netns exec "$NS1" python3 "$HERE/capture.py" --listen 192.0.2.1 --id 192.0.2.1 --out "$OUT/$name" \
      --seconds 90 "$@" > "$WORK/capture-$name.log" 2>&1 &
  CAPTURE_PID=$!
  sleep 0.5
  ip netns exec "$NS2" gobgpd -f "$WORK/gobgpd.toml" -t toml -p -l info --api-hosts "127.0.0.1:$PORT" \
      --pprof-disable > "$WORK/gobgpd-$name.log" 2>&1 < /dev/null &
  GOBGPD_PID=$!
  for _ in $(seq 60); do G neighbor 2>/dev/null | grep -q "Establ" && break; sleep 0.5; done
  G neighbor | grep -q Establ || { cat "$WORK/gobgpd-$name.log" "$WORK/capture-$name.log" >&2; exit 1; }
  sleep 1
  "${name}_routes"
  sleep 2
  # The session ends with a NOTIFICATION from gobgpd; the listener exits on it.
  for _ in $(seq 50); do kill -0 "$CAPTURE_PID" 2>/dev/null || break; sleep 0.2; done
  stop_pid "$GOBGPD_PID" gobgpd; GOBGPD_PID=
  stop_pid "$CAPTURE_PID" python3; CAPTURE_PID=
  cat "$WORK/capture-$name.log"
}

step() { "$@"; sleep 1.5; }

# A: eBGP AS 64512 -> 64511, IPv4 and IPv6 unicast, listener with the 4-octet AS capability.
unicast_routes() {
  step G global rib -a ipv4 add 198.51.100.0/24 nexthop 192.0.2.2 origin igp med 10 \
      community 64512:10,no-export large-community 64512:1:2,4200000001:3:4
  step G global rib -a ipv4 add 203.0.113.128/25 nexthop 192.0.2.2 origin incomplete aspath 65001,65002
  step G global rib -a ipv6 add 2001:db8:100::/48 nexthop 2001:db8::2 community 64512:20
  step G global rib -a ipv4 del 203.0.113.128/25
  step G global rib -a ipv6 del 2001:db8:100::/48
  # "shutdown" (a deprecated alias of "disable") is the one that sends the RFC 9003 shutdown communication.
  G neighbor 192.0.2.1 shutdown --reason "weft golden capture"
}

# B: the same eBGP session with VPNv4, VPNv6, EVPN and RT constraint. The listener advertises the
# RT constraint default route (so gobgpd sends every VPN route) and End-of-RIB for each family.
vpn_routes() {
  step G global rib -a vpnv4 add 198.51.100.0/24 label 100 rd 64512:1 rt 64512:100 nexthop 192.0.2.2
  step G global rib -a vpnv6 add 2001:db8:200::/48 label 200 rd 64512:3 rt 64512:300 nexthop 2001:db8::2
  step G global rib -a evpn add prefix 198.51.100.0/24 gw 0.0.0.0 etag 0 label 10100 rd 64512:2 rt 64512:200 \
      encap vxlan router-mac 02:00:00:00:00:02 nexthop 192.0.2.2
  step G global rib -a evpn add prefix 2001:db8:300::/64 gw :: etag 0 label 10200 rd 64512:4 rt 64512:400 \
      encap vxlan router-mac 02:00:00:00:00:04 nexthop 192.0.2.2
  # A VRF importing 64512:500 makes gobgpd originate the RT constraint route 64512:64512:500.
  # (gobgpd 3.10 crashes on "vrf del" with RT constraint enabled, so the VRF is left in place.)
  step G vrf add red rd 64512:5 rt both 64512:500
  step G global rib -a vpnv4 del 198.51.100.0/24 label 100 rd 64512:1 rt 64512:100
  step G global rib -a vpnv6 del 2001:db8:200::/48 label 200 rd 64512:3 rt 64512:300
  step G global rib -a evpn del prefix 198.51.100.0/24 gw 0.0.0.0 etag 0 label 10100 rd 64512:2 rt 64512:200
  G neighbor 192.0.2.1 reset
}

# C: gobgpd with a 4-octet AS (4200000002) towards a listener WITHOUT the 4-octet AS capability:
# AS_PATH carries AS_TRANS, AS4_PATH and AS4_AGGREGATOR carry the real numbers. Graceful restart on.
as4_routes() {
  step G global rib -a ipv4 add 192.0.2.128/25 nexthop 192.0.2.2 aspath 4200000010,65010 \
      aggregator 4200000002:192.0.2.2
  G neighbor 192.0.2.1 reset
}

# D: iBGP AS 64512 with ADD-PATH (send/receive) for IPv4 unicast: NLRI carry path identifiers.
addpath_routes() {
  step G global rib -a ipv4 add 198.51.100.0/24 identifier 7 nexthop 192.0.2.2 local-pref 200
  step G global rib -a ipv4 add 198.51.100.0/24 identifier 8 nexthop 192.0.2.3 local-pref 200
  step G global rib -a ipv4 del 198.51.100.0/24 identifier 7
  G neighbor 192.0.2.1 reset
}

gobgpd_conf 64512 64511 ipv4-unicast,ipv6-unicast | scenario unicast --asn 64511 --families ipv4,ipv6

gobgpd_conf 64512 64511 l3vpn-ipv4-unicast,l3vpn-ipv6-unicast,l2vpn-evpn,rtc |
  scenario vpn --asn 64511 --families vpnv4,vpnv6,evpn,rtc --rtc-default

gobgpd_conf 4200000002 64511 ipv4-unicast \
    "$(printf '  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 120\n')" \
    "$(printf '    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n')" |
  scenario as4 --asn 64511 --families ipv4 --no-as4

gobgpd_conf 64512 64512 ipv4-unicast "" \
    "$(printf '    [neighbors.afi-safis.add-paths.config]\n      receive = true\n      send-max = 8\n')" |
  scenario addpath --asn 64512 --families ipv4 --add-path ipv4
