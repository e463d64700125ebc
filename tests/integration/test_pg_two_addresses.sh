#!/usr/bin/env bash
# Two nodes on one PostgreSQL database, each with its own SM-DP+ address (the
# `[node] address` left empty: each names its own listen URL). The companion's
# push stream is on node A; the share is made on node B while node A is
# frozen (SIGSTOP), so node B's outbox worker takes the provider's grant and
# writes the download command, which names B as smdpAddress. Node A pushes it
# (NOTIFY, once it runs again). An SGP.22 LPA dials the smdpAddress it is
# given (§5.6.1: the SM-DP+ refuses an smdpAddress that is not its own), so
# the companion runs the whole ES9+ download on node B and delivers the
# install notification (whose address is B's, §5.6.4) there too. Before the
# fix it dialled its own node A with smdpAddress B: A refused it (8.8.1/3.8)
# and the share waited for the primary's timeout (issue 9's 2-node stall).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

pg_start
pg_node_init ""
cp -a "$T/node" "$T/nodeB"

pg_start_node "$T/node" "$T/nodeA.log"; A_PID=$PID_OUT; A_URL="https://127.0.0.1:$PORT_OUT"
pg_start_node "$T/nodeB" "$T/nodeB.log"; B_URL="https://127.0.0.1:$PORT_OUT"
# a frozen node A must not be left stopped (its SIGTERM would wait forever)
PG_EXTRA_STOP='kill -CONT "$A_PID" 2>/dev/null'
for l in A B; do
	expect "node $l listens for the other node's changes" wait_log "$T/node$l.log" "LISTEN tapshare" 5
done

NODE_URL=$A_URL
ts_init_se
ts_start_companion
expect "the companion's stream is on node A" wait_log "$T/nodeA.log" "connected to its push channel" 10
alice enroll --node "$B_URL" --ca "$T/pki/node-ca.crt" --code "$ALICE_CODE" --name "Alice's phone" \
	>"$T/enroll.log" 2>&1

kill -STOP "$A_PID"
alice share --link "sim:$T/link.sock" --app sim-alice --timeout 40 >"$T/share.out" 2>&1 &
SHARE_PID=$!
i=0
until [ "$(psql_node "SELECT COUNT(*) FROM companion_cmds WHERE type='download'")" = 1 ]; do
	i=$((i + 1)); [ $i -gt 150 ] && break; sleep 0.1
done
kill -CONT "$A_PID"
SHARE=$(psql_node "SELECT id FROM shares LIMIT 1")
expect "node B's outbox wrote the download command" grep -q "S13 share $SHARE authorised" "$T/nodeB.log"
expect "the command names node B as the SM-DP+" \
	[ "$(psql_node "SELECT data::json->>'smdp_address' FROM companion_cmds WHERE share_id='$SHARE' AND type='download'")" = "$B_URL" ]
rc=0
wait "$SHARE_PID" || rc=$?
cat "$T/share.out"
expect "the share completes (no 2-node stall)" [ "$rc" = 0 ]
expect "S6 second confirmation shown" grep -q "S6 second confirmation" "$T/share.out"
expect "node A pushed the download to the companion" \
	grep -q "S14 pushed download command for share $SHARE" "$T/nodeA.log"
expect "installed" [ "$(psql_node "SELECT state FROM shares WHERE id='$SHARE'")" = installed ]
expect "the companion dialled node B for the download" grep -qF "dialling $B_URL)" "$T/companion.log"
expect_fail "node A refused no smdpAddress" grep -q "is not this SM-DP+" "$T/nodeA.log"
expect "the install notification went to node B" grep -qF "sent to the node (${B_URL#https://})" "$T/companion.log"

# Node A still refuses an smdpAddress that is not its own (SGP.22 §5.6.1,
# 8.8.1/3.8): another node's, or one outside the cluster. EUICCInfo1 as in
# test_es9_bounds.sh: BF20 { 82 svn 2.2.2, A9 { 04 CI SKI }, AA { 04 CI SKI } }.
SKI=$(openssl x509 -in "$T/pki/ci.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
L=$(printf %02x $((${#SKI} / 2)))
L2=$(printf %02x $((${#SKI} / 2 + 2)))
INFO1=$(printf "BF20%02x8203020202A9${L2}04${L}${SKI}AA${L2}04${L}${SKI}" $((5 + 2 * (${#SKI} / 2 + 4))) \
	| xxd -r -p | base64 -w0)
CHAL=$(head -c 16 /dev/urandom | base64)
initiate_at_a() {
	curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" -X POST -H 'Content-Type: application/json' \
		-d "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"$1\"}" \
		"$A_URL/gsma/rsp2/es9plus/initiateAuthentication" |
		jq -r '.header.functionExecutionStatus | .status + " " + (.statusCodeData.subjectCode // "") + " " + (.statusCodeData.reasonCode // "")'
}
expect "node A refuses node B's address (8.8.1 / 3.8)" [ "$(initiate_at_a "${B_URL#https://}")" = "Failed 8.8.1 3.8" ]
expect "node A refuses an address outside the cluster" [ "$(initiate_at_a smdp.example.org)" = "Failed 8.8.1 3.8" ]
expect "node A takes its own address" [ "$(initiate_at_a "${A_URL#https://}")" = "Executed-Success  " ]
ts_done
