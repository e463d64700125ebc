#!/usr/bin/env bash
# The PostgreSQL store backend (ARCHITECTURE: "SQLite by default, PostgreSQL
# for scale"): a private PostgreSQL cluster in a temporary directory, reached
# over a unix socket only (listen_addresses='', no TCP); the node store unit
# tests run against it, then the full share + cancel happy path runs with the
# node's database on it. The cluster is stopped by pg_ctl and removed.
. "$(dirname "$0")/lib.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
	fail "PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin) are missing: run scripts/bootstrap.sh (Debian package postgresql)"
	exit 1
fi
if ! id postgres >/dev/null 2>&1; then
	fail "no 'postgres' OS user (the Debian postgresql package creates it): run scripts/bootstrap.sh"
	exit 1
fi

# The server refuses to run as root: the cluster belongs to the postgres user.
PGD=$(mktemp -d /tmp/tapshare-pg.XXXXXX)
chown postgres: "$PGD"
chmod 700 "$PGD"
PG_UP=0
pg() { runuser -u postgres -- "$@"; }
pg_stop() {
	if [ "$PG_UP" -eq 1 ]; then
		pg "$PGBIN/pg_ctl" -D "$PGD/data" -m fast -w -t 30 stop >>"$PGD/pg_ctl.log" 2>&1 ||
			fail "PostgreSQL stops"
		PG_UP=0
	fi
	[ -f "$PGD/server.log" ] && cp "$PGD/server.log" "$T/postgres.log" 2>/dev/null
	rm -rf "$PGD"
}
# lib.sh's cleanup stops our programs; the node must be gone before the
# database server it uses.
eval "lib_$(declare -f ts_cleanup)"
pg_cleanup() {
	local rc=$?
	set +e
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && ts_stop "$p"
	done
	PIDS=()
	pg_stop
	(exit "$rc")
	lib_ts_cleanup
}
trap pg_cleanup EXIT

pg "$PGBIN/initdb" -D "$PGD/data" -U postgres -A trust -E UTF8 --no-sync >"$PGD/initdb.log" 2>&1 ||
	{ cat "$PGD/initdb.log"; fail "initdb"; exit 1; }
pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 30 \
	-o "-c listen_addresses='' -k $PGD -c fsync=off" start >"$PGD/pg_ctl.log" 2>&1 ||
	{ cat "$PGD/pg_ctl.log" "$PGD/server.log" 2>/dev/null; fail "PostgreSQL starts"; exit 1; }
PG_UP=1
expect "PostgreSQL listens on its unix socket only" [ -S "$PGD/.s.PGSQL.5432" ]
pg "$PGBIN/createdb" -h "$PGD" -U postgres tsunit
pg "$PGBIN/createdb" -h "$PGD" -U postgres tsnode
PGURL_UNIT="postgresql:///tsunit?host=$PGD&user=postgres"
PGURL_NODE="postgresql:///tsnode?host=$PGD&user=postgres"
psql_node() { "$PGBIN/psql" -X -A -t -q -h "$PGD" -U postgres -d tsnode -c "$1"; }
expect "no TCP listener (listen_addresses is empty)" [ "$(psql_node 'SHOW listen_addresses')" = "" ]

# 1. the store unit tests, both backends
if TS_PG_URL="$PGURL_UNIT" timeout 120 "$TS_BIN/unit_node_test_store" >"$T/unit.log" 2>&1; then
	ok "store unit tests pass on SQLite and PostgreSQL"
else
	fail "store unit tests pass on SQLite and PostgreSQL"
	grep -E '^\[|FAIL|error' "$T/unit.log" | tail -n 40
fi
# as many as the suite registers (one cmocka_unit_test_setup_teardown each)
NSTORE=$(grep -c 'cmocka_unit_test_setup_teardown' "${TS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/unit/node/test_store.c")
# (a SQLite-only test skips itself on PostgreSQL: passed + skipped = all)
pg_passed=$(sed -n '/^store backend: postgresql/,$p' "$T/unit.log" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s).*/\1/p' | head -n 1)
pg_skipped=$(sed -n '/^store backend: postgresql/,$p' "$T/unit.log" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s).*/\1/p' | head -n 1)
expect "the PostgreSQL group ran all its $NSTORE tests (${pg_passed:-0} passed, ${pg_skipped:-0} skipped)" \
	[ "$(( ${pg_passed:-0} + ${pg_skipped:-0} ))" -eq "$NSTORE" ]

# pg_unit PROGRAM TESTS SECONDS DESC: a PostgreSQL-only unit suite on the
# unit database; it must pass exactly TESTS tests
pg_unit() {
	local log="$T/$1.log"
	if TS_PG_URL="$PGURL_UNIT" timeout "$3" "$TS_BIN/$1" >"$log" 2>&1 &&
		grep -q "^\[  PASSED  \] $2 test(s)" "$log"; then
		ok "$4 ($1, $2 tests)"
	else
		fail "$4 ($1, $2 tests)"
		grep -E '^\[|FAIL|error|Assert' "$log" | tail -n 40
	fi
}
# 1b. the lock-free order of events and commands (two writer processes, late
#     commits, replay, NOTIFY after the commit and outside its wait for
#     durability)
pg_unit unit_node_test_pg_order 6 120 "event and command order without a lock"
# 1c. pg_listen.c's fast sweep after a held-back read, a node's own
#     notifications not woken twice, and wake-ups only while another node
#     listens
pg_unit unit_node_test_pg_sweep 3 120 "the fast sweep after a held-back read, NOTIFY only with other nodes"
# 1d. round trips and commits (issue 9): a transition in two round trips, a
#     queued write's failure fails the commit, the outbox's bookkeeping
#     commits without waiting for its WAL flush, in one implicit transaction
pg_unit unit_node_test_pg_pipeline 5 180 "round trips, queued writes, relaxed outbox commits (one implicit transaction), prepared wake-ups"

# 1e. the read-ahead (a session's or share's reads in one round trip, and
#     when its answers end), store_pg.c's error mapping
pg_unit unit_node_test_pg_store 8 180 "read-ahead, error mapping, the trim with the session insert"

# 2. the happy path with the node's state in PostgreSQL (ts_init_node, with
#    the database switched right after 'init', before any data is written)
ts_pki
ts_start_sp
"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
sed -i "s|^database = .*|database = ${PGURL_NODE//&/\\&}|" "$T/node/node.ini"
expect "node.ini names the PostgreSQL database" grep -qxF "database = $PGURL_NODE" "$T/node/node.ini"
rm -f "$T/node/node.db" "$T/node/node.db-wal" "$T/node/node.db-shm"
"$TS_BIN/tapshare-node" provider add operator "https://127.0.0.1:$SP_PORT" --dir "$T/node" 2>>"$T/node-init.log"
ALICE_CODE=$(printf '%s\n' "$PASS" | "$TS_BIN/tapshare-node" user add alice --dir "$T/node" 2>>"$T/node-init.log")
BOB_CODE=$(printf '%s\n' "bob's passphrase 42" | "$TS_BIN/tapshare-node" user add bob --dir "$T/node" 2>>"$T/node-init.log")
"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-alice --name "Alice mobile" \
	--kind sim --provider operator 2>>"$T/node-init.log"
expect "schema migrated to version 11" [ "$(psql_node 'SELECT MAX(version) FROM schema_version')" = 11 ]
expect "users are in PostgreSQL" [ "$(psql_node 'SELECT COUNT(*) FROM users')" = 2 ]
sed -i 's/^log_level = info/log_level = info\nadmin_listen = 127.0.0.1:0/' "$T/node/node.ini"
ts_start_node
ts_init_se
ts_start_companion
ts_enroll

out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share completes"; }
echo "$out"
expect "S5 first confirmation shown" grep -q "S5 first confirmation" <<<"$out"
expect "S6 second confirmation shown" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
expect "node says installed" [ "$(node_state "$SHARE")" = installed ]
expect "the share row is in PostgreSQL" \
	[ "$(psql_node "SELECT state FROM shares WHERE id='$SHARE'")" = installed ]
ASSOC=$(alice shares --json | jq -r '.data | .shares[0].associated_app_id')
expect "the companion's SE holds the associated app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e --arg a '$ASSOC' '.data | .apps | map(select(.app_id == \$a)) | length == 1' >/dev/null"

out=$(alice cancel "$SHARE" --timeout 60 2>&1) || { echo "$out"; fail "cancel completes"; }
echo "$out"
expect "share revoked" [ "$(node_state "$SHARE")" = revoked ]
expect "SE no longer holds the app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.data | .apps | length == 0' >/dev/null"
wait_log "$T/sp.log" "cancelOrder" 10 || true
expect "provider told of the cancellation" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e '.data | map(select(.function == \"cancelOrder\")) | length == 1' >/dev/null"
expect "both provider calls done in the PostgreSQL outbox" \
	[ "$(psql_node "SELECT COUNT(*) FROM outbox WHERE share_id='$SHARE' AND done=1")" = 2 ]
expect "events recorded in PostgreSQL" \
	[ "$(psql_node "SELECT COUNT(*) FROM events WHERE share_id='$SHARE' AND type='share.revoked'")" -ge 1 ]
expect "no SQLite database was used" [ ! -e "$T/node/node.db" ]

# 3. one stream read per event (issue 9): an event another process commits
#    with its NOTIFY (in its transaction: the wake-up comes with the row)
#    wakes alice's stream, which reads it; the sweep that sees the row cross
#    the order horizon within a second (pg_listen.c) does not read that
#    stream again: its cursor is at the row already (push_wake_user_upto).
#    Three events: 3 reads (a sweep that runs between the commit and the
#    NOTIFY's drain can add one), 6 without the cursor check.
wait_file "$T/node/admin.port" 10
ADMIN="http://127.0.0.1:$(cat "$T/node/admin.port")"
metric() { curl -s "$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
ALICE_ID=$(psql_node "SELECT id FROM users WHERE name='alice'")
curl -sS --cacert "$T/pki/node-ca.crt" --cert "$T/alice/device.crt" --key "$T/alice/device.key" -N --max-time 30 \
	"$NODE_URL/v1/events" >"$T/stream3.out" 2>/dev/null &
STREAM3=$!
PIDS+=("$STREAM3")
wait_log "$T/stream3.out" "stream open" 10 || true
sleep 1.5
R0=$(metric tapshare_event_stream_reads_total)
for i in 1 2 3; do
	psql_node "BEGIN; INSERT INTO events(id, user_id, share_id, type, data, created_at) VALUES
		(pg_current_xact_id()::text::bigint * 65536 + 1, $ALICE_ID, 'sweep-$i', 'share.test', '{}', 0);
		NOTIFY tapshare, 'u:$ALICE_ID'; COMMIT" >/dev/null
	sleep 2.5 # two idle sweeps
done
R1=$(metric tapshare_event_stream_reads_total)
expect "the stream got the three events" [ "$(grep -c '^event: share.test' "$T/stream3.out")" = 3 ]
expect "one read per event, not one more per sweep (reads $R0 -> $R1)" [ $((R1 - R0)) -ge 3 -a $((R1 - R0)) -le 4 ]
# curl is not one of our programs: it exits 143 on SIGTERM. Stopped here, not
# by the cleanup, which would race the node's close of the stream (CI, load:
# "process N exited with status 143 on SIGTERM" when curl had not yet seen it).
kill "$STREAM3" 2>/dev/null
wait "$STREAM3" 2>/dev/null || true
ts_done
