#!/usr/bin/env bash
# Flat as the store grows (issue 9 item 4), SQLite: every statement the node
# prepares during a complete flow (share, install, cancel, delete) and its
# housekeeping (gc, prune) uses an index: the node runs with
# TAPSHARE_STORE_EXPLAIN and each connection writes EXPLAIN QUERY PLAN of
# each statement it prepares. A plan row "SCAN <table>" without an index
# fails the test, naming the statement (SQLite plans without statistics, so
# an empty store shows the plans a large one gets; test_pg_plans.sh fills
# PostgreSQL first because its planner looks at the sizes).
. "$(dirname "$0")/lib.sh"

ts_pki
ts_start_sp
ts_init_node
# [node] retention_days (finished shares pruned after it) is checked
cp "$T/node/node.ini" "$T/bad.ini"
sed -i 's/^retention_days = .*/retention_days = -1/' "$T/bad.ini"
expect "init writes retention_days = 30" grep -qx "retention_days = 30" "$T/node/node.ini"
expect "tapshare-node check accepts the default retention" "$TS_BIN/tapshare-node" check --dir "$T/node"
expect_fail "tapshare-node check refuses retention_days = -1" "$TS_BIN/tapshare-node" check --config "$T/bad.ini"
export TAPSHARE_STORE_EXPLAIN="$T/plans.txt"
ts_start_node
unset TAPSHARE_STORE_EXPLAIN
ts_init_se
ts_start_companion
ts_enroll
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share completes"; }
expect "S6 second confirmation shown" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(alice shares --json | jq -r '.data.shares[0].share_id')
out=$(alice cancel "$SHARE" --timeout 60 2>&1) || { echo "$out"; fail "cancel completes"; }
expect "share revoked" wait_state "$SHARE" revoked 20
wait_log "$T/sp.log" "cancelOrder" 10 || true
sleep 1.5 # one more tick: expiry, gc and prune ran at least once
ts_stop "$NODE_PID"

nstmt=$(grep -c '^-- ' "$T/plans.txt" || true)
echo "# $nstmt statement plans recorded"
expect "the flow's statements were explained (at least 40)" [ "$nstmt" -ge 40 ]
for must in "UPDATE companion_cmds SET done=1" "INSERT INTO events" "SELECT COUNT(*) FROM shares WHERE id IN" \
	"SELECT id FROM shares WHERE (state="; do
	expect "plan recorded for: $must" grep -qF -- "-- $must" "$T/plans.txt"
done
# "SCAN t" alone is a table scan; "SCAN t USING [COVERING] INDEX i" walks an
# index; providers (the operator's configuration, a handful of rows) is the
# one table allowed a scan, and the operator's list of all shares (not the
# flow; it reads every row anyway).
awk '
	/^-- / { sql = substr($0, 4); next }
	/EXPLAIN FAILED/ { print "EXPLAIN FAILED for: " sql; bad = 1 }
	{ line = $0; sub(/^[ |`-]*/, "", line) }
	line ~ /^SCAN / && line !~ / USING / && line !~ /^SCAN (CONSTANT ROW|providers)/ &&
	    sql !~ /WHERE \?1 < 0 ORDER BY/ {
		print line " in: " sql; bad = 1
	}
	END { exit bad }
' "$T/plans.txt" >"$T/scans.txt" || true
sort -u "$T/scans.txt" | head -n 20
expect "no statement of the flow scans a table (every one on an index)" [ ! -s "$T/scans.txt" ]
ts_done
