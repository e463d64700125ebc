#!/usr/bin/env bash
# A store read that gets no answer (another thread or process holds the
# database, the wait ran out) is no verdict on what was asked: the node
# answers 503 store_busy with Retry-After (ES9+: Failed 1.2 / 4.4 "Function
# provider - Busy", with Retry-After), never the refusal a missing row earns
# (403 unknown_device, 401 bad_token, 404 unknown_share, a wrong passphrase,
# 8.10.1 / 3.9 ...), and counts nothing against the client.
# TAPSHARE_NODE_STORE_BUSY=<reads> (store.c) makes the named reads of the
# node's event-loop store always time out, so each mapping is hit every run.
. "$(dirname "$0")/lib.sh"
ts_start_all
ts_api_session
# a share for EID2 (no companion runs for it): it stays authorised
SID=$(alice share --eid "$EID2" --app sim-alice --no-wait --json | jdata | jq -r .share.share_id)
wait_state "$SID" authorised 30 || true
expect "a share for EID2, authorised" [ "$(node_state "$SID")" = authorised ]
MID=$(sqlite3 "$T/node/node.db" "SELECT matching_id FROM shares WHERE id='$SID'")
alice offer --app sim-alice --print-offer "$T/offer.b64" --eid "$EID" >/dev/null
expect "an offer made by alice's phone" test -s "$T/offer.b64"

# the owner page: a session without a device certificate (binding "web")
W=("${CURL[@]}" -D "$T/h" -o "$T/b" -w '%{http_code}')
pre_session() {
	"${CURL[@]}" -D "$T/h" -o "$T/b" "$NODE_URL/owner/api/session"
	PRE=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-tapshare_pre=\([0-9a-f]*\);.*/\1/p' "$T/h" | tr -d '\r')
	PCSRF=$(jq -r .csrf "$T/b")
}
pre_session
st=$("${W[@]}" -H "Cookie: __Host-tapshare_pre=$PRE" -H "X-CSRF-Token: $PCSRF" -H 'Content-Type: application/json' \
	--data "{\"user\":\"alice\",\"passphrase\":\"$PASS\"}" "$NODE_URL/owner/api/login")
WSESS=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-tapshare_session=\([0-9a-f]*\);.*/\1/p' "$T/h" | tr -d '\r')
expect "owner page: signed in ($st)" [ "$st" = 200 ] && [ ${#WSESS} -eq 64 ]

# ES9+: a download session of the EID2 share (its transactionId)
SKI=$(openssl x509 -in "$T/pki/ci.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
L=$(printf %02x $((${#SKI} / 2)))
L2=$(printf %02x $((${#SKI} / 2 + 2)))
INFO1=$(printf "BF20%02x8203020202A9${L2}04${L}${SKI}AA${L2}04${L}${SKI}" $((5 + 2 * (${#SKI} / 2 + 4))) |
	xxd -r -p | base64 -w0)
CHAL=$(head -c 16 /dev/urandom | base64)
ADDR=${NODE_URL#https://}
es9() {
	"${CURL[@]}" -D "$T/h" -X POST "$NODE_URL/gsma/rsp2/es9plus/$1" -H 'Content-Type: application/json' \
		-H 'X-Admin-Protocol: gsma/rsp/v2.2.0' -d "$2"
}
sc() { jq -r '.header.functionExecutionStatus | .status + " " + (.statusCodeData.subjectCode // "") + " " + (.statusCodeData.reasonCode // "")'; }
INIT="{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"matchingId\":\"$MID\",\"smdpAddress\":\"$ADDR\"}"
TID=$(es9 initiateAuthentication "$INIT" | jq -r '.transactionId // empty')
expect "an ES9+ session of the EID2 share" [ ${#TID} -eq 32 ]

# busy_node READS: the node again on its port, those reads always busy
busy_node() {
	ts_stop "$NODE_PID"
	sed -i "s/^listen = .*/listen = 127.0.0.1:$NODE_PORT/" "$T/node/node.ini"
	TAPSHARE_NODE_STORE_BUSY=$1 ts_start_node
	[ -z "$1" ] || expect "node armed: $1 busy" wait_log "$T/node.log" "TAPSHARE_NODE_STORE_BUSY=$1:" 10
}
# req DESC CURL-ARGS...: the answer must be 503 store_busy with Retry-After
busy503() {
	local d=$1 st
	shift
	st=$("${CURL[@]}" -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" || true)
	expect "$d -> 503 store_busy ($st $(jq -r '.error.code // empty' "$T/b" 2>/dev/null))" \
		bash -c "[ '$st' = 503 ] && jq -e '.error.code == \"store_busy\"' '$T/b' >/dev/null && grep -qi '^retry-after: 1' '$T/h'"
}
es9busy() { # es9busy DESC FUNCTION BODY: Failed 1.2 / 4.4 with Retry-After
	local r
	r=$(es9 "$2" "$3" | sc)
	expect "$1 -> Failed 1.2 / 4.4 Busy ($r)" bash -c "[ '$r' = 'Failed 1.2 4.4' ] && grep -qi '^retry-after: 1' '$T/h'"
}
BEARER=(-H "Authorization: Bearer $TOKEN")
nshares() { sqlite3 "$T/node/node.db" "SELECT count(*) FROM shares"; }
attempts() { sqlite3 "$T/node/node.db" "SELECT coalesce(sum(attempts), 0) FROM pass_throttle"; }

# ---- the device lookup (every device-authenticated request) ----------------------
busy_node device_user
busy503 "GET /v1/apps" --cert "$A/device.crt" --key "$A/device.key" "${BEARER[@]}" "$NODE_URL/v1/apps"
pre_session
busy503 "owner page: sign-in with a device certificate" --cert "$A/device.crt" --key "$A/device.key" \
	-H "Cookie: __Host-tapshare_pre=$PRE" -H "X-CSRF-Token: $PCSRF" -H 'Content-Type: application/json' \
	--data "{\"user\":\"alice\",\"passphrase\":\"$PASS\"}" "$NODE_URL/owner/api/login"
busy503 "owner page: session state with a device certificate" --cert "$A/device.crt" --key "$A/device.key" \
	-H "Cookie: __Host-tapshare_session=$WSESS" "$NODE_URL/owner/api/session"
before=$(nshares)
busy503 "a companion redeems an offer (the offering device)" -X POST "$NODE_URL/v1/companion/offers" \
	-H 'Content-Type: application/json' -d "{\"eid\":\"$EID\",\"offer\":\"$(tr -d '\n' <"$T/offer.b64")\"}"
expect "... and no share was made" [ "$(nshares)" = "$before" ]

# ---- session tokens -----------------------------------------------------------------
busy_node token_check
busy503 "GET /v1/shares with a live token" --cert "$A/device.crt" --key "$A/device.key" "${BEARER[@]}" \
	"$NODE_URL/v1/shares"
busy503 "owner page: state of a live session" -H "Cookie: __Host-tapshare_session=$WSESS" "$NODE_URL/owner/api/state"
busy503 "owner page: whether signed in" -H "Cookie: __Host-tapshare_session=$WSESS" "$NODE_URL/owner/api/session"
busy503 "the companion's event stream" -H "Authorization: Bearer $(printf '%064d' 7)" \
	"$NODE_URL/v1/companion/events?eid=$EID"

# ---- shares, apps, accounts, ES9+ sessions -------------------------------------------
busy_node share_get,app_get,user_get,user_by_name,share_by_matching,tx_get
busy503 "GET /v1/shares/ID" --cert "$A/device.crt" --key "$A/device.key" "${BEARER[@]}" "$NODE_URL/v1/shares/$SID"
busy503 "cancel a share" --cert "$A/device.crt" --key "$A/device.key" "${BEARER[@]}" -X POST \
	-H "Idempotency-Key: busy-cancel" -H 'Content-Type: application/json' -d '{}' "$NODE_URL/v1/shares/$SID/cancel"
busy503 "the events of one share" --cert "$A/device.crt" --key "$A/device.key" "${BEARER[@]}" \
	"$NODE_URL/v1/events?share=$SID&after=0"
before=$(nshares)
busy503 "a share of an app" --cert "$A/device.crt" --key "$A/device.key" "${BEARER[@]}" -X POST \
	-H "Idempotency-Key: busy-share" -H 'Content-Type: application/json' \
	-d "{\"eid\":\"$EID2\",\"app_id\":\"sim-alice\"}" "$NODE_URL/v1/shares"
expect "... and no share was made" [ "$(nshares)" = "$before" ]
a0=$(attempts)
busy503 "POST /v1/session (the passphrase's hash)" --cert "$A/device.crt" --key "$A/device.key" -X POST \
	-H 'Content-Type: application/json' -d "{\"passphrase\":\"$PASS\"}" "$NODE_URL/v1/session"
pre_session
busy503 "owner page: sign-in (the user name)" -H "Cookie: __Host-tapshare_pre=$PRE" -H "X-CSRF-Token: $PCSRF" \
	-H 'Content-Type: application/json' --data "{\"user\":\"alice\",\"passphrase\":\"$PASS\"}" \
	"$NODE_URL/owner/api/login"
expect "... no passphrase attempt counted ($a0 -> $(attempts))" [ "$(attempts)" = "$a0" ]
es9busy "ES9+ initiateAuthentication (the matchingId)" initiateAuthentication "$INIT"
es9busy "ES9+ cancelSession (the transactionId)" cancelSession \
	"{\"transactionId\":\"$TID\",\"cancelSessionResponse\":\"$(printf '\xbf\x41\x03\x02\x01\x01' | base64)\"}"
es9busy "ES9+ authenticateClient (the transactionId)" authenticateClient \
	"{\"transactionId\":\"$TID\",\"authenticateServerResponse\":\"$(printf '\xbf\x38\x03\x02\x01\x01' | base64)\"}"

# ---- the admin commands: no answer is "try again", never "no user" / "no device" ------
# adm READS ARGS...: tapshare-node ARGS with READS busy; prints its --json error code
adm() {
	local reads=$1
	shift
	{ TAPSHARE_NODE_STORE_BUSY=$reads "$TS_BIN/tapshare-node" "$@" --dir "$T/node" --json 2>>"$T/adm.log" || true; } |
		tail -n1 | jq -r '.error.code // "ok"'
}
DEV=$("$TS_BIN/tapshare-node" device list --dir "$T/node" --json | jq -r '.data[0].device_id')
napps() { sqlite3 "$T/node/node.db" "SELECT count(*) FROM apps"; }
r=$(adm user_by_name user show alice)
expect "admin: user show, the name busy -> store ($r)" [ "$r" = store ]
r=$(adm user_by_name user code alice </dev/null)
expect "admin: user code, the name busy -> store ($r)" [ "$r" = store ]
r=$(adm user_by_name device list --user alice)
expect "admin: device list --user, the name busy -> store ($r)" [ "$r" = store ]
r=$(adm device_user device show "$DEV")
expect "admin: device show, the device busy -> store ($r)" [ "$r" = store ]
before=$(napps)
r=$(adm user_by_name app add --user alice --app-id sim-busy --name Busy --kind sim --provider operator)
expect "admin: app add, the user busy -> store ($r)" [ "$r" = store ]
r=$(adm app_get app add --user alice --app-id sim-busy --name Busy --kind sim --provider operator)
expect "admin: app add, whether the app exists busy -> store ($r)" [ "$r" = store ]
expect "... and no app was added" [ "$(napps)" = "$before" ]
r=$(adm "" user show nobody)
expect "admin, unarmed: an unknown user -> no_user ($r)" [ "$r" = no_user ]
r=$(adm "" device show 00)
expect "admin, unarmed: an unknown device -> no_device ($r)" [ "$r" = no_device ]

# ---- and answered once the store answers ----------------------------------------------
busy_node ""
st=$("${ACURL[@]}" -o "$T/b" -w '%{http_code}' "${BEARER[@]}" "$NODE_URL/v1/shares/$SID")
expect "unarmed: GET /v1/shares/ID -> 200, still authorised ($st)" \
	bash -c "[ '$st' = 200 ] && jq -e '.state == \"authorised\"' '$T/b' >/dev/null"
st=$("${CURL[@]}" -o "$T/b" -w '%{http_code}' -H "Cookie: __Host-tapshare_session=$WSESS" "$NODE_URL/owner/api/state")
expect "unarmed: the owner page's session lives on ($st)" [ "$st" = 200 ]
r=$(es9 cancelSession "{\"transactionId\":\"$(printf '%032d' 0)\",\"cancelSessionResponse\":\"vw==\"}" | sc)
expect "unarmed: an unknown transactionId is 8.10.1 / 3.9 ($r)" [ "$r" = "Failed 8.10.1 3.9" ]
ts_done
