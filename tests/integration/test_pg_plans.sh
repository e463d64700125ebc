#!/usr/bin/env bash
# Flat as the store grows (issue 9 item 4), PostgreSQL: every statement the
# node runs during a complete flow (share, install, cancel, delete) and its
# housekeeping (gc, prune) is planned on an index. The store is first filled
# with FILL synthetic finished shares and their events, commands, outbox
# rows, sessions (bench/fill_pg.sql; ANALYZEd, so the planner sees real
# sizes: on empty tables it scans whatever indexes exist). The node runs with
# TAPSHARE_STORE_EXPLAIN: each connection appends the plan of each statement
# the first time it runs it, for its real parameters (EXPLAIN, not executed).
# Any "Seq Scan" fails the test, naming the statement; the one exception is
# providers (the operator's configuration: a handful of rows by nature).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FILL=${FILL:-10000}

pg_start
URL=$(pg_createdb tsnode)
ts_pki
ts_start_sp
"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
sed -i "s|^database = .*|database = ${URL//&/\\&}|" "$T/node/node.ini"
rm -f "$T/node/node.db"*
"$TS_BIN/tapshare-node" provider add operator "https://127.0.0.1:$SP_PORT" --dir "$T/node" 2>>"$T/node-init.log"
ALICE_CODE=$(printf '%s\n' "$PASS" | "$TS_BIN/tapshare-node" user add alice --dir "$T/node" 2>>"$T/node-init.log")
BOB_CODE=$(printf '%s\n' "bob's passphrase 42" | "$TS_BIN/tapshare-node" user add bob --dir "$T/node" 2>>"$T/node-init.log")
"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-alice --name "Alice mobile" \
	--kind sim --provider operator 2>>"$T/node-init.log"
t0=$(date +%s%N)
"$PGBIN/psql" -X -q -h "$PGD" -U postgres -d tsnode -v n="$FILL" -v updated="$(date +%s)" \
	-f "$SRC/bench/fill_pg.sql" >"$T/fill.log" 2>&1 || { cat "$T/fill.log"; fail "the store fills"; exit 1; }
echo "# filled $FILL finished shares in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
expect "the store holds $FILL finished shares" [ "$(psql_db tsnode "SELECT COUNT(*) FROM shares")" = "$FILL" ]

# 600 of them ended 40 days ago: past the default retention (30 days), the
# node prunes them (batches of 500 per tick) with what hangs off them
OLD=$(( $(date +%s) - 40 * 86400 ))
psql_db tsnode "UPDATE shares SET updated_at = $OLD WHERE id IN (SELECT 'fill-' || lpad(g::text, 10, '0') FROM generate_series(1, 600) g)"
export TAPSHARE_STORE_EXPLAIN="$T/plans.txt"
ts_start_node
ts_init_se
ts_start_companion
ts_enroll
unset TAPSHARE_STORE_EXPLAIN
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share completes"; }
expect "S6 second confirmation shown" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(alice shares --json | jq -r '.data.shares[0].share_id')
out=$(alice cancel "$SHARE" --timeout 60 2>&1) || { echo "$out"; fail "cancel completes"; }
expect "share revoked" wait_state "$SHARE" revoked 20
wait_log "$T/sp.log" "cancelOrder" 10 || true
# a stream of all alice's events (no share filter: the other form of
# events_after, the one the bench's and the web's streams read)
alice watch --all --timeout 2 --json >"$T/watch.json" 2>&1 || true
sleep 1.5 # one more tick: expiry, gc and prune ran at least once
ts_stop "$NODE_PID"

expect "the node pruned the 600 shares past retention" [ "$(psql_db tsnode "SELECT COUNT(*) FROM shares WHERE updated_at = $OLD")" = 0 ]
expect "... and their events, commands, outbox rows and sessions" [ "$(psql_db tsnode "SELECT
	(SELECT COUNT(*) FROM events WHERE share_id IN (SELECT 'fill-' || lpad(g::text, 10, '0') FROM generate_series(1, 600) g)) +
	(SELECT COUNT(*) FROM companion_cmds WHERE share_id IN (SELECT 'fill-' || lpad(g::text, 10, '0') FROM generate_series(1, 600) g)) +
	(SELECT COUNT(*) FROM outbox WHERE share_id IN (SELECT 'fill-' || lpad(g::text, 10, '0') FROM generate_series(1, 600) g)) +
	(SELECT COUNT(*) FROM es9_tx WHERE share_id IN (SELECT 'fill-' || lpad(g::text, 10, '0') FROM generate_series(1, 600) g))")" = 0 ]
expect "the other shares stay (the flow's own and the recent finished ones)" \
	[ "$(psql_db tsnode "SELECT COUNT(*) FROM shares")" = $((FILL - 600 + 1)) ]
expect "pruning was logged" grep -q "pruned 500 finished share(s) older than 30 days" "$T/node.log"

# plans: "-- SQL" then its plan lines
nstmt=$(grep -c '^-- ' "$T/plans.txt" || true)
echo "# $nstmt statement plans recorded"
expect "the flow's statements were explained (at least 40)" [ "$nstmt" -ge 40 ]
for must in "UPDATE companion_cmds SET done=1" "INSERT INTO events" "WITH c AS (SELECT id FROM outbox o WHERE done=0" \
	"SELECT id FROM shares WHERE state IN" "WITH d AS (SELECT id FROM shares sh WHERE updated_at" \
	"WITH h AS (SELECT (pg_snapshot_xmin"; do
	expect "plan recorded for: $must" grep -qF -- "-- $must" "$T/plans.txt"
done
awk '
	/^-- / { sql = substr($0, 4); next }
	/EXPLAIN FAILED/ { print "EXPLAIN FAILED for: " sql; bad = 1 }
	/Seq Scan on providers / { next }
	/Seq Scan on / { t = $0; sub(/.*Seq Scan on /, "", t); sub(/ .*/, "", t); print "Seq Scan on " t " in: " sql; bad = 1 }
	END { exit bad }
' "$T/plans.txt" >"$T/scans.txt" || true
sort -u "$T/scans.txt" | head -n 20
expect "no statement of the flow scans a table (every one on an index)" [ ! -s "$T/scans.txt" ]

# the expiry and prune statements state the partial indexes' predicates
# (migration 11 writes store_sql_expirable() / store_sql_open_states() out)
plan_of() { awk -v want="-- $1" 'index($0, want) == 1 { on = 1; next } /^-- / { on = 0 } on' "$T/plans.txt"; }
expect "the expiry statement uses the partial shares_expiry" grep -q "shares_expiry" <<<"$(plan_of "SELECT id FROM shares WHERE state IN")"
expect "the prune statement uses the partial shares_updated" grep -q "shares_updated" <<<"$(plan_of "WITH d AS (SELECT id FROM shares sh WHERE updated_at")"
# ... and a share that is not finished nor expirable adds no entry to the prune
# and expiry indexes (partial: a share update writes fewer index entries)
sz() { psql_db tsnode "SELECT pg_relation_size('$1')"; }
e0=$(sz shares_expiry) u0=$(sz shares_updated) m0=$(sz shares_matching)
psql_db tsnode "INSERT INTO shares(id, user_id, device_id, eid, app_id, provider, state, duration_s, not_after,
	assoc_app_id, assoc_name, assoc_kind, matching_id, reason, created_at, updated_at)
	SELECT 'open-' || g, 1, 'd', '89049032000000000000000000000000', 'a', 'operator', 'requested', 0, 0, '', '', '',
	'mo-' || g, '', g, g FROM generate_series(1, 3000) g" >/dev/null
echo "# index bytes before/after 3000 requested shares: expiry $e0/$(sz shares_expiry), prune $u0/$(sz shares_updated), matching $m0/$(sz shares_matching)"
expect "requested shares grow a full index (the measure works)" [ "$(sz shares_matching)" -gt "$m0" ]
expect "... but not the expiry index (expirable states only)" [ "$(sz shares_expiry)" = "$e0" ]
expect "... nor the prune index (finished shares only)" [ "$(sz shares_updated)" = "$u0" ]
# migration 11: the shares of an EID that had 3000 (above), newest first,
# straight from an index: no sort of every share the EID ever had
# (store_pg.c shares_of_eid's statement, on each delete notification)
psql_db tsnode "ANALYZE shares" >/dev/null
p=$(psql_db tsnode "EXPLAIN SELECT id, assoc_app_id FROM shares WHERE eid='89049032000000000000000000000000'
	ORDER BY created_at DESC, id DESC LIMIT 16")
echo "$p" | sed 's/^/#   shares_of_eid: /'
expect "shares_of_eid walks shares_eid_created backwards, no sort" \
	bash -c 'grep -q "Scan Backward using shares_eid_created" <<<"$1" && ! grep -q "Sort" <<<"$1"' _ "$p"
expect "... and it is the node's statement" grep -qF 'SELECT id, assoc_app_id FROM shares WHERE eid=$1 ORDER BY created_at DESC, id DESC LIMIT $2' "$SRC/src/node/store_pg.c"

# issue 9: the stream reads (events_after, ~3 per flow) keep one plan. A
# prepared statement's generic plan is kept by PostgreSQL's plan cache only
# when it costs no more than the custom plans (plus their planning);
# otherwise every call is planned again (~156 us). Each form of the node's
# statement (its text as recorded in plans.txt) is PREPAREd on the filled
# store: its generic plan must be an index scan (not a bitmap scan; for all
# of a user's events events_user's range in id order, no sort; a share's
# few events may come from events_share and be sorted), and after ten calls with a stream's usual arguments (alice,
# after her newest event) the plan cache must be using the generic plan
# (EXPLAIN EXECUTE shows $1, not alice's id). The arguments are bound by
# what each placeholder is compared with, so any form of the statement is
# checked the same way.
psql_db tsnode "ANALYZE events" >/dev/null
UID_A=$(psql_db tsnode "SELECT id FROM users WHERE name='alice'")
AFTER=$(psql_db tsnode "SELECT max(id) FROM events WHERE user_id=$UID_A")
grep -F -- '-- SELECT id, share_id, type, data, id < ' "$T/plans.txt" | grep -F 'FROM events WHERE user_id=$1' |
	sed 's/^-- //' | sort -u >"$T/ev_sql.txt"
echo "# events_after statements recorded: $(wc -l <"$T/ev_sql.txt")"
expect "both forms of events_after ran (the share's stream and all alice's events)" \
	[ "$(grep -c 'share_id=\$' "$T/ev_sql.txt")" -ge 1 -a "$(grep -vc 'share_id=\$' "$T/ev_sql.txt")" -ge 1 ]
ev_args() { # SQL SHARE|NULL: the EXECUTE argument list for its placeholders
	local sql=$1 k args=""
	for k in 1 2 3 4 5; do
		grep -qF "\$$k" <<<"$sql" || break
		if grep -qF "user_id=\$$k" <<<"$sql"; then args+="$UID_A,"
		elif grep -qF "id>\$$k" <<<"$sql"; then args+="$AFTER,"
		elif grep -qF "LIMIT \$$k" <<<"$sql"; then args+="64,"
		elif grep -qF "share_id=\$$k" <<<"$sql"; then args+="$2,"
		else args+="NULL,"; fi
	done
	printf '%s' "${args%,}"
}
while IFS= read -r sql; do
	share=NULL form="all of a user's events"
	grep -qF "share_id=\$" <<<"$sql" && grep -qvF "IS NULL" <<<"$sql" && share="'$SHARE'" form="one share's events"
	args=$(ev_args "$sql" "$share")
	gen=$(printf 'PREPARE ea AS %s;\nSET plan_cache_mode = force_generic_plan;\nEXPLAIN EXECUTE ea(%s);\n' "$sql" "$args" |
		"$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$PGD" -U postgres -d tsnode 2>&1)
	auto=$({ printf 'PREPARE ea AS %s;\n' "$sql"
		for _ in 1 2 3 4 5 6 7 8 9 10; do printf 'EXECUTE ea(%s);\n' "$args"; done
		printf 'EXPLAIN EXECUTE ea(%s);\n' "$args"; } |
		"$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$PGD" -U postgres -d tsnode 2>&1 | grep -E '(Scan|Limit|Sort|Cond|Filter)')
	echo "$gen" | sed "s/^/#   generic plan ($form): /"
	echo "$auto" | sed "s/^/#   plan after 10 calls ($form): /"
	expect "events_after ($form): the generic plan is an index scan (no bitmap or table scan)" \
		bash -c 'grep -q "Index Scan using events_" <<<"$1" && ! grep -qE "Bitmap|Seq Scan" <<<"$1"' _ "$gen"
	[ "$share" = NULL ] && expect "... on events_user (user_id, id) in order from the cursor, no sort" \
		bash -c 'grep -q "Index Scan using events_user" <<<"$1" && ! grep -q "Sort" <<<"$1"' _ "$gen"
	expect "events_after ($form): PostgreSQL keeps the generic plan (not planned at each call)" \
		bash -c 'grep -q "Index Cond: .*user_id = \$1" <<<"$1" || grep -q "Filter: .*user_id = \$1" <<<"$1"' _ "$auto"
done <"$T/ev_sql.txt"
ts_done
