#!/usr/bin/env bash
# SGP.22 confirmation code (issue 7): `tapshare share --confirmation-code`
# prints a code and the node keeps only its SHA-256; the node then sets
# ccRequiredFlag, so a companion without the code stops before PrepareDownload
# and cancels the session with the SE-signed CancelSession (the share stays
# authorised); given the code (--confirmation-code) the SE signs hashCc and
# the download completes. The activation code carries the flag ($$1).
. "$(dirname "$0")/lib.sh"
ts_start_all

out=$(alice share --link "sim:$T/link.sock" --app sim-alice --confirmation-code --no-wait --json 2>>"$T/cli.log")
CC=$(jdata <<<"$out" | jq -r .confirmation_code)
SID=$(jdata <<<"$out" | jq -r .share.share_id)
expect "an 8-digit confirmation code is printed ($CC)" grep -qE '^[0-9]{8}$' <<<"$CC"
expect "the node never stored the code itself" bash -c \
	"! sqlite3 '$T/node/node.db' .dump | grep -q '$CC'"
HASH=$(printf %s "$CC" | sha256sum | cut -d' ' -f1)
expect "the node keeps SHA-256 of the code" \
	[ "$(sqlite3 "$T/node/node.db" "SELECT cc_hash FROM share_cc WHERE share_id='$SID'")" = "$HASH" ]

# the companion has no code: it stops and cancels the session, postponed (not
# endUserRejection, which would end the share: docs/protocol.md, CancelSession)
wait_log "$T/companion.log" "asks for a confirmation code" 30 || true
expect "the companion says the share needs the code" grep -q "asks for a confirmation code" "$T/companion.log"
wait_log "$T/node.log" "cancelled download session .*: postponed" 10 || true
expect "the node verified the SE-signed cancelSession (postponed)" \
	grep -q "cancelled download session .*: postponed" "$T/node.log"
expect "the share is still authorised" [ "$(node_state "$SID")" = authorised ]
expect "no wrong attempt was counted" \
	[ "$(sqlite3 "$T/node/node.db" "SELECT attempts FROM share_cc WHERE share_id='$SID'")" = 0 ]

# with the code
ts_stop "$COMP_PID"
"$TS_BIN/tapshare-companion" run --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --se "inproc:$T/se.state" \
	--link "sim:$T/link.sock" --confirmation-code "$CC" >>"$T/companion2.log" 2>&1 &
COMP_PID=$!
PIDS+=("$COMP_PID")
wait_state "$SID" installed 60 || true
expect "installed once the companion gives the code" [ "$(node_state "$SID")" = installed ]
AC=$(alice watch --share "$SID" --all --timeout 3 --json 2>/dev/null | grep -o '"activation_code":"[^"]*"' | head -1)
expect "the activation code flags the confirmation code ($AC)" grep -qE 'LPA:1\$[^$]+\$[^$]+\$\$1"' <<<"$AC"
ts_stop "$COMP_PID"
ts_done
