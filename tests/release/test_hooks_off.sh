#!/usr/bin/env bash
# A Release build's node (CMake TS_TEST_HOOKS off, the default there) really
# has no test hooks: the environment variables the test suites use to inject
# faults are named in a warning and change nothing. The node under test is
# $TS_RELEASE_BIN/tapshare-node; every other program comes from the test
# build ($TS_BIN, default build/). Run by .ci/release-hooks.sh; not a ctest
# test (those run on the test builds, where the hooks are on). The oracle is
# the behaviour a hook would have: run this with TS_RELEASE_BIN=build (hooks
# on) and it fails — the node dies at the crash point, the admin command is
# answered "store", the plans file is written.
#   TAPSHARE_NODE_CRASH_AFTER=share_request  would SIGKILL the node at S11
#   TAPSHARE_NODE_STORE_BUSY=READS           would make those reads time out
#   TAPSHARE_STORE_EXPLAIN=FILE              would write every query plan
#   TAPSHARE_PUSH_STALL_MS=N                 would close a stalled stream after N ms
# TAPSHARE_JOURNAL_SOCKET is not among them: it is an operator setting, kept
# in every build (tapshare-node --help; tests/integration/test_journal.sh).
. "$(dirname "$0")/../integration/lib.sh"

REL=${TS_RELEASE_BIN:?TS_RELEASE_BIN: the Release build directory}
mkdir -p "$T/bin"
for p in "$TS_BIN"/tapshare*; do
	[ -x "$p" ] && ln -s "$(cd "$(dirname "$p")" && pwd)/$(basename "$p")" "$T/bin/"
done
ln -sf "$(cd "$REL" && pwd)/tapshare-node" "$T/bin/tapshare-node"
TS_BIN="$T/bin"

help=$("$TS_BIN/tapshare-node" --help 2>&1 || true)
expect_fail "the help names no test hook" grep -q "TAPSHARE_NODE_CRASH_AFTER\|TAPSHARE_NODE_STORE_BUSY" <<<"$help"
expect "the help names TAPSHARE_JOURNAL_SOCKET (an operator setting)" grep -q "TAPSHARE_JOURNAL_SOCKET" <<<"$help"

ts_pki
ts_start_sp
ts_init_node
# the admin command reads the user although its read is armed "busy"
r=$({ TAPSHARE_NODE_STORE_BUSY=user_by_name "$TS_BIN/tapshare-node" user show alice --dir "$T/node" --json \
	2>>"$T/adm.log" || true; } | tail -n1 | jq -r '.error.code // "ok"')
expect "admin: TAPSHARE_NODE_STORE_BUSY=user_by_name changes nothing ($r)" [ "$r" = ok ]
expect "... and is named in a warning" grep -q "TAPSHARE_NODE_STORE_BUSY is a test hook and this build has none" "$T/adm.log"

# the whole share flow on a node armed with the crash point and the plans
# (a busy read is shown above: armed here, it would stop the flow before S11)
TAPSHARE_NODE_CRASH_AFTER=share_request TAPSHARE_STORE_EXPLAIN="$T/plans.txt" TAPSHARE_PUSH_STALL_MS=1000 \
	ts_start_node
for h in TAPSHARE_NODE_CRASH_AFTER TAPSHARE_STORE_EXPLAIN TAPSHARE_PUSH_STALL_MS; do
	expect "run: $h is named as ignored" grep -q "$h is a test hook and this build has none" "$T/node.log"
done
ts_init_se
ts_start_companion
ts_enroll
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 30 2>&1) || { echo "$out"; fail "the share completes"; }
expect "S6 second confirmation shown" grep -q "S6 second confirmation" <<<"$out"
expect "the node is alive after S11 (no crash point)" kill -0 "$NODE_PID"
expect_fail "no fault injection armed" grep -q "fault injection" "$T/node.log"
expect "no query plans written" [ ! -e "$T/plans.txt" ]
ts_done
