#!/usr/bin/env bash
# SIM secrets at rest: the provider's credential (Ki/OPc) is sealed with the
# node key (DIR/node.key, 0600, AES-256-GCM) while the share is pending, and
# erased once it is installed or revoked; the database file never holds it
# in clear.
. "$(dirname "$0")/lib.sh"
ts_start_all
expect "the node key exists, 32 bytes, 0600" \
	[ "$(stat -c '%s %a' "$T/node/node.key")" = "32 600" ]
dbtext() { cat "$T/node/node.db" "$T/node/node.db-wal" 2>/dev/null | tr -c '[:print:]' '\n'; }
cred() { sqlite3 "$T/node/node.db" "SELECT coalesce(credential, 'NULL') FROM shares WHERE id='$1'"; }

# pending: a share to EID2 (no companion runs for it) stays authorised
out=$(alice share --eid "$EID2" --app sim-alice --no-wait --json | jdata)
P=$(jq -r .share.share_id <<<"$out")
wait_state "$P" authorised 20 || true
expect "the pending share is authorised" [ "$(node_state "$P")" = authorised ]
expect "its credential is stored sealed" grep -q '^sealed:v1:' <<<"$(cred "$P")"
expect "the database file holds no Ki/OPc in clear" bash -c "! grep -qE '\"(ki|opc)\" *: *\"' <<<\"\$(cat '$T/node/node.db' '$T/node/node.db-wal' 2>/dev/null | tr -c '[:print:]' '\\n')\""

# delivered and installed: the credential is gone from the share
out=$(alice share --eid "$EID" --app sim-alice --timeout 60 --json | jdata)
I=$(jq -r .share.share_id <<<"$out")
expect "a share to the running companion is installed" [ "$(node_state "$I")" = installed ]
expect "the installed share's credential is erased" [ "$(cred "$I")" = NULL ]
# revoked: erased too
alice cancel "$P" --no-wait >/dev/null 2>&1 || true
wait_state "$P" revoked 20 || wait_state "$P" cancel_pending 5 || true
expect "the cancelled pending share's credential is erased ($(node_state "$P"))" [ "$(cred "$P")" = NULL ]
expect "still no Ki/OPc in clear in the database file" bash -c "! grep -qE '\"(ki|opc)\" *: *\"' <<<\"\$(cat '$T/node/node.db' '$T/node/node.db-wal' 2>/dev/null | tr -c '[:print:]' '\\n')\""
ts_done
