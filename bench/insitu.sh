#!/usr/bin/env bash
# bench/insitu.sh BUILD_DIR — what each floor primitive costs inside the node.
#
# bench/run.sh prices every primitive of the floor in a tight loop
# (bench_floor: warm caches, one thing at a time). This script asks what the
# same primitives cost where the node really runs them, between everything
# else a flow does: it starts bench/run.sh (c=1, BENCH_INSITU_FLOWS flows),
# samples the node with `perf record --call-graph dwarf` for
# BENCH_INSITU_SECONDS once the measured flows run, and attributes every
# sample whose call stack holds a primitive's entry point (pki_verify,
# pki_sign, EVP_PKEY_derive, pki_keygen, pubkey_import, sqlite3_step,
# fdatasync, the TLS server's SSL_read/SSL_write, libcurl and ts_httpc_json, jansson and
# lib/json.c's own reader and writer: ts_json_parse/ts_json_dump/
# ts_json_loads/ts_json_strings_text/ts_jw_*)
# to it. Samples -> microseconds per flow: samples / frequency / flows in the
# window, the flows in the window being the node's sampled CPU time divided by
# the run's node CPU per flow. Printed next to the floor part of the same run
# (count x price, bench_floor's "new" definition): the in-node / floor ratio
# of each primitive, and what no primitive explains.
#
# perf's dwarf unwinding costs the node CPU itself; the absolute figures are
# high by that, the split is what this is for. Needs perf (linux-perf).
#
# Environment: BENCH_INSITU_FLOWS (default 1500), BENCH_INSITU_SECONDS
# (default 5), BENCH_INSITU_FREQ (default 1000 Hz), BENCH_INSITU_KEEP (a
# directory to keep perf.data and the run's output in).
set -euo pipefail
BUILD=${1:?usage: bench/insitu.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FLOWS=${BENCH_INSITU_FLOWS:-1500}
SECS=${BENCH_INSITU_SECONDS:-5}
FREQ=${BENCH_INSITU_FREQ:-1000}
for v in "$FLOWS" "$SECS" "$FREQ"; do
	[[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || { echo "insitu.sh: error: BENCH_INSITU_* must be positive integers" >&2; exit 2; }
done
command -v perf >/dev/null || { echo "insitu.sh: error: perf not installed (apt-get install linux-perf)" >&2; exit 2; }
W=$(mktemp -d /tmp/tapshare-insitu.XXXXXX)
RUN_PID=
cleanup() {
	[ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	if [ -n "${BENCH_INSITU_KEEP:-}" ]; then
		mkdir -p "$BENCH_INSITU_KEEP" && cp "$W"/* "$BENCH_INSITU_KEEP"/ 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT

BENCH_FLOWS=$FLOWS BENCH_CONCURRENCY=1 BENCH_DURATION=300 bash "$ROOT/bench/run.sh" "$BUILD" >"$W/run.txt" 2>&1 &
RUN_PID=$!
pid=
for _ in $(seq 1 600); do
	pid=$(grep -oP 'node pid \K[0-9]+' "$W/run.txt" 2>/dev/null || true)
	[ -n "$pid" ] && break
	kill -0 "$RUN_PID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$pid" ] || { cat "$W/run.txt" >&2; echo "insitu.sh: error: the bench did not start the node" >&2; exit 1; }
# past enrolment and the warm-up: the node has served requests for a while
sleep 6
perf record -q --call-graph dwarf,16384 -F "$FREQ" -p "$pid" -o "$W/perf.data" -- sleep "$SECS" >/dev/null 2>&1 ||
	{ echo "insitu.sh: error: perf record failed (perf_event_paranoid?)" >&2; exit 1; }
wait "$RUN_PID" || { cat "$W/run.txt" >&2; echo "insitu.sh: error: the bench failed" >&2; exit 1; }
RUN_PID=
perf script -i "$W/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$W/stacks.txt"
node_ms=$(awk '/^node CPU: / {for (i = 1; i <= NF; i++) if ($i == "per") {print $(i - 2); exit}}' "$W/run.txt")
[ -n "$node_ms" ] || { echo "insitu.sh: error: no node CPU line in the bench output" >&2; exit 1; }
# the floor's parts, "new" definition: name count price part
awk '/^per flow \(counted/ {on = 1; next} /^fixed definition|^floor for one flow/ {on = 0}
	on && /\| new/ {
		name = $1; count = $2
		part = substr($0, index($0, "| new") + 5)
		if (part ~ /not priced|in https_/) next
		n = split(part, f, " "); price = f[1]; total = f[n - 1]
		print name, count, price, total
	}' "$W/run.txt" >"$W/floor.txt"

echo "== node pid $pid, $SECS s at $FREQ Hz, node CPU per flow in the run $node_ms ms (perf's own cost included)"
awk -v freq="$FREQ" -v node_ms="$node_ms" -v floorf="$W/floor.txt" -f "$ROOT/bench/insitu.awk" "$W/stacks.txt"
