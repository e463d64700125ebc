#!/usr/bin/env bash
# A private PostgreSQL cluster for an integration test (source after lib.sh):
# pg_start creates it in a temporary directory, owned by the postgres OS user
# (the server refuses to run as root), reached over its unix socket only
# (listen_addresses='': no TCP), fsync off (a test); pg_createdb NAME makes a
# database and prints its libpq URI. The cluster is stopped by pg_ctl and
# removed on exit, after every program of the test (lib.sh's PIDS) stopped.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ] || ! id postgres >/dev/null 2>&1; then
	fail "PostgreSQL server binaries (/usr/lib/postgresql/*/bin) and the postgres OS user are needed: run scripts/bootstrap.sh (Debian package postgresql)"
	exit 1
fi
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
eval "lib_$(declare -f ts_cleanup)"
pg_cleanup() {
	local rc=$?
	set +e
	[ -n "${PG_EXTRA_STOP:-}" ] && eval "$PG_EXTRA_STOP"
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && ts_stop "$p"
	done
	PIDS=()
	pg_stop
	(exit "$rc")
	lib_ts_cleanup
}
trap pg_cleanup EXIT

# pg_start [EXTRA_SERVER_OPTIONS]
pg_start() {
	pg "$PGBIN/initdb" -D "$PGD/data" -U postgres -A trust -E UTF8 --no-sync >"$PGD/initdb.log" 2>&1 ||
		{ cat "$PGD/initdb.log"; fail "initdb"; exit 1; }
	pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 30 \
		-o "-c listen_addresses='' -k $PGD -c fsync=off ${1:-}" start >"$PGD/pg_ctl.log" 2>&1 ||
		{ cat "$PGD/pg_ctl.log" "$PGD/server.log" 2>/dev/null; fail "PostgreSQL starts"; exit 1; }
	PG_UP=1
}
pg_createdb() {
	pg "$PGBIN/createdb" -h "$PGD" -U postgres "$1"
	printf 'postgresql:///%s?host=%s&user=postgres' "$1" "$PGD"
}
# psql_db DB SQL: one value per line, no headers
psql_db() { "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$PGD" -U postgres -d "$1" -c "$2"; }
# free_port: a TCP port on 127.0.0.1 nobody listens on right now
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_node_init ADDRESS: the test PKI, the provider (ts_start_sp), a database
# tsnode (its URI in URL; psql_node SQL queries it) and a node directory
# $T/node on it (nothing in SQLite), [node] address = ADDRESS (empty: the
# node names its listen URL), with the provider "operator", alice
# (ALICE_CODE) and her app sim-alice. Copy $T/node for more nodes: the same
# configuration and node key. After pg_start.
psql_node() { psql_db tsnode "$1"; }
pg_node_init() {
	ts_pki
	ts_start_sp
	URL=$(pg_createdb tsnode)
	"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
	sed -i -e "s|^database = .*|database = ${URL//&/\\&}|" -e "s|^address =.*|address = $1|" "$T/node/node.ini"
	rm -f "$T/node/node.db"*
	"$TS_BIN/tapshare-node" provider add operator "https://127.0.0.1:$SP_PORT" --dir "$T/node" 2>>"$T/node-init.log"
	ALICE_CODE=$(printf '%s\n' "$PASS" | "$TS_BIN/tapshare-node" user add alice --dir "$T/node" 2>>"$T/node-init.log")
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-alice --name "Alice mobile" \
		--kind sim --provider operator 2>>"$T/node-init.log"
}
# pg_start_node DIR LOG [ENV...]: runs the node of DIR (with ENV); sets
# PORT_OUT and PID_OUT
pg_start_node() {
	local d=$1 log=$2
	shift 2
	rm -f "$d/node.port"
	env "$@" "$TS_BIN/tapshare-node" run --dir "$d" >>"$log" 2>&1 &
	PID_OUT=$!
	PIDS+=("$PID_OUT")
	wait_file "$d/node.port" 10
	PORT_OUT=$(cat "$d/node.port")
}
