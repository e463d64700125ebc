#!/usr/bin/env bash
# Every refusal the node must give synchronously (S11/S12), with the exact
# error code, and the authentication checks: no client certificate, wrong
# passphrase, another user's app, replayed request (idempotency).
. "$(dirname "$0")/lib.sh"
SP_POLICY='[default]
decision = approve
max_duration_s = 86400
[app.sim-denied]
decision = deny'
ts_start_all
"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-denied --name "Denied" \
	--kind sim --provider operator 2>/dev/null

ts_api_session

# post_share BODY [KEY] -> prints "HTTP_STATUS BODY"
post_share() {
	local key=${2:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
	"${ACURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/shares" -H "Authorization: Bearer $TOKEN" \
		-H "Idempotency-Key: $key" -H 'Content-Type: application/json' -d "$1"
}
code_of() { head -n1 <<<"$1" | jq -r '.error.code // .share_id'; }
status_of() { tail -n1 <<<"$1"; }

r=$(post_share "{\"eid\":\"89049032123451234512345678901234\",\"app_id\":\"sim-alice\"}")
expect "wrong check digits -> 400 eid_check_digits" [ "$(status_of "$r") $(code_of "$r")" = "400 eid_check_digits" ]
expect "the message names the right check digits" grep -q "should be 35" <<<"$r"

r=$(post_share "{\"eid\":\"8904903212345123451234567890123\",\"app_id\":\"sim-alice\"}")
expect "31 digits -> 400 eid_format" [ "$(status_of "$r") $(code_of "$r")" = "400 eid_format" ]

r=$(post_share "{\"eid\":\"89001012012341234012345678901224\",\"app_id\":\"sim-alice\"}")
expect "unknown manufacturer -> 400 unknown_manufacturer" [ "$(status_of "$r") $(code_of "$r")" = "400 unknown_manufacturer" ]

r=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"sim-bob\"}")
expect "another user's app -> 403 app_not_owned" [ "$(status_of "$r") $(code_of "$r")" = "403 app_not_owned" ]

r=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"svc-locked\"}")
expect "not shareable -> 403 not_shareable" [ "$(status_of "$r") $(code_of "$r")" = "403 not_shareable" ]

r=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"nope\"}")
expect "unknown app -> 404 unknown_app" [ "$(status_of "$r") $(code_of "$r")" = "404 unknown_app" ]

r=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\",\"duration_s\":-5}")
expect "negative duration -> 400 bad_duration" [ "$(status_of "$r") $(code_of "$r")" = "400 bad_duration" ]

r=$(post_share '{"eid": 1, "app_id": "sim-alice", "eid": 2}')
expect "duplicate JSON keys -> 400" [ "$(status_of "$r")" = 400 ]

# no client certificate
r=$("${CURL[@]}" -w '\n%{http_code}' "$NODE_URL/v1/apps")
expect "no client certificate -> 401 client_certificate_required" \
	[ "$(status_of "$r") $(code_of "$r")" = "401 client_certificate_required" ]

# wrong passphrase / no token / bad token
r=$("${ACURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/session" -d '{"passphrase":"wrong one!"}')
expect "wrong passphrase -> 401 wrong_passphrase" [ "$(status_of "$r") $(code_of "$r")" = "401 wrong_passphrase" ]
r=$("${ACURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/shares" -H 'Idempotency-Key: k1' \
	-d "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}")
expect "share without user authorisation -> 401 authorization_required" \
	[ "$(status_of "$r") $(code_of "$r")" = "401 authorization_required" ]
r=$("${ACURL[@]}" -w '\n%{http_code}' "$NODE_URL/v1/shares" -H "Authorization: Bearer 00$TOKEN")
expect "bad token -> 401 bad_token" [ "$(status_of "$r") $(code_of "$r")" = "401 bad_token" ]
# Bob's device cannot use Alice's token
r=$("${CURL[@]}" --cert "$T/bob/device.crt" --key "$T/bob/device.key" -w '\n%{http_code}' \
	"$NODE_URL/v1/shares" -H "Authorization: Bearer $TOKEN")
expect "token bound to its device -> 401 bad_token" [ "$(status_of "$r") $(code_of "$r")" = "401 bad_token" ]

# the CLI reports a wrong passphrase clearly
out=$(TAPSHARE_PASSPHRASE=wrongwrong alice share --link "sim:$T/link.sock" --app sim-alice --no-wait 2>&1 || true)
expect "CLI: wrong passphrase is reported" grep -qi "passphrase" <<<"$out"

# replayed request: same Idempotency-Key and body -> same answer, one share
r1=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" replay-key-1)
r2=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" replay-key-1)
expect "first request accepted (201)" [ "$(status_of "$r1")" = 201 ]
expect "replay answered with the same share" [ "$(code_of "$r1")" = "$(code_of "$r2")" ]
expect "replay created nothing" [ "$(alice shares --json | jq '.data | .shares | length')" = 1 ]
r3=$(post_share "{\"eid\":\"$EID2\",\"app_id\":\"sim-alice\"}" replay-key-1)
expect "same key, other body -> 409 idempotency_conflict" [ "$(status_of "$r3") $(code_of "$r3")" = "409 idempotency_conflict" ]

# provider denies
r=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"sim-denied\"}")
DENIED=$(code_of "$r")
expect "denied app still gets the first confirmation (201)" [ "$(status_of "$r")" = 201 ]
expect "provider denial -> share denied" wait_state "$DENIED" denied 20
out=$(alice shares --json | jq -r --arg id "$DENIED" '.data | .shares[] | select(.share_id == $id) | .reason')
expect "denial reason recorded" [ -n "$out" ]
out=$(alice share --link "sim:$T/link.sock" --app sim-denied --timeout 30 2>&1) && fail "CLI exits 1 on denial" || ok "CLI exits 1 on denial"
expect "CLI shows the denial" grep -qi "denied" <<<"$out"

# another user's device: Bob's phone, with Bob's own valid token, names
# Alice's share on every endpoint that takes a share id
BCURL=("${CURL[@]}" --cert "$T/bob/device.crt" --key "$T/bob/device.key")
BTOKEN=$("${BCURL[@]}" -X POST "$NODE_URL/v1/session" -d '{"passphrase":"bob'"'"'s passphrase 42"}' | jq -r .token)
ALICE_SHARE=$(code_of "$r1")
r=$("${BCURL[@]}" -w '\n%{http_code}' "$NODE_URL/v1/shares/$ALICE_SHARE" -H "Authorization: Bearer $BTOKEN")
expect "another user's device: GET share -> 404 unknown_share" [ "$(status_of "$r") $(code_of "$r")" = "404 unknown_share" ]
r=$("${BCURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/shares/$ALICE_SHARE/cancel" -H "Authorization: Bearer $BTOKEN" \
	-H 'Idempotency-Key: bob-cancel' -d '{}')
expect "another user's device: cancel -> 404 unknown_share" [ "$(status_of "$r") $(code_of "$r")" = "404 unknown_share" ]
expect "... and the share was not cancelled" bash -c "[ \"\$(alice shares --json | jq -r '.data | .shares[0].state')\" != revoked ] && ! grep -q 'S16 cancel requested for share $ALICE_SHARE' '$T/node.log'"
r=$("${BCURL[@]}" -w '\n%{http_code}' --max-time 3 "$NODE_URL/v1/events?share=$ALICE_SHARE" 2>/dev/null || true)
expect "another user's device: event stream of the share -> 404 unknown_share" \
	[ "$(status_of "$r") $(code_of "$r")" = "404 unknown_share" ]
r=$("${BCURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/apps/sim-alice/release" -H "Authorization: Bearer $BTOKEN" \
	-H 'Idempotency-Key: bob-release' -d "{\"share_id\":\"$ALICE_SHARE\"}")
expect "another user's device: release of the app -> 404 unknown_app" [ "$(status_of "$r") $(code_of "$r")" = "404 unknown_app" ]
r=$("${ACURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/apps/sim-denied/release" -H "Authorization: Bearer $TOKEN" \
	-H 'Idempotency-Key: early-release' -d "{\"share_id\":\"$DENIED\"}")
expect "release of an original whose share never installed -> 409 move_incomplete" \
	[ "$(status_of "$r") $(code_of "$r")" = "409 move_incomplete" ]

# a database held locked by another process: a clear 503 at once, not a freeze
# (the locker holds the lock until told, at most 20 s: a loaded machine must
# not let it go before the request arrives)
python3 -c 'import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
t = time.time()
while not os.path.exists(sys.argv[2]) and time.time() - t < 20:
    time.sleep(0.05)' "$T/node/node.db" "$T/unlock" >"$T/locker.out" 2>&1 &
LOCKER=$!
wait_file "$T/locker.out" 5
t0=$(date +%s%N)
r=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" busy-key-1)
ms=$((($(date +%s%N) - t0) / 1000000))
expect "locked database -> 503 store_busy" [ "$(status_of "$r") $(code_of "$r")" = "503 store_busy" ]
expect "... within a second ($ms ms), not after the 10 s lock wait" [ "$ms" -lt 1500 ]
touch "$T/unlock"
wait "$LOCKER" 2>/dev/null || true
r=$(post_share "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" busy-key-1)
expect "the same request once the lock is gone -> 201" [ "$(status_of "$r")" = 201 ]

# guessing: after 5 wrong passphrases in 5 minutes the device is throttled
for i in 1 2 3 4 5 6; do
	r=$("${ACURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/session" -d '{"passphrase":"guess guess"}')
done
expect "repeated wrong passphrases -> 429 too_many_attempts" [ "$(status_of "$r") $(code_of "$r")" = "429 too_many_attempts" ]
r=$("${ACURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/session" -d "{\"passphrase\":\"$PASS\"}")
expect "while throttled even the right passphrase waits" [ "$(status_of "$r")" = 429 ]
r=$("${CURL[@]}" --cert "$T/bob/device.crt" --key "$T/bob/device.key" -w '\n%{http_code}' -X POST \
	"$NODE_URL/v1/session" -d '{"passphrase":"bob'"'"'s passphrase 42"}')
expect "another device is not throttled" [ "$(status_of "$r")" = 201 ]
ts_done
