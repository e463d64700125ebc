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
#   BENCH_COUNT        1 (default) = LD_PRELOAD libbench_count.so into the node:
#                      it counts the node's OpenSSL / SQLite / jansson / fsync
#                      calls; bench_floor then prints the counts per flow, the
#                      price of each primitive timed on this machine, the floor
#                      for one flow (sum of count x price) and node CPU / floor,
#                      under the old and the new definition side by side (the
#                      new one prices each request, SSE write and provider call
#                      on a real loopback mutual-TLS connection: bench/floor.c)
#   BENCH_FLOOR_ROUNDS bench_floor rounds (default 5): each primitive's price is
#                      the median of the rounds (printed with min and max)
#   BENCH_FLOOR_BEFORE 1 (default) = also BENCH_FLOOR_ROUNDS rounds before the
#                      flows, of every primitive whose price does not depend on
#                      the node's sizes (all but https_request, sse_write,
#                      https_call, json_*_sized): its price is then the median
#                      of the rounds before and after the node's run (this VM's
#                      CPU speed is bimodal; rounds on both sides bracket the
#                      speed the node ran at). bench_floor also prints the
#                      floor and ratio from the rounds after alone (session 10's)
#   BENCH_MODE         flows (default) | streams: for each N in BENCH_STREAMS
#                      (default "0 100 1000 10000"), bench_streams holds N idle
#                      authenticated event streams (bob's device, mutual TLS),
#                      then BENCH_FLOWS flows run at concurrency 1 (default 30
#                      in this mode): the node's RSS per idle stream and its CPU
#                      and S4->S5 / S4->S6 latency per flow (each flow = 4-5
#                      events to alice's stream + 2 commands to a companion's),
#                      the streams read back and events written per flow (the
#                      node's /metrics) and the node CPU per event written.
#                      The idle streams cost CPU of their own (a keepalive
#                      comment to each every 15 s: ~670 TLS records/s at
#                      10,000), which is not delivery: before the flows, each
#                      row measures the node's CPU in an idle window with no
#                      event (BENCH_IDLE_S) and counts the keepalives written
#                      (/metrics tapshare_event_stream_keepalives_total); the
#                      idle CPU is modelled as base rate x time (the N=0 row)
#                      + cost per keepalive x keepalives (this row), and that
#                      model, applied to the wall time and the keepalives of
#                      bench_flows' measured flows (snapshotted through its
#                      --count-file handshake), is subtracted from its node
#                      CPU: "net" node CPU per flow and per event written
#   BENCH_IDLE_S       streams mode: idle window in seconds (default 30: two
#                      keepalive periods, so every idle stream gets two)
#   BENCH_STREAMS_RESUME streams mode: 1 = bench_streams resumes one TLS session
#                      for every connection after its first (opens ~2x faster
#                      on a loaded machine; a resumed stream holds ~1.2 kB
#                      more), 0 (default) = full handshakes
#   BENCH_OPEN_TIMEOUT streams mode: seconds for the N streams to open (default 300)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export TS_BIN="$BUILD"

MODE=${BENCH_MODE:-flows}
case "$MODE" in flows | streams) ;; *) echo "run.sh: error: BENCH_MODE must be flows or streams" >&2; exit 2 ;; esac
STREAMS=${BENCH_STREAMS:-0 100 1000 10000}
FLOWS=${BENCH_FLOWS:-200}
CONC=${BENCH_CONCURRENCY:-4}
WARMUP=${BENCH_WARMUP:-8}
if [ "$MODE" = streams ]; then
	FLOWS=${BENCH_FLOWS:-30}
	CONC=${BENCH_CONCURRENCY:-1}
	WARMUP=${BENCH_WARMUP:-4}
fi
IDLE_S=${BENCH_IDLE_S:-30}
OPEN_TIMEOUT=${BENCH_OPEN_TIMEOUT:-300}
RESUME=
[ "${BENCH_STREAMS_RESUME:-0}" = 1 ] && RESUME=--resume
CLEANUP=${BENCH_CLEANUP:-delete}
DURATION=${BENCH_DURATION:-120}
APP=${BENCH_APP:-sim-alice}
SE_TMPFS=${BENCH_SE_TMPFS:-1}

for v in "$FLOWS" "$CONC" "$WARMUP" "$DURATION" "$IDLE_S" "$OPEN_TIMEOUT"; do
	[[ "$v" =~ ^[0-9]+$ ]] || { echo "run.sh: error: BENCH_* values must be integers" >&2; exit 2; }
done
if [ "$CONC" -lt 1 ] || [ "$CONC" -gt 16 ]; then
	echo "run.sh: error: BENCH_CONCURRENCY must be 1..16 (testpki makes at most 16 eUICC certificates)" >&2
	exit 2
fi
[ "$IDLE_S" -ge 1 ] || { echo "run.sh: error: BENCH_IDLE_S must be >= 1" >&2; exit 2; }
for v in $STREAMS; do
	[[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -le 18000 ] || { echo "run.sh: error: BENCH_STREAMS: integers <= 18000" >&2; exit 2; }
done
COUNT=${BENCH_COUNT:-1}
for b in tapshare-node tapshare-sp tapshare bench_flows bench_streams bench_floor; do
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
	# BENCH_EXIT_HOOK (pg's bench/growth.sh): stops what a BENCH_NODE_HOOK started.
	[ -n "${BENCH_EXIT_HOOK:-}" ] && eval "$BENCH_EXIT_HOOK"
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
# streams mode reads the node's /metrics (stream reads and writes per flow)
if [ "$MODE" = streams ]; then
	ADMIN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	printf 'admin_listen = 127.0.0.1:%s\n' "$ADMIN_PORT" >"$T/admin.line"
	sed -i "/^\[node\]/r $T/admin.line" "$T/node/node.ini"
fi
# BENCH_NODE_HOOK: a script sourced here (after init, before the node starts), e.g. to
# fill the store or switch [node] database (bench/growth.sh); $T, $TS_BIN, $ROOT are set.
[ -n "${BENCH_NODE_HOOK:-}" ] && . "$BENCH_NODE_HOOK"
count_args=()
if [ "$COUNT" = 1 ] && [ "$MODE" = flows ]; then
	[ -f "$BUILD/libbench_count.so" ] || { echo "run.sh: error: $BUILD/libbench_count.so not built" >&2; exit 2; }
	count_args=(--count-file "$T/node.counts")
	LD_PRELOAD="$BUILD/libbench_count.so" BENCH_COUNT_FILE="$T/node.counts" ts_start_node
else
	ts_start_node
fi
alice enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$ALICE_CODE" --name "bench phone" \
	>"$T/enroll.log" 2>&1

echo "== tapshare bench: $(nproc) CPU(s), $(uname -sr), build $(basename "$BUILD")"
echo "== node pid $NODE_PID at $NODE_URL, provider pid $SP_PID, data in $T (SE states in $SEDIR)"
cmd=("$TS_BIN/bench_flows" --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --home-dir "$T/alice"
	--se-dir "$SEDIR" --pki "$T/pki" "${eid_args[@]}" --app "$APP"
	--flows "$FLOWS" --concurrency "$CONC" --warmup "$WARMUP" --cleanup "$CLEANUP"
	--node-pid "$NODE_PID" --sp-pid "$SP_PID" --duration-limit "$DURATION" "${count_args[@]}")
echo "== ${cmd[*]}"
rc=0
if [ "$MODE" = flows ]; then
	# The floor's rounds on both sides of the node's run (BENCH_FLOOR_BEFORE):
	# the primitives whose price does not depend on the node's sizes are
	# also timed before the flows; bench_floor adds those rounds to its own.
	floor_add=()
	if [ "$COUNT" = 1 ] && [ "${BENCH_FLOOR_BEFORE:-1}" = 1 ]; then
		echo "== floor rounds before the node's run: bench_floor --no-sized (output in $T/floor.before.out)"
		"$TS_BIN/bench_floor" --pki "$T/pki" --tmp "$T" --rounds "${BENCH_FLOOR_ROUNDS:-5}" --no-sized \
			--save-samples "$T/floor.before" >"$T/floor.before.out" || rc=$?
		[ -s "$T/floor.before" ] && floor_add=(--add-samples "$T/floor.before")
	fi
	timeout --kill-after=10 $((DURATION + 60)) "${cmd[@]}" | tee "$T/flows.out" || rc=$?
	if [ "$COUNT" = 1 ] && [ -s "$T/node.counts.end" ]; then
		ok=$(sed -n 's/^flows completed \([0-9]*\),.*/\1/p' "$T/flows.out")
		cpu=$(sed -n 's/^node CPU: .*total, \([0-9.]*\) ms per flow.*/\1/p' "$T/flows.out")
		echo "== floor (same run, same machine): bench_floor --pki $T/pki"
		"$TS_BIN/bench_floor" --pki "$T/pki" --tmp "$T" --rounds "${BENCH_FLOOR_ROUNDS:-5}" "${floor_add[@]}" \
			--counts "$T/node.counts.start" "$T/node.counts.end" --flows "${ok:-0}" --node-cpu-ms "${cpu:-0}" || rc=$?
	fi
	exit "$rc"
fi

# ---- BENCH_MODE=streams -----------------------------------------------------
bob enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$BOB_CODE" --name "bench idle streams" \
	>>"$T/enroll.log" 2>&1
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$NODE_PID/status"; }
CLK=$(getconf CLK_TCK)
# the node's CPU so far in ms (utime + stime, every thread, as bench_flows reads it)
node_ms() { awk -v hz="$CLK" '{printf "%.0f\n", ($14 + $15) * 1000 / hz}' "/proc/$NODE_PID/stat"; }
now_s() { date +%s.%N; }
# One scrape of the node's /metrics, then its counters from it:
# tapshare_event_stream_reads_total / _writes_total (streams read back from the
# store after a wake-up, events written to streams: O(1) push, the reads per
# flow do not grow with the idle streams) and _keepalives_total (keepalive
# comments written to idle streams)
scrape() { M=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics"); }
metric() { sed -n "s/^$1 \([0-9]*\)$/\1/p" <<<"$M"; }
calc() { echo "scale=${2:-2}; $1" | bc; }
fmt() { printf "%.${2:-2}f" "$1"; }
# Answers bench_flows' count requests (see the flows below) until killed;
# waits 10 ms at a time on a FIFO that never gets data (no sleep(1) forks)
mkfifo "$T/wait.fifo"
answer_counts() {
	exec 9<>"$T/wait.fifo"
	while :; do
		if [ -e "$T/sc.req" ]; then
			scrape
			printf 'keepalives %s\nreads %s\nwrites %s\n' "$(metric tapshare_event_stream_keepalives_total)" \
				"$(metric tapshare_event_stream_reads_total)" "$(metric tapshare_event_stream_writes_total)" >"$T/sc.tmp"
			mv "$T/sc.tmp" "$T/sc"
			rm -f "$T/sc.req"
		fi
		read -r -t 0.01 -u 9 _ || true
	done
}
summary=()
rss0=
r0=0 r0_set=0
cpe100='' cpe_last='' n_last=''
for N in $STREAMS; do
	echo "== $N idle streams"
	spid=
	# One baseline, taken before the first row that opens streams (after
	# the N=0 row's flows warmed the node up): the heap that earlier rows'
	# streams left behind is reused by the next row's, so a baseline per row
	# would charge a row only for what it added beyond the previous one.
	[ -z "$rss0" ] && [ "$N" -gt 0 ] && rss0=$(rss_kb)
	if [ "$N" -gt 0 ]; then
		scrape
		kas=$(metric tapshare_event_stream_keepalives_total)
		rm -f "$T/streams.ready"
		"$TS_BIN/bench_streams" --port "$NODE_PORT" --ca "$T/pki/node-ca.crt" --cert "$T/bob/device.crt" \
			--key "$T/bob/device.key" --streams "$N" --ready-file "$T/streams.ready" $RESUME \
			--hold $((DURATION + IDLE_S + 600)) --open-timeout "$OPEN_TIMEOUT" 2>>"$T/streams.log" &
		spid=$!
		PIDS+=("$spid")
		i=0
		while [ ! -s "$T/streams.ready" ] && kill -0 "$spid" 2>/dev/null && [ $i -lt $((OPEN_TIMEOUT * 10 + 100)) ]; do
			sleep 0.1; i=$((i + 1))
		done
		if [ ! -s "$T/streams.ready" ]; then
			echo "run.sh: error: $N streams did not open (see $T/streams.log)" >&2
			tail -3 "$T/streams.log" >&2
			exit 1
		fi
		sleep 1
	fi
	rss1=$(rss_kb)
	# The idle window: no event, only the keepalives (every stream gets one
	# per NODE_KEEPALIVE_S = 15 s without a write) and the node's own ticks.
	# Its CPU = base rate x time + cost per keepalive x keepalives; the base
	# rate comes from the N=0 row, the cost per keepalive from this row.
	scrape
	ka0=$(metric tapshare_event_stream_keepalives_total)
	c0=$(node_ms) t0=$(now_s)
	sleep "$IDLE_S"
	c1=$(node_ms) t1=$(now_s)
	scrape
	ka1=$(metric tapshare_event_stream_keepalives_total)
	iw=$(calc "$t1 - $t0" 3)
	ims=$((c1 - c0))
	ika=$((${ka1:-0} - ${ka0:-0}))
	if [ "$N" -eq 0 ] && [ "$r0_set" = 0 ]; then
		r0=$(fmt "$(calc "$ims / $iw" 4)" 4)
		r0_set=1
	fi
	ck=0
	[ "$ika" -gt 0 ] && ck=$(calc "x = ($ims - $r0 * $iw) / $ika; if (x < 0) x = 0; x" 5)
	echo "idle window: $(fmt "$iw" 1) s, node CPU ${ims} ms ($(fmt "$(calc "$ims / $iw")") ms/s), $ika keepalives written" \
		"($(calc "$ika / $iw" 1)/s); base rate $r0 ms/s (N=0 row), $(fmt "$(calc "$ck * 1000" 3)" 1) us of node CPU per keepalive"
	# The flows. bench_flows asks for a snapshot of "call counts" right
	# before and right after its measured flows (--count-file: it creates
	# FILE.req and waits until it is gone); here nothing is LD_PRELOADed, and
	# answer_counts takes the snapshot instead: the node's keepalives and
	# stream reads / writes from /metrics. So the keepalives, reads and
	# writes are those of exactly the window in which bench_flows reads the
	# node's CPU (its "node CPU" and "wall time" lines), warm-up excluded.
	rm -f "$T/sc" "$T/sc.req" "$T/sc.start" "$T/sc.end"
	answer_counts &
	apid=$!
	PIDS+=("$apid")
	out=$(timeout --kill-after=10 $((DURATION + 60)) "${cmd[@]}" --count-file "$T/sc" 2>&1) || rc=$?
	kill "$apid" 2>/dev/null || true
	wait "$apid" 2>/dev/null || true
	printf '%s\n' "$out" | grep -E '^(flows completed|S4->S|node CPU|wall time)'
	cpu=$(sed -n 's/^node CPU: .*total, \([0-9.]*\) ms per flow.*/\1/p' <<<"$out")
	cms=$(sed -n 's/^node CPU: \([0-9.]*\) ms total.*/\1/p' <<<"$out")
	wall=$(sed -n 's/^wall time \([0-9.]*\) s.*/\1/p' <<<"$out")
	pp() { sed -n "s/^$1.* p50 *\([0-9.]*\) ms *p99 *\([0-9.]*\) ms.*/\1 \/ \2/p" <<<"$out"; }
	s5=$(pp 'S4->S5')
	s6=$(pp 'S4->S6 (share')
	per=$([ "$N" -gt 0 ] && calc "($rss1 - $rss0) * 1024 / $N / 1000" 1 || echo -)
	nfl=$(sed -n 's/^flows completed \([0-9]*\),.*/\1/p' <<<"$out")
	snap() { sed -n "s/^$2 \([0-9]*\)$/\1/p" "$T/sc.$1" 2>/dev/null; }
	reads0=$(snap start reads) writes0=$(snap start writes) ka0=$(snap start keepalives)
	reads1=$(snap end reads) writes1=$(snap end writes) ka1=$(snap end keepalives)
	rpf=- wpf=- cpe=- netpf=- idle=- rka=-
	if [ "${nfl:-0}" -gt 0 ] && [ -n "$reads1" ] && [ -n "$writes1" ] && [ -n "$reads0" ] && [ -n "$cms" ] && [ -n "$wall" ]; then
		rka=$((${ka1:-0} - ${ka0:-0}))
		idle=$(fmt "$(calc "$r0 * $wall + $ck * $rka" 3)" 1)
		net=$(fmt "$(calc "$cms - $idle" 3)" 1)
		rpf=$(calc "($reads1 - $reads0) / $nfl" 1)
		wpf=$(calc "($writes1 - $writes0) / $nfl" 1)
		netpf=$(calc "$net / $nfl")
		[ "$writes1" -gt "$writes0" ] && cpe=$(calc "$net / ($writes1 - $writes0)" 3)
		echo "measured flows: ${wall} s, node CPU ${cms} ms, $rka keepalives written meanwhile;" \
			"idle part (base rate x time + keepalives x cost) ${idle} ms; net ${net} ms = $netpf ms per flow," \
			"$cpe ms per event written"
	else
		echo "run.sh: warning: no snapshot of the node's counters around the measured flows" >&2
	fi
	if [ "$N" -gt 0 ] && [ "$cpe" != - ]; then
		[ -z "$cpe100" ] && cpe100=$cpe
		cpe_last=$cpe n_last=$N
	fi
	summary+=("$(printf '| %6d | %8s kB | %5s ms/s, %6s us | %8s ms | %6s | %8s ms | %8s ms | %6s / %6s | %8s ms | %16s ms | %16s ms |' \
		"$N" "$per" "$(fmt "$(calc "$ims / $iw")")" "$(fmt "$(calc "$ck * 1000" 3)" 1)" "${cpu:-?}" "$rka" "$idle" "$netpf" "$rpf" "$wpf" "$cpe" "$s5" "$s6")")
	if [ -n "$spid" ]; then
		scrape
		kae=$(metric tapshare_event_stream_keepalives_total)
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		# the node's count checked from the other end (the flows' own streams get a few too)
		kc=$(sed -n 's/^bench_streams: done: .* \([0-9]*\) keepalives received$/\1/p' "$T/streams.log" | tail -n 1)
		echo "keepalives while the row's streams were open: the node wrote $((${kae:-0} - ${kas:-0})), bench_streams received ${kc:-?}"
		sleep 2
	fi
done
echo "== BENCH_MODE=streams: $(nproc) CPU(s), flows at concurrency $CONC, $FLOWS flows per row, idle window ${IDLE_S} s, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| idle N | RSS per idle stream | idle window: node CPU, per keepalive | node CPU per flow | keepalives during the flows | their idle CPU | net node CPU per flow | stream reads / writes per flow | net node CPU per event written | S4->S5 p50 / p99 | S4->S6 p50 / p99 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
[ "$r0_set" = 1 ] || echo "(no N=0 row: the base idle rate is taken as 0, the keepalives carry all idle CPU)"
if [ -n "$cpe100" ] && [ -n "$n_last" ]; then
	echo "net node CPU per event written: $cpe_last ms at N=$n_last / $cpe100 ms at the first row with streams = $(calc "$cpe_last / $cpe100")x (target <= 1.5x)"
fi
exit "$rc"
