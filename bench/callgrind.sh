#!/usr/bin/env bash
# bench/callgrind.sh BUILD_DIR — the node's user-space instructions per flow.
#
# Node CPU time per flow (bench/run.sh) moves by itself on a shared VM: the
# same build has measured 3.4 and 5.2 ms an hour apart, so two builds are
# only compared in interleaved pairs, and a change of a few per cent is lost
# in them. This script counts instructions instead: it runs bench/run.sh
# twice (c=1, CALLGRIND_FLOWS_A then CALLGRIND_FLOWS_B measured flows, no
# call counting) with the node under `valgrind --tool=callgrind` (a
# BENCH_NODE_HOOK that redefines ts_start_node), and divides the difference
# of the two totals by the difference of the flow counts, so start-up,
# enrolment and the warm-up cancel out. Seen in session 16: the same build
# twice within 0.2 %, whatever else the machine did. It counts what runs in
# user space only (a system call is one instruction, its kernel work none)
# and valgrind serialises the node's threads, so it complements the CPU
# figures, it does not replace them. Prints the total per flow and the
# functions with the largest self cost per flow.
#
# Environment: CALLGRIND_FLOWS_A (default 100), CALLGRIND_FLOWS_B (default
# 300), CALLGRIND_TOP (default 25 functions), CALLGRIND_KEEP (a directory
# to keep both callgrind outputs and the runs' logs in). Needs valgrind.
set -euo pipefail
BUILD=${1:?usage: bench/callgrind.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FA=${CALLGRIND_FLOWS_A:-100}
FB=${CALLGRIND_FLOWS_B:-300}
TOP=${CALLGRIND_TOP:-25}
for v in "$FA" "$FB" "$TOP"; do
	[[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || { echo "callgrind.sh: error: CALLGRIND_* must be positive integers" >&2; exit 2; }
done
[ "$FB" -gt "$FA" ] || { echo "callgrind.sh: error: CALLGRIND_FLOWS_B must be larger than CALLGRIND_FLOWS_A" >&2; exit 2; }
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
	{ echo "callgrind.sh: error: valgrind not installed (apt-get install valgrind)" >&2; exit 2; }
W=$(mktemp -d /tmp/tapshare-callgrind.XXXXXX)
cleanup() {
	if [ -n "${CALLGRIND_KEEP:-}" ]; then
		mkdir -p "$CALLGRIND_KEEP" && cp "$W"/* "$CALLGRIND_KEEP"/ 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT

# sourced by bench/run.sh after init, before the node starts ($T, $TS_BIN set)
cat >"$W/hook.sh" <<'EOF'
ts_start_node() {
	rm -f "$T/node/node.port"
	valgrind --tool=callgrind --callgrind-out-file="$CALLGRIND_OUT" \
		"$TS_BIN/tapshare-node" run --dir "$T/node" >>"$T/node.log" 2>&1 &
	NODE_PID=$!
	PIDS+=("$NODE_PID")
	wait_file "$T/node/node.port" 120
	NODE_PORT=$(cat "$T/node/node.port")
	NODE_URL="https://127.0.0.1:$NODE_PORT"
}
EOF

total() { awk '/^summary:|^totals:/ {print $2; exit}' "$1"; }
for f in "$FA" "$FB"; do
	echo "== $f flows at c=1, the node under callgrind (log: $W/run.$f.txt)"
	CALLGRIND_OUT="$W/cg.$f" BENCH_NODE_HOOK="$W/hook.sh" BENCH_COUNT=0 BENCH_FLOWS="$f" BENCH_WARMUP=4 \
		BENCH_CONCURRENCY=1 BENCH_DURATION=600 bash "$ROOT/bench/run.sh" "$BUILD" >"$W/run.$f.txt" 2>&1 ||
		{ tail -20 "$W/run.$f.txt" >&2; echo "callgrind.sh: error: the bench failed" >&2; exit 1; }
	grep -q "^flows completed $f, failed 0" "$W/run.$f.txt" ||
		{ grep "^flows completed" "$W/run.$f.txt" >&2; echo "callgrind.sh: error: not every flow completed" >&2; exit 1; }
	for _ in $(seq 1 100); do [ -s "$W/cg.$f" ] && [ -n "$(total "$W/cg.$f")" ] && break; sleep 0.1; done
	[ -n "$(total "$W/cg.$f")" ] || { echo "callgrind.sh: error: no callgrind output for $f flows" >&2; exit 1; }
done
a=$(total "$W/cg.$FA")
b=$(total "$W/cg.$FB")
n=$((FB - FA))
echo "node instructions: $a ($FA flows), $b ($FB flows)"
awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "per flow: %.0f instructions (%.3f M)\n", (b - a) / n, (b - a) / n / 1e6 }'
# self cost per function, the difference of the two runs per flow
fn() {
	callgrind_annotate --threshold=100 --inclusive=no "$1" 2>/dev/null |
		awk '/^ *[0-9,]+ +\( *[0-9.]+%\) +[^ ]/ && !/PROGRAM TOTALS|events annotated|=>/ {
			x = $1; gsub(",", "", x); sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, ""); print x "\t" $0}'
}
fn "$W/cg.$FA" >"$W/fn.a"
fn "$W/cg.$FB" >"$W/fn.b"
echo "largest self cost per flow (instructions, function):"
awk -F'\t' -v n="$n" 'NR == FNR {a[$2] = $1; next} {d = ($1 - a[$2]) / n; if (d > 0) printf "%10.0f  %s\n", d, $2}' \
	"$W/fn.a" "$W/fn.b" | sort -rn | head -n "$TOP"
