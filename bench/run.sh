#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — throughput/latency benchmark of complete share flows.
#
# Starts, on 127.0.0.1 in a fresh temporary directory (tests/integration/lib.sh):
# a test PKI with K companion EIDs, the reference provider (tapshare-sp), the
# node (tapshare-node, SQLite WAL), enrolls one primary device for alice, then
# runs BUILD_DIR/bench_flows against the node with K simulated companions
# (in-process software SEs doing the real crypto) and C worker threads.
# Everything is stopped by PID and the directory removed on exit.
#
# Environment (all optional):
#   BENCH_FLOWS        measured flows            (default 200)
#   BENCH_CONCURRENCY  worker threads = EIDs     (default 4, at most 16)
#   BENCH_WARMUP       unmeasured warm-up flows  (default 8)
#   BENCH_CLEANUP      delete | cancel | none    (default delete)
#   BENCH_DURATION     hard limit in seconds     (default 120)
#   BENCH_APP          app to share              (default sim-alice)
#   BENCH_SE_TMPFS     1 = keep the simulated SEs' state files on /dev/shm so
#                      the companions' fsyncs do not share the node's disk (default 1)
#   BENCH_LOGS         directory to copy the node's and provider's logs to on exit
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export TS_BIN="$BUILD"

FLOWS=${BENCH_FLOWS:-200}
CONC=${BENCH_CONCURRENCY:-4}
WARMUP=${BENCH_WARMUP:-8}
CLEANUP=${BENCH_CLEANUP:-delete}
DURATION=${BENCH_DURATION:-120}
APP=${BENCH_APP:-sim-alice}
SE_TMPFS=${BENCH_SE_TMPFS:-1}

for v in "$FLOWS" "$CONC" "$WARMUP" "$DURATION"; do
	[[ "$v" =~ ^[0-9]+$ ]] || { echo "run.sh: error: BENCH_* values must be integers" >&2; exit 2; }
done
if [ "$CONC" -lt 1 ] || [ "$CONC" -gt 16 ]; then
	echo "run.sh: error: BENCH_CONCURRENCY must be 1..16 (testpki makes at most 16 eUICC certificates)" >&2
	exit 2
fi
for b in tapshare-node tapshare-sp tapshare bench_flows; do
	[ -x "$BUILD/$b" ] || { echo "run.sh: error: $BUILD/$b not built" >&2; exit 2; }
done

. "$ROOT/tests/integration/lib.sh"

SEDIR="$T/se"
if [ "$SE_TMPFS" = 1 ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	SEDIR=$(mktemp -d /dev/shm/tapshare-bench-se.XXXXXX)
fi
# Removes the SE directory, then lib.sh's ts_cleanup (kills by PID, removes
# $T) with the script's exit status in $? as it expects. set +e: a failing
# command must not cut the handler short under errexit.
bench_rc() { return "$1"; }
bench_cleanup() {
	local rc=$?
	set +e
	if [ -n "${BENCH_LOGS:-}" ]; then
		mkdir -p "$BENCH_LOGS" && cp "$T"/*.log "$BENCH_LOGS"/ 2>/dev/null
	fi
	case "$SEDIR" in /dev/shm/tapshare-bench-se.*) rm -rf "$SEDIR" ;; esac
	bench_rc "$rc"
	ts_cleanup
}
trap bench_cleanup EXIT

# K EIDs under the test EUM's prefix 89049032, check digits by ISO 7064 MOD 97-10:
# the 32-digit number mod 97 must be 1, so check = 98 - (first30 * 100 mod 97).
eid_with_check() {
	local s=$1 r=0 i
	for ((i = 0; i < ${#s}; i++)); do r=$(((r * 10 + ${s:i:1}) % 97)); done
	printf '%s%02d' "$s" $((98 - (r * 100) % 97))
}
EIDS=()
for ((k = 0; k < CONC; k++)); do
	EIDS+=("$(eid_with_check "89049032$(printf '%022d' $((7700 + k)))")")
done

pki_args=()
eid_args=()
for e in "${EIDS[@]}"; do pki_args+=(--eid "$e"); eid_args+=(--eid "$e"); done
"$TS_BIN/tapshare-node" testpki "$T/pki" "${pki_args[@]}" --ein 89049032 2>"$T/pki.log"
ts_start_sp
ts_init_node
# Every simulated companion runs from 127.0.0.1, so the per-address caps that
# protect a real node (ES9+ sessions 60/min, 32 companion streams per address)
# would throttle the bench itself: raise them for this node only.
printf '[limits]\nes9_sessions_per_peer_per_min = 1000000\nstreams_per_peer = 100000\n' >>"$T/node/node.ini"
ts_start_node
alice enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$ALICE_CODE" --name "bench phone" \
	>"$T/enroll.log" 2>&1

echo "== tapshare bench: $(nproc) CPU(s), $(uname -sr), build $(basename "$BUILD")"
echo "== node pid $NODE_PID at $NODE_URL, provider pid $SP_PID, data in $T (SE states in $SEDIR)"
cmd=("$TS_BIN/bench_flows" --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --home-dir "$T/alice"
	--se-dir "$SEDIR" --pki "$T/pki" "${eid_args[@]}" --app "$APP"
	--flows "$FLOWS" --concurrency "$CONC" --warmup "$WARMUP" --cleanup "$CLEANUP"
	--node-pid "$NODE_PID" --sp-pid "$SP_PID" --duration-limit "$DURATION")
echo "== ${cmd[*]}"
rc=0
timeout --kill-after=10 $((DURATION + 60)) "${cmd[@]}" || rc=$?
exit "$rc"
