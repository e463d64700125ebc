#!/usr/bin/env bash
# bench/streams_many.sh BUILD_DIR — as many idle authenticated event streams as
# the box holds, across several node processes on ONE port (issue 9 item 2:
# "several processes on one port hold 100,000 on one box").
#
# On 127.0.0.1 in a fresh temporary directory: a private PostgreSQL cluster
# (tests/integration/pglib.sh), MANY_NODES tapshare-node processes sharing one
# node.ini (PostgreSQL, [node] reuse_port = true, one fixed port, each its own
# admin port), bob enrolled once, then ceil(MANY_STREAMS / MANY_PER_CLIENT)
# bench_streams processes, client i connecting from 127.0.0.(10+i) (one
# source address has ~28,000 ephemeral ports toward one port; the fd limit
# is 20,000 per process on either side), each holding MANY_PER_CLIENT
# mutual-TLS GET /v1/events streams. The kernel spreads the connections over
# the node processes (SO_REUSEPORT); each node refuses beyond its own cap (its
# fd limit less 64). Bounded: every client stops opening after MANY_OPEN_TIMEOUT
# seconds and keeps what it holds (--keep-partial); the whole run ends a
# minute after that. Prints, per node, the streams it holds
# (its /metrics tapshare_event_streams) and its RSS growth, then the total
# and the RSS per stream, and the load average.
#
# Environment (all optional):
#   MANY_STREAMS      streams to open in all      (default 100000)
#   MANY_NODES        node processes              (default 7)
#   MANY_PER_CLIENT   streams per client process  (default 15000, at most 19000)
#   MANY_INFLIGHT     handshakes in flight per client (default 32)
#   MANY_OPEN_TIMEOUT seconds for a client to open its streams (default 900)
#   MANY_RESUME       1 (default) = each client's connections after its first resume
#                     that one's TLS session (as returning devices do: no signature or
#                     certificate check per handshake, ~2x faster to open); 0 = full
#                     handshakes
#   MANY_TICKET_KEY   1 (default) = the nodes share one session-ticket key file
#                     ([tls] session_ticket_key), so a ticket issued by one node is
#                     resumed by any other; 0 = a random key per node process (a
#                     resumption then succeeds only on the node that issued the ticket)
#
# Each client prints how many of its connections resumed a session; the
# summary adds them up.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export TS_BIN="$BUILD"
TOTAL=${MANY_STREAMS:-100000}
NODES=${MANY_NODES:-7}
PER=${MANY_PER_CLIENT:-15000}
INFLIGHT=${MANY_INFLIGHT:-32}
OPEN_TIMEOUT=${MANY_OPEN_TIMEOUT:-900}
RESUME=--resume
[ "${MANY_RESUME:-1}" = 1 ] || RESUME=
TICKET_KEY=${MANY_TICKET_KEY:-1}
for v in "$TOTAL" "$NODES" "$PER" "$INFLIGHT" "$OPEN_TIMEOUT"; do
	[[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || { echo "streams_many.sh: error: MANY_* values must be positive integers" >&2; exit 2; }
done
[ "$PER" -le 19000 ] || { echo "streams_many.sh: error: MANY_PER_CLIENT <= 19000 (fd limit 20,000 per process)" >&2; exit 2; }
[ "$NODES" -le 16 ] || { echo "streams_many.sh: error: MANY_NODES <= 16" >&2; exit 2; }
CLIENTS=$(((TOTAL + PER - 1) / PER))
[ "$CLIENTS" -le 200 ] || { echo "streams_many.sh: error: too many client processes" >&2; exit 2; }
for b in tapshare-node tapshare bench_streams; do
	[ -x "$BUILD/$b" ] || { echo "streams_many.sh: error: $BUILD/$b not built" >&2; exit 2; }
done
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/pglib.sh"

pg_start "-c max_connections=$((NODES * 12 + 20))"
URL=$(pg_createdb tsnode)
"$TS_BIN/tapshare-node" testpki "$T/pki" --eid "$EID" --ein 89049032 2>"$T/pki.log"
PORT=$(free_port)
"$TS_BIN/tapshare-node" init --dir "$T/node1" --pki "$T/pki" --listen "127.0.0.1:$PORT" >"$T/node-init.log" 2>&1
sed -i "s|^database = .*|database = ${URL//&/\\&}|" "$T/node1/node.ini"
rm -f "$T/node1/node.db"*
printf 'reuse_port = true\n' >"$T/reuse.line"
sed -i "/^\[node\]/r $T/reuse.line" "$T/node1/node.ini"
if [ "$TICKET_KEY" = 1 ]; then
	head -c 80 /dev/urandom >"$T/node1/ticket.key"
	chmod 600 "$T/node1/ticket.key"
	printf 'session_ticket_key = %s\n' "$T/node1/ticket.key" >"$T/ticket.line"
	sed -i "/^\[tls\]/r $T/ticket.line" "$T/node1/node.ini"
fi
BOB_CODE=$(printf '%s\n' "bob's passphrase 42" | "$TS_BIN/tapshare-node" user add bob --dir "$T/node1" 2>>"$T/node-init.log")
for ((k = 2; k <= NODES; k++)); do cp -a "$T/node1" "$T/node$k"; done
NPIDS=()
ADMIN=()
for ((k = 1; k <= NODES; k++)); do
	a=$(free_port)
	ADMIN+=("$a")
	printf 'admin_listen = 127.0.0.1:%s\n' "$a" >"$T/admin.line"
	sed -i "/^\[node\]/r $T/admin.line" "$T/node$k/node.ini"
	rm -f "$T/node$k/node.port"
	"$TS_BIN/tapshare-node" run --dir "$T/node$k" >>"$T/node$k.log" 2>&1 &
	NPIDS+=("$!")
	PIDS+=("$!")
	wait_file "$T/node$k/node.port" 20 || { tail "$T/node$k.log" >&2; exit 1; }
done
bob enroll --node "https://127.0.0.1:$PORT" --ca "$T/pki/node-ca.crt" --code "$BOB_CODE" --name "idle streams" \
	>"$T/enroll.log" 2>&1
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# CPU seconds used so far: by the given processes; by PostgreSQL (the
# postmaster and its backends); by the whole machine (all cores, /proc/stat)
cpu_of() { [ $# -gt 0 ] && ps -o times= -p "$(IFS=,; echo "$*")" 2>/dev/null | awk '{s += $1} END {print s + 0}' || echo 0; }
pg_cpu() {
	local pm
	pm=$(head -n 1 "$PGD/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
	{ ps -o times= -p "$pm"; ps -o times= --ppid "$pm"; } 2>/dev/null | awk '{s += $1} END {print s + 0}'
}
box_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit}' /proc/stat; }
held() { local t=0 k s; for k in "${!ADMIN[@]}"; do s=$(streams_of "${ADMIN[$k]}"); t=$((t + ${s:-0})); done; echo "$t"; }
streams_of() { curl -s "http://127.0.0.1:$1/metrics" | sed -n 's/^tapshare_event_streams \([0-9]*\)$/\1/p'; }
RSS0=()
for p in "${NPIDS[@]}"; do RSS0+=("$(rss_kb "$p")"); done
echo "== tapshare streams_many: $(nproc) CPU(s), $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)," \
	"fd limit $(ulimit -n); $NODES node processes on 127.0.0.1:$PORT (SO_REUSEPORT, one PostgreSQL), $CLIENTS clients" \
	"x up to $PER streams, load $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s)
n_cpu0=$(cpu_of "${NPIDS[@]}")
pg_cpu0=$(pg_cpu)
box0=$(box_cpu)
CPIDS=()
left=$TOTAL
for ((i = 0; i < CLIENTS; i++)); do
	n=$((left < PER ? left : PER))
	left=$((left - n))
	"$TS_BIN/bench_streams" --port "$PORT" --ca "$T/pki/node-ca.crt" --cert "$T/bob/device.crt" \
		--key "$T/bob/device.key" --streams "$n" --ready-file "$T/ready.$i" --inflight "$INFLIGHT" \
		--source "127.0.0.$((10 + i))" $RESUME --keep-partial --hold $((OPEN_TIMEOUT + 120)) --open-timeout "$OPEN_TIMEOUT" \
		2>"$T/client$i.log" &
	CPIDS+=("$!")
	PIDS+=("$!")
done
# until every client is ready or has given up (each is bounded by --open-timeout);
# every 30 s: the streams held so far and who spent the CPU since the start
# (the node processes, the bench clients, PostgreSQL, the rest of the box)
deadline=$((t0 + OPEN_TIMEOUT + 60))
next_report=$((t0 + 30))
progress() {
	local nc cc pc bc
	nc=$(cpu_of "${NPIDS[@]}")
	cc=$(cpu_of "${CPIDS[@]}")
	pc=$(pg_cpu)
	bc=$(box_cpu)
	printf '# %4d s: %6d streams held; CPU s since the start: nodes %.0f, clients %.0f, PostgreSQL %.0f, rest of the box %.0f (of %.0f core-s); load %s\n' \
		$(($(date +%s) - t0)) "$(held)" "$(echo "$nc - $n_cpu0" | bc)" "$cc" "$(echo "$pc - $pg_cpu0" | bc)" \
		"$(echo "($bc - $box0) - ($nc - $n_cpu0) - $cc - ($pc - $pg_cpu0)" | bc)" "$(echo "($(date +%s) - $t0) * $(nproc)" | bc)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}
while [ "$(date +%s)" -lt "$deadline" ]; do
	if [ "$(date +%s)" -ge "$next_report" ]; then
		progress
		next_report=$((next_report + 30))
	fi
	busy=0
	for i in "${!CPIDS[@]}"; do
		[ -s "$T/ready.$i" ] || ! kill -0 "${CPIDS[$i]}" 2>/dev/null || busy=1
	done
	[ "$busy" = 0 ] && break
	sleep 2
done
t1=$(date +%s)
sleep 2
progress
total=0
rss=0
echo "| node | streams held | RSS growth | per stream |"
echo "|---|---|---|---|"
for k in "${!NPIDS[@]}"; do
	s=$(streams_of "${ADMIN[$k]}")
	r=$(($(rss_kb "${NPIDS[$k]}") - RSS0[k]))
	total=$((total + ${s:-0}))
	rss=$((rss + r))
	printf '| %d | %s | %.1f MiB | %s kB |\n' $((k + 1)) "${s:-?}" "$(echo "$r / 1024" | bc -l)" \
		"$([ "${s:-0}" -gt 0 ] && echo "scale=1; $r * 1024 / $s / 1000" | bc || echo -)"
done
opened=0
resumed=0
for i in "${!CPIDS[@]}"; do
	o=$(sed -n 's/^bench_streams: \([0-9]*\) streams open.*/\1/p' "$T/client$i.log")
	u=$(sed -n 's/^bench_streams: [0-9]* streams open (\([0-9]*\) resumed.*/\1/p' "$T/client$i.log")
	opened=$((opened + ${o:-0}))
	resumed=$((resumed + ${u:-0}))
	grep -h 'error' "$T/client$i.log" | head -n 1 | sed "s/^/# client $i: /" || true
done
echo "== $total of $TOTAL streams held by $NODES node processes (clients report $opened open, $resumed of them resumed a TLS session; ticket key shared: $TICKET_KEY) after $((t1 - t0)) s;" \
	"node RSS growth $((rss / 1024)) MiB in all, $([ "$total" -gt 0 ] && echo "scale=1; $rss * 1024 / $total / 1000" | bc || echo -) kB per stream;" \
	"load $(cut -d' ' -f1-3 /proc/loadavg); memory available $(awk '/MemAvailable/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
for i in "${!CPIDS[@]}"; do kill "${CPIDS[$i]}" 2>/dev/null || true; done
for i in "${!CPIDS[@]}"; do wait "${CPIDS[$i]}" 2>/dev/null || true; done
[ "$total" -ge "$TOTAL" ]
