#!/usr/bin/env bash
# A time-limited share expires on its own: the node revokes the grant, tells
# the provider and pushes a delete; the SE deletes the app.
. "$(dirname "$0")/lib.sh"
ts_start_all

alice share --link "sim:$T/link.sock" --app sim-alice --duration 4 --timeout 30 >"$T/share.out" 2>&1 ||
	{ cat "$T/share.out"; fail "time-limited share installs"; }
SHARE=$(alice shares --json | jq -r '.shares[0].share_id')
NA=$(alice shares --json | jq -r '.shares[0].not_after')
expect "not_after set" [ "$NA" -gt 0 ]
expect "installed first" [ "$(node_state "$SHARE")" = installed ]
expect "expires" wait_state "$SHARE" expired 20
expect "SE deletes the expired app" bash -c "for i in \$(seq 50); do '$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.apps | length == 0' >/dev/null && exit 0; sleep 0.2; done; exit 1"
expect "provider told (cancelOrder)" bash -c "for i in \$(seq 50); do '$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e 'map(select(.function == \"cancelOrder\")) | length == 1' >/dev/null && exit 0; sleep 0.2; done; exit 1"
ts_done
