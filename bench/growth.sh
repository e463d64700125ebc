#!/usr/bin/env bash
# bench/growth.sh BUILD_DIR — throughput as the store grows, and on PostgreSQL
# (issue 9 items 3-4). For each backend and each store size N it sets up a
# fresh node exactly as bench/run.sh does, first fills the store with N
# synthetic FINISHED shares (bench/fill_sqlite.sql / bench/fill_pg.sql: bulk
# INSERT ... SELECT, explicit indexes built after; each share with 5 events, 2 commands, 2 outbox rows, a
# download session and an idempotency record), then runs the flows with
# BUILD_DIR/bench_flows (the same driver as bench/run.sh) and prints
# flows/s, node CPU per flow and, on PostgreSQL, the server's CPU per flow and
# how often a backend waited for a lock (pg_stat_activity sampled every 100 ms).
# The last table compares each row with the first size of its backend and
# PostgreSQL with SQLite at the same size: ratios measured in the same run.
#
# Environment (all optional):
#   GROWTH_SIZES     stored finished shares before the flows (default "10000 1000000")
#   GROWTH_BACKENDS  sqlite and/or pg                          (default "sqlite pg")
#   GROWTH_NODES     node processes on the one PostgreSQL, a list of counts 1..3
#                    (default "1"; e.g. "1 2 3" gives one row per count): without
#                    HAProxy they share one port (reuse_port: one SM-DP+ address)
#                    and the flows are split between as many drivers (CONC / nodes
#                    EIDs each, so CONC must divide), whose connections the kernel
#                    spreads over the nodes
#   GROWTH_HAPROXY   1 = the nodes sit behind HAProxy on 127.0.0.1 (TCP mode, mutual
#                    TLS passes through, balance roundrobin per connection; the
#                    set-up of tests/integration/test_pg_scaleout.sh): one driver
#                    with every EID dials HAProxy, so a companion's stream, the
#                    share and its cancel land on whichever node the connection
#                    reached and cross-node wake-ups go through LISTEN/NOTIFY
#   GROWTH_USERS     primaries (users, each with its own app and device): with
#                    HAProxy one driver per user, each with CONC / USERS EIDs
#                    (default 1; one user was the worst case for lock waits while
#                    every event of a user took that user's lock; on PostgreSQL
#                    there is none now); without HAProxy driver i is user
#                    i % USERS, and the default is one user per driver, so that
#                    each primary's event stream carries its own flows' events
#                    as the one driver's does in the 1-node row (with one user
#                    for two drivers every event was read and written to two
#                    primary streams: 2 nodes did twice the delivery work per
#                    flow of 1 node; GROWTH_USERS=1 measures that case)
#   GROWTH_FLOWS     measured flows per row (default 100), GROWTH_WARMUP (default 8)
#   GROWTH_CONCURRENCY worker threads = companions (default 4, even, at most 16)
#   GROWTH_DURATION  limit per row in seconds (default 120)
#   GROWTH_EXPLAIN_DIR a directory: the nodes' query plans per row (see below)
#   GROWTH_SAMPLE_MS the wait sampler's period on PostgreSQL (default 250; it costs
#                    the server ~0.5-1 ms of CPU per sample, printed apart)
#   GROWTH_PG_STATEMENTS 1 = load pg_stat_statements and print, per flow, the
#                    calls, plans (a prepared statement planned at each call
#                    shows as many plans as calls) and server time (planning +
#                    executing) of the busiest statements
#   GROWTH_PG_SENDS  1 = count the nodes' send(2) calls to PostgreSQL (its unix
#                    socket: one per round trip, libpq writes a pipeline with
#                    one) with strace during the flows, printed per flow and per
#                    thread; strace slows the nodes, so that row's flows/s and
#                    CPU are not comparable
#   GROWTH_PG_LOG    a file: every statement the server ran (log_statement=all,
#                    each line led by the backend's pid and application name) is
#                    copied there, to read a flow's round trips in order
# On PostgreSQL every row also prints, per flow: transactions committed
# (pg_stat_database), WAL records / bytes / flushes (pg_stat_wal) and the
# statements the server ran (pg_stat_statements when loaded).
# The private PostgreSQL cluster runs with fsync=on and synchronous_commit=on
# (the same durability as SQLite's synchronous=FULL), on a unix socket only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export TS_BIN="$BUILD"
SIZES=${GROWTH_SIZES:-10000 1000000}
BACKENDS=${GROWTH_BACKENDS:-sqlite pg}
NODES=${GROWTH_NODES:-1}
HAPROXY=${GROWTH_HAPROXY:-0}
USERS=${GROWTH_USERS:-1}
USERS_SET=${GROWTH_USERS:+1}
FLOWS=${GROWTH_FLOWS:-100}
WARMUP=${GROWTH_WARMUP:-8}
CONC=${GROWTH_CONCURRENCY:-4}
DURATION=${GROWTH_DURATION:-120}
STATEMENTS=${GROWTH_PG_STATEMENTS:-0}
SAMPLE_MS=${GROWTH_SAMPLE_MS:-250}
SAMPLE_S=$(printf '%d.%03d' $((SAMPLE_MS / 1000)) $((SAMPLE_MS % 1000)))
for v in $SIZES $NODES "$USERS" "$FLOWS" "$WARMUP" "$CONC" "$DURATION" "$SAMPLE_MS"; do
	[[ "$v" =~ ^[0-9]+$ ]] || { echo "growth.sh: error: GROWTH_* values must be integers" >&2; exit 2; }
done
for k in $NODES; do
	[ "$k" -ge 1 ] && [ "$k" -le 3 ] || { echo "growth.sh: error: GROWTH_NODES: counts 1..3" >&2; exit 2; }
	[ "$HAPROXY" = 1 ] || [ $((CONC % k)) -eq 0 ] ||
		{ echo "growth.sh: error: GROWTH_CONCURRENCY must be a multiple of each node count (or GROWTH_HAPROXY=1)" >&2; exit 2; }
done
[ "$USERS" -ge 1 ] && [ "$USERS" -le 8 ] && [ $((CONC % USERS)) -eq 0 ] ||
	{ echo "growth.sh: error: GROWTH_USERS must be 1..8 and divide GROWTH_CONCURRENCY" >&2; exit 2; }
[ "$HAPROXY" = 0 ] || [ -x /usr/sbin/haproxy ] || { echo "growth.sh: error: GROWTH_HAPROXY=1 needs /usr/sbin/haproxy" >&2; exit 2; }
if [ "$CONC" -lt 2 ] || [ "$CONC" -gt 16 ] || [ $((CONC % 2)) -ne 0 ]; then
	echo "growth.sh: error: GROWTH_CONCURRENCY must be even, 2..16" >&2
	exit 2
fi
for b in tapshare-node tapshare-sp tapshare bench_flows; do
	[ -x "$BUILD/$b" ] || { echo "growth.sh: error: $BUILD/$b not built" >&2; exit 2; }
done

# ---- one row: growth.sh BUILD --row BACKEND N --------------------------------
if [ "${2:-}" = --row ]; then
	BACKEND=$3
	N=$4
	K=${5:-1}
	[ "$BACKEND" = pg ] || K=1
	# (see GROWTH_USERS: by default one user per driver without HAProxy)
	[ -n "$USERS_SET" ] || [ "$HAPROXY" = 1 ] || USERS=$K
	. "$ROOT/tests/integration/lib.sh"
	if [ "$BACKEND" = pg ]; then
		. "$ROOT/tests/integration/pglib.sh"
	fi
	SEDIR=$(mktemp -d /dev/shm/tapshare-growth-se.XXXXXX)
	row_cleanup() {
		local rc=$?
		set +e
		[ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null && wait "$SAMPLER" 2>/dev/null
		[ -n "${HAP_PID:-}" ] && kill "$HAP_PID" 2>/dev/null && wait "$HAP_PID" 2>/dev/null
		rm -rf "$SEDIR"
		(exit "$rc")
		if [ "$BACKEND" = pg ]; then pg_cleanup; else ts_cleanup; fi
	}
	trap row_cleanup EXIT
	eid_with_check() {
		local s=$1 r=0 i
		for ((i = 0; i < ${#s}; i++)); do r=$(((r * 10 + ${s:i:1}) % 97)); done
		printf '%s%02d' "$s" $((98 - (r * 100) % 97))
	}
	EIDS=()
	for ((k = 0; k < CONC; k++)); do EIDS+=("$(eid_with_check "89049032$(printf '%022d' $((7700 + k)))")"); done
	pki_args=()
	for e in "${EIDS[@]}"; do pki_args+=(--eid "$e"); done
	"$TS_BIN/tapshare-node" testpki "$T/pki" "${pki_args[@]}" --ein 89049032 2>"$T/pki.log"
	ts_start_sp
	now=$(date +%s)
	if [ "$BACKEND" = pg ]; then
		pg_start "-c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_connections=200 -c max_wal_size=4GB$(
			[ "$STATEMENTS" = 1 ] && echo ' -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on')$(
			[ -n "${GROWTH_PG_LOG:-}" ] && echo " -c log_statement=all -c log_line_prefix='%p|%a|'")"
		URL=$(pg_createdb tsnode)
		"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
		sed -i "s|^database = .*|database = ${URL//&/\\&}|" "$T/node/node.ini"
		rm -f "$T/node/node.db"*
	else
		"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
	fi
	# the bench's companions all come from 127.0.0.1: raise the per-address
	# caps as bench/run.sh does, where this build knows them ([limits])
	cp "$T/node/node.ini" "$T/limits.ini"
	printf '[limits]\nes9_sessions_per_peer_per_min = 1000000\nstreams_per_peer = 100000\n' >>"$T/limits.ini"
	if "$TS_BIN/tapshare-node" check --config "$T/limits.ini" >/dev/null 2>&1; then
		cp "$T/limits.ini" "$T/node/node.ini"
	fi
	"$TS_BIN/tapshare-node" provider add operator "https://127.0.0.1:$SP_PORT" --dir "$T/node" 2>>"$T/node-init.log"
	ALICE_CODE=$(printf '%s\n' "$PASS" | "$TS_BIN/tapshare-node" user add alice --dir "$T/node" 2>>"$T/node-init.log")
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-alice --name "Alice mobile" \
		--kind sim --provider operator 2>>"$T/node-init.log"
	UCODES=()
	for ((u = 1; u < USERS; u++)); do
		UCODES+=("$(printf '%s\n' "$PASS" | "$TS_BIN/tapshare-node" user add "u$u" --dir "$T/node" 2>>"$T/node-init.log")")
		"$TS_BIN/tapshare-node" app add --dir "$T/node" --user "u$u" --app-id "sim-u$u" --name "U$u mobile" \
			--kind sim --provider operator 2>>"$T/node-init.log"
	done
	t0=$(date +%s%N)
	if [ "$BACKEND" = pg ]; then
		nidx() { "$PGBIN/psql" -X -A -t -q -h "$PGD" -U postgres -d tsnode -c \
			"SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'public'"; }
		idx0=$(nidx)
		# (fill_pg.sql drops the explicit indexes and builds them at its end)
		"$PGBIN/psql" -X -q -h "$PGD" -U postgres -d tsnode -v n="$N" -v updated="$now" \
			-f "$ROOT/bench/fill_pg.sql" >"$T/fill.log" 2>&1 || { cat "$T/fill.log" >&2; exit 1; }
		"$PGBIN/psql" -X -q -h "$PGD" -U postgres -d tsnode -c CHECKPOINT >/dev/null
		[ "$(nidx)" = "$idx0" ] || { echo "growth.sh: error: indexes not rebuilt after the fill" >&2; exit 1; }
	else
		NU=$((N / 5 > 1000 ? N / 5 : 1000))
		db="$T/node/node.db"
		# explicit indexes off during the fill, rebuilt at its end (same transaction)
		sqlite3 "$db" "SELECT sql || ';' FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL" >"$T/indexes.sql"
		sqlite3 "$db" "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL" |
			sqlite3 "$db"
		sed -e "s/@N@/$N/g" -e "s/@NU@/$NU/g" -e "s/@UPDATED@/$now/g" -e "/^-- @INDEXES@/r $T/indexes.sql" \
			"$ROOT/bench/fill_sqlite.sql" | sqlite3 "$db" >"$T/fill.log" 2>&1
		[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")" = \
			"$(wc -l <"$T/indexes.sql")" ] || { echo "growth.sh: error: indexes not rebuilt after the fill" >&2; exit 1; }
	fi
	fill_ms=$((($(date +%s%N) - t0) / 1000000))
	# behind HAProxy every node names HAProxy's address as its own (the
	# companion checks that the node signs the address it dialled)
	if [ "$HAPROXY" = 1 ]; then
		HAP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		HAP_URL="https://127.0.0.1:$HAP_PORT"
		sed -i "s|^address =.*|address = $HAP_URL|" "$T/node/node.ini"
		grep -q "^address = $HAP_URL" "$T/node/node.ini" || sed -i "/^\[node\]/a address = $HAP_URL" "$T/node/node.ini"
	fi
	# Nodes on one database are one SM-DP+, with one address: a download
	# command names the address of the node whose outbox worker wrote it,
	# and a node refuses an smdpAddress not its own (SGP.22 5.6.1). Behind
	# HAProxy that is HAProxy's; without it the nodes share one port
	# (reuse_port, SO_REUSEPORT: the kernel spreads the connections over
	# them). (With a port and address each, a share authorised by the other
	# node's worker was refused by the companion's node: the flow stalled
	# until the driver's timeout.)
	if [ "$K" -gt 1 ] && [ "$HAPROXY" != 1 ]; then
		PORT1=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		sed -i "s|^listen = .*|listen = 127.0.0.1:$PORT1|" "$T/node/node.ini"
		sed -i "/^\[node\]/a reuse_port = true" "$T/node/node.ini"
	fi
	# GROWTH_EXPLAIN_DIR: each node's query plans (TAPSHARE_STORE_EXPLAIN, a
	# build with test hooks) in DIR/BACKEND-N.plans, a "== row" line first
	if [ -n "${GROWTH_EXPLAIN_DIR:-}" ]; then
		export TAPSHARE_STORE_EXPLAIN="$GROWTH_EXPLAIN_DIR/$BACKEND-$N.plans"
		echo "== row $BACKEND $N $(date -u +%FT%TZ)" >>"$TAPSHARE_STORE_EXPLAIN"
	fi
	# more nodes: the same configuration and key, their own port files
	for ((k = 2; k <= K; k++)); do cp -a "$T/node" "$T/node$k"; done
	ts_start_node
	NODE_URLS=("$NODE_URL")
	NODE_PIDS=("$NODE_PID")
	for ((k = 2; k <= K; k++)); do
		rm -f "$T/node$k/node.port"
		"$TS_BIN/tapshare-node" run --dir "$T/node$k" >>"$T/node$k.log" 2>&1 &
		NODE_PIDS+=("$!")
		PIDS+=("$!")
		wait_file "$T/node$k/node.port" 10
		NODE_URLS+=("https://127.0.0.1:$(cat "$T/node$k/node.port")")
	done
	if [ "$HAPROXY" = 1 ]; then
		{
			printf 'global\n\tmaxconn 4096\ndefaults\n\tmode tcp\n\ttimeout connect 2s\n'
			printf '\ttimeout client 120s\n\ttimeout server 120s\n\tretries 3\n\toption redispatch\n'
			printf 'frontend nodes_in\n\tbind 127.0.0.1:%s\n\tdefault_backend nodes\n' "$HAP_PORT"
			printf 'backend nodes\n\tbalance roundrobin\n'
			for i in "${!NODE_URLS[@]}"; do
				printf '\tserver n%d %s check inter 500ms\n' "$i" "${NODE_URLS[$i]#https://}"
			done
		} >"$T/haproxy.cfg"
		/usr/sbin/haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 || { cat "$T/haproxy.log" >&2; exit 1; }
		/usr/sbin/haproxy -db -f "$T/haproxy.cfg" >>"$T/haproxy.log" 2>&1 &
		HAP_PID=$!
		for i in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$HAP_PORT") 2>/dev/null && break; sleep 0.1; done
		DRIVE_URLS=()
		for ((u = 0; u < USERS; u++)); do DRIVE_URLS+=("$HAP_URL"); done
	else
		DRIVE_URLS=("${NODE_URLS[@]}")
	fi
	alice enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$ALICE_CODE" --name "bench phone" \
		>"$T/enroll.log" 2>&1
	for ((u = 1; u < USERS; u++)); do
		"$TS_BIN/tapshare" --home "$T/u$u" enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" \
			--code "${UCODES[$((u - 1))]}" --name "bench phone $u" >>"$T/enroll.log" 2>&1
	done
	cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime of one process
	# The cluster's CPU, split: "all backends total sampler background ended"
	# in ticks. backends: the client connections (the nodes' store and LISTEN
	# connections); sampler: the wait sampler's session; background: the
	# walwriter, checkpointer, background writer, autovacuum and the
	# launchers; ended: children that ended during the row (autovacuum
	# workers, this script's own psql queries: the postmaster's reaped
	# children, cutime + cstime) and the postmaster itself.
	pg_split() {
		local pm p t args b=0 sm=0 g=0 e
		pm=$(head -n 1 "$PGD/data/postmaster.pid")
		e=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
		while read -r p args; do
			t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || continue
			[ -n "$t" ] || continue
			if [ "$p" = "${SAMPLER_PID:-}" ]; then sm=$((sm + t))
			elif [[ "$args" == *"[local]"* ]]; then b=$((b + t))
			else g=$((g + t)); fi
		done < <(ps -o pid=,args= --ppid "$pm")
		echo "$((b + sm + g + e)) $b $sm $g $e"
	}
	if [ "$BACKEND" = pg ]; then
		# waits: a sample every GROWTH_SAMPLE_MS of what every active backend waits
		# for (pg_stat_activity: heavyweight "Lock" waits, with the statement,
		# LWLock, IO ...) and which locks are not granted (pg_locks: type,
		# class / database, object, mode) — the NOTIFY queue lock shows as
		# an "object" lock on database 0, class 1262 (pg_database)
		# (one psql session for all the samples: a connection per sample
		# made the postmaster fork a backend ten times a second, CPU that
		# only the PostgreSQL rows paid)
		sample_sql="SELECT COUNT(*) FILTER (WHERE wait_event_type = 'Lock'), COUNT(*), string_agg(wait_event || ': ' || left(query, 70), '; ') FILTER (WHERE wait_event_type = 'Lock'), string_agg(coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-'), ','), (SELECT string_agg(locktype || ' db ' || coalesce(database::text, '-') || ' class ' || coalesce(classid::text, '-') || ' obj ' || coalesce(objid::text, '-') || ' ' || mode, ',') FROM pg_locks WHERE NOT granted) FROM pg_stat_activity WHERE datname = 'tsnode' AND state = 'active' AND pid <> pg_backend_pid();"
		# (psql's own \watch repeats it: no process per sample; the query
		# itself still costs the server CPU, printed apart below)
		PGAPPNAME=growth-sampler "$PGBIN/psql" -X -A -t -q -h "$PGD" -U postgres -d tsnode \
			< <(printf '%s\n\\watch %s\n' "$sample_sql" "$SAMPLE_S") >>"$T/locks.txt" 2>/dev/null &
		SAMPLER=$!
		SAMPLER_PID=
		for i in $(seq 50); do
			SAMPLER_PID=$("$PGBIN/psql" -X -A -t -q -h "$PGD" -U postgres -d tsnode -c \
				"SELECT pid FROM pg_stat_activity WHERE application_name = 'growth-sampler'")
			[ -n "$SAMPLER_PID" ] && break
			sleep 0.1
		done
	fi
	hz=$(getconf CLK_TCK)
	pgq() { "$PGBIN/psql" -X -A -t -q -h "$PGD" -U postgres -d tsnode -c "$1"; }
	pg_counters() { # commits of tsnode, WAL records, bytes, flushes
		pgq "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = 'tsnode') || ' ' || wal_records || ' ' || wal_bytes || ' ' || wal_sync FROM pg_stat_wal"
	}
	if [ "$BACKEND" = pg ]; then
		if [ "$STATEMENTS" = 1 ]; then
			pgq "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
			pgq "SELECT pg_stat_statements_reset()" >/dev/null
		fi
		c0=$(pg_counters)
	fi
	# (after this script's own queries above: their backends have ended)
	n0=0
	for p in "${NODE_PIDS[@]}"; do n0=$((n0 + $(cpu_ticks "$p"))); done
	p0=$([ "$BACKEND" = pg ] && pg_split || echo "0 0 0 0 0")
	if [ "$BACKEND" = pg ] && [ "${GROWTH_PG_SENDS:-0}" = 1 ]; then
		spids=()
		for p in "${NODE_PIDS[@]}"; do
			strace -f -qq -yy -e trace=sendto -e signal=none -o "$T/sends.$p" -p "$p" 2>/dev/null &
			spids+=("$!")
		done
		sleep 1
	fi
	t0=$(date +%s%N)
	per=$((CONC / ${#DRIVE_URLS[@]}))
	bpids=()
	for i in "${!DRIVE_URLS[@]}"; do
		eids=()
		for ((k = i * per; k < (i + 1) * per; k++)); do eids+=(--eid "${EIDS[$k]}"); done
		u=$((i % USERS))
		home="$T/alice"
		app=sim-alice
		if [ "$u" -gt 0 ]; then home="$T/u$u"; app="sim-u$u"
		elif [ "$i" -gt 0 ]; then home="$T/alice$i"; cp -a "$T/alice" "$home"; fi
		mkdir -p "$SEDIR/$i"
		timeout --kill-after=10 $((DURATION + 60)) "$TS_BIN/bench_flows" --node "${DRIVE_URLS[$i]}" \
			--ca "$T/pki/node-ca.crt" --home-dir "$home" --se-dir "$SEDIR/$i" --pki "$T/pki" "${eids[@]}" \
			--app "$app" --flows $((FLOWS / ${#DRIVE_URLS[@]})) --concurrency "$per" --warmup "$WARMUP" \
			--cleanup delete --node-pid "${NODE_PIDS[$((i % ${#NODE_PIDS[@]}))]}" --sp-pid "$SP_PID" --duration-limit "$DURATION" \
			>"$T/bench$i.out" 2>&1 &
		bpids+=("$!")
	done
	rc=0
	for p in "${bpids[@]}"; do wait "$p" || rc=1; done
	wall_ms=$((($(date +%s%N) - t0) / 1000000))
	for p in ${spids[@]:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	n1=0
	for p in "${NODE_PIDS[@]}"; do n1=$((n1 + $(cpu_ticks "$p"))); done
	p1=$([ "$BACKEND" = pg ] && pg_split || echo "0 0 0 0 0")
	[ "$BACKEND" = pg ] && c1=$(pg_counters)
	[ "$BACKEND" = pg ] && [ -n "${GROWTH_PG_LOG:-}" ] && cp "$PGD/server.log" "$GROWTH_PG_LOG"
	[ -n "${SAMPLER:-}" ] && { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=; }
	done_flows=0
	for i in "${!DRIVE_URLS[@]}"; do
		grep -E '^(flows completed|wall time|node CPU)' "$T/bench$i.out" | sed "s/^/#   driver $((i + 1)): /" >&2 || true
		d=$(sed -n 's/^flows completed \([0-9]*\),.*/\1/p' "$T/bench$i.out")
		done_flows=$((done_flows + ${d:-0}))
	done
	# warm-up flows are included in the CPU totals but not in done_flows: the
	# per-flow CPU below counts them in (WARMUP per driver)
	all=$((done_flows + WARMUP * ${#DRIVE_URLS[@]}))
	[ "$all" -gt 0 ] || all=1
	fs=$(grep -h '^wall time' "$T"/bench*.out | sed -n 's/.*, \([0-9.]*\) flows\/s.*/\1/p' | paste -sd+ | bc)
	ncpu=$(echo "scale=2; ($n1 - $n0) * 1000 / $hz / $all" | bc)
	pcpu=-
	pback=-
	read -r pt0 pb0 ps0 pg0 pe0 <<<"$p0"
	read -r pt1 pb1 ps1 pg1 pe1 <<<"$p1"
	ms() { echo "scale=2; ($1) * 1000 / $hz / $all" | bc; }
	if [ "$BACKEND" = pg ]; then
		pcpu=$(ms "$pt1 - $pt0")
		pback=$(ms "$pb1 - $pb0")
		echo "#   PostgreSQL CPU per flow: $pcpu ms = backends (the nodes' connections) $pback" \
			"+ wait sampler $(ms "$ps1 - $ps0") + background (walwriter, checkpointer, bgwriter, autovacuum)" \
			"$(ms "$pg1 - $pg0") + ended children and postmaster $(ms "$pe1 - $pe0")" >&2
	fi
	if [ "$BACKEND" = pg ]; then
		read -r x0 r0 b0 f0 <<<"$c0"
		read -r x1 r1 b1 f1 <<<"$c1"
		samples=$(wc -l <"$T/locks.txt" 2>/dev/null || echo 0)
		echo "#   per flow: $(echo "scale=1; ($x1 - $x0) / $all" | bc) commits (tsnode; without the sampler's" \
			"$samples: $(echo "scale=1; ($x1 - $x0 - $samples) / $all" | bc), read-only ones included)," \
			"WAL $(echo "scale=1; ($r1 - $r0) / $all" | bc) records $(echo "($b1 - $b0) / $all" | bc) bytes" \
			"$(echo "scale=1; ($f1 - $f0) / $all" | bc) flushes" >&2
		if [ "$STATEMENTS" = 1 ]; then
			echo "#   statements per flow (calls, plans, server ms planning + executing; the 40 most called):" >&2
			pgq "SELECT round(calls::numeric / $all, 2) || ' | ' || round(plans::numeric / $all, 2) || ' | ' || round((total_exec_time + total_plan_time)::numeric / $all, 3) || ' | ' || left(regexp_replace(query, '\s+', ' ', 'g'), 150) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_activity%' ORDER BY calls DESC LIMIT 40" |
				sed 's/^/#     /' >&2
			echo "#   all statements per flow: $(pgq "SELECT round(sum(calls)::numeric / $all, 1) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_activity%'")" >&2
		fi
	fi
	if [ -n "${spids:-}" ]; then
		# (sends.<pid> only: the output sends.pg, created by the redirection
		# while cat expands its glob, matched sends.* and was read while it
		# grew: a 49 GB file once)
		cat "$T"/sends.[0-9]* | grep 'sendto([0-9]*<UNIX' >"$T/sends.pg" || true
		echo "#   sends to PostgreSQL per flow (round trips): $(echo "scale=1; $(wc -l <"$T/sends.pg") / $all" | bc);" \
			"busiest threads: $(cut -d' ' -f1 "$T/sends.pg" | sort | uniq -c | sort -rn | head -n 4 |
				awk -v a="$all" '{printf "%s%.1f", (NR > 1 ? ", " : ""), $1 / a}')" >&2
	fi
	waits=-
	if [ -s "$T/locks.txt" ]; then
		waits=$(awk -F'|' '{s++; if ($1 > 0) w++} END {printf "%d/%d", w, s}' "$T/locks.txt")
	fi
	if [ -s "$T/locks.txt" ]; then
		awk -F'|' '$1 > 0 { print $3 }' "$T/locks.txt" | head -n 5 | sed 's/^/#   lock wait: /' >&2
		# every sampled wait of an active backend, most frequent first
		echo "#   sampled waits ($(wc -l <"$T/locks.txt") samples, active backends): $(cut -d'|' -f4 "$T/locks.txt" |
			tr ',' '\n' | grep -v '^$' | sort | uniq -c | sort -rn | head -n 8 | awk '{printf "%s%s %d", (NR > 1 ? ", " : ""), $2, $1}')" >&2
		echo "#   locks not granted (pg_locks): $(cut -d'|' -f5 "$T/locks.txt" | tr ',' '\n' | grep -v '^$' |
			sort | uniq -c | sort -rn | head -n 4 | awk '{c=$1; $1=""; printf "%s%s x%d", (NR > 1 ? ";" : ""), $0, c}')" >&2
	fi
	echo "ROW $BACKEND $N ${#NODE_URLS[@]} ${fs:-0} $ncpu $pcpu $waits $fill_ms $done_flows $pback"
	exit "$rc"
fi

# ---- the table ----------------------------------------------------------------
echo "== tapshare growth bench: $(nproc) CPU(s), $(uname -sr), build $(basename "$BUILD"), $FLOWS flows per row," \
	"concurrency $CONC, $([ -n "$USERS_SET" ] || [ "$HAPROXY" = 1 ] && echo "$USERS user(s)" || echo "one user per driver"), node process(es) on PostgreSQL: $NODES$([ "$HAPROXY" = 1 ] && echo ', behind HAProxy')," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for b in $BACKENDS; do
	for n in $SIZES; do
		ks=$NODES
		[ "$b" = pg ] || ks=1
		for k in $ks; do
			echo "== $b, $n stored finished shares, $k node(s)$([ "$HAPROXY" = 1 ] && [ "$b" = pg ] && echo ' behind HAProxy')" >&2
			out=$(bash "$0" "$BUILD" --row "$b" "$n" "$k" 2>&1) || true
			# (a failed row has no ROW line: under pipefail the grep's status
			# would end the whole script, its output unshown)
			row=$(grep '^ROW ' <<<"$out" | tail -n 1 || true)
			[ -n "$row" ] || { echo "$out" | tail -n 30 >&2; row="ROW $b $n $k 0 0 - - 0 0 -"; }
			grep '^#' <<<"$out" >&2 || true
			rows+=("${row#ROW } $(cut -d' ' -f1 /proc/loadavg)")
		done
	done
done
printf '| backend | nodes | stored shares | fill s | flows | flows/s | node CPU ms/flow | PG CPU ms/flow | of it PG backends | lock-wait samples | vs first size | vs SQLite | vs 1 node: flows/s, node CPU | load after |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
declare -A first sq one onecpu
ratio() { [ -n "$2" ] && [ "$2" != 0 ] && echo "scale=2; $1 / $2" | bc 2>/dev/null || echo -; }
for r in "${rows[@]}"; do
	read -r b n nodes fs ncpu pcpu waits fill done_flows pback load <<<"$r"
	[ -z "${first[$b]:-}" ] && first[$b]=$fs
	[ "$b" = sqlite ] && sq[$n]=$fs
	[ "$nodes" = 1 ] && { one[$b$n]=$fs; onecpu[$b$n]=$ncpu; }
	vf=$(ratio "$fs" "${first[$b]}")
	vs=-
	[ "$b" = pg ] && vs=$(ratio "$fs" "${sq[$n]:-}")
	vn=-
	[ "$nodes" != 1 ] && [ -n "${one[$b$n]:-}" ] && vn="$(ratio "$fs" "${one[$b$n]}")x, $(ratio "$ncpu" "${onecpu[$b$n]}")x"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %sx | %sx | %s | %s |\n' "$b" "$nodes" "$n" \
		"$(echo "scale=1; $fill / 1000" | bc 2>/dev/null || echo ?)" "$done_flows" "$fs" "$ncpu" "$pcpu" "$pback" "$waits" \
		"$vf" "$vs" "$vn" "$load"
done
