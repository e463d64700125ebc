#!/usr/bin/env bash
# Device revocation: a lost phone is revoked from another of the user's
# devices, from the phone itself, or by the operator; it is then refused at
# once on every endpoint class (apps, events, session, shares, cancel,
# release, devices, offers it signed) and its open event stream ends.
. "$(dirname "$0")/lib.sh"
ts_start_all --no-se
CURL=(curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt")
dev() { local h=$1; shift; "${CURL[@]}" --cert "$h/device.crt" --key "$h/device.key" "$@"; }
for h in alice2 alice3; do
	code=$("$TS_BIN/tapshare-node" user code alice --dir "$T/node" 2>/dev/null)
	"$TS_BIN/tapshare" --home "$T/$h" enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$code" \
		--name "$h" >>"$T/enroll.log" 2>&1
done
id_of() { sed -n 's/^device_id *= *//p' "$T/$1/primary.ini"; }
A2=$(id_of alice2)
expect "alice2 has a device id" [ ${#A2} -eq 64 ]
token() {
	dev "$T/$1" -X POST "$NODE_URL/v1/session" -H 'Content-Type: application/json' \
		-d "{\"passphrase\":\"$2\"}" | jq -r .token
}
T2=$(token alice2 "$PASS")
expect "alice2 logs in" [ ${#T2} -eq 64 ]
"$TS_BIN/tapshare" --home "$T/alice2" offer --app sim-alice --print-offer "$T/a2.b64" --eid "$EID2" >/dev/null
expect "alice2 signed an offer" [ -s "$T/a2.b64" ]
dev "$T/alice2" -N --max-time 30 "$NODE_URL/v1/events" >"$T/a2-stream.out" 2>/dev/null &
A2_STREAM=$!
wait_log "$T/a2-stream.out" "stream open" 10
expect "alice2's event stream is open" grep -q "stream open" "$T/a2-stream.out"
expect "alice2 lists apps before the revocation" \
	[ "$(dev "$T/alice2" -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 200 ]

# bob cannot revoke alice's device (it is not his)
out=$(bob device revoke "$A2" 2>&1 || true)
expect "bob cannot revoke alice's device" grep -q "unknown_device" <<<"$out"

# alice revokes her lost phone from her own phone
out=$(alice device list 2>&1)
expect "alice lists her devices (3, this one marked)" \
	[ "$(grep -c ' active ' <<<"$out")" = 3 -a "$(grep -c '^\*' <<<"$out")" = 1 ]
expect "alice revokes alice2" alice device revoke "$A2"
out=$(alice device list --json | jdata)
expect "alice2 is listed as revoked" \
	[ "$(jq -r --arg id "$A2" '.devices[] | select(.device_id == $id) | .revoked_at > 0' <<<"$out")" = true ]
i=0
while kill -0 "$A2_STREAM" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
expect "alice2's open event stream ended at once (${i}00 ms)" [ $i -lt 30 ]
wait "$A2_STREAM" 2>/dev/null || true

# every endpoint class refuses alice2, even with its old token
AUTH=(-H "Authorization: Bearer $T2" -H "Idempotency-Key: k-$RANDOM" -H 'Content-Type: application/json')
# refused DESC CURL-ARGS... : 403 device_revoked
refused() {
	local d=$1; shift
	local r
	r=$(dev "$T/alice2" "${AUTH[@]}" -w '\n%{http_code}' "$@")
	expect "revoked device: $d -> 403 device_revoked" \
		[ "$(tail -n1 <<<"$r") $(head -n1 <<<"$r" | jq -r .error.code)" = "403 device_revoked" ]
}
refused "GET /v1/apps" "$NODE_URL/v1/apps"
refused "GET /v1/events" "$NODE_URL/v1/events"
refused "POST /v1/session" -X POST "$NODE_URL/v1/session" -d "{\"passphrase\":\"$PASS\"}"
refused "POST /v1/shares" -X POST "$NODE_URL/v1/shares" -d "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}"
refused "GET /v1/shares" "$NODE_URL/v1/shares"
refused "GET /v1/shares/ID" "$NODE_URL/v1/shares/0123456789abcdef"
refused "POST /v1/shares/ID/cancel" -X POST "$NODE_URL/v1/shares/0123456789abcdef/cancel" -d '{}'
refused "POST /v1/apps/ID/release" -X POST "$NODE_URL/v1/apps/sim-alice/release" -d '{"share_id":"x"}'
refused "GET /v1/devices" "$NODE_URL/v1/devices"
refused "POST /v1/devices/self/revoke" -X POST "$NODE_URL/v1/devices/self/revoke" -d '{}'
r=$("${CURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/companion/offers" -H 'Content-Type: application/json' \
	-d "{\"eid\":\"$EID2\",\"offer\":\"$(tr -d '\n' <"$T/a2.b64")\"}")
expect "an offer the revoked device signed is not redeemed ($(tail -n1 <<<"$r"))" \
	[ "$(tail -n1 <<<"$r")" = 403 ]
expect "alice's other phone still works" \
	[ "$(dev "$T/alice" -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 200 ]

# a phone revokes itself
expect "alice3 revokes itself" "$TS_BIN/tapshare" --home "$T/alice3" device revoke
expect "alice3 is refused afterwards" \
	[ "$(dev "$T/alice3" -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 403 ]

# the operator revokes bob's phone while its stream is open: another process,
# so the running node finds out by itself within a tick
dev "$T/bob" -N --max-time 30 "$NODE_URL/v1/events" >"$T/bob-stream.out" 2>/dev/null &
B_STREAM=$!
wait_log "$T/bob-stream.out" "stream open" 10
B=$(id_of bob)
out=$("$TS_BIN/tapshare-node" device list --dir "$T/node" --user bob)
expect "operator lists bob's device" grep -q "$B  bob" <<<"$out"
expect "operator revokes bob's device" "$TS_BIN/tapshare-node" device revoke "$B" --dir "$T/node"
i=0
while kill -0 "$B_STREAM" 2>/dev/null && [ $i -lt 40 ]; do sleep 0.1; i=$((i + 1)); done
expect "bob's open stream ended within a tick of the operator's revocation (${i}00 ms)" [ $i -lt 40 ]
wait "$B_STREAM" 2>/dev/null || true
expect "bob is refused" [ "$(dev "$T/bob" -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 403 ]
st=0; "$TS_BIN/tapshare-node" device revoke "$B" --dir "$T/node" 2>/dev/null || st=$?
expect "revoking twice fails (already revoked)" [ $st -eq 1 ]
ts_done
