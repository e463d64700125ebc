#!/usr/bin/env bash
# Passphrase logins (POST /v1/session): the throttle counts per device and
# per account, no other device resets a window, a restart forgets nothing;
# and scrypt runs off the event loop, so logins do not delay other requests.
. "$(dirname "$0")/lib.sh"
ts_start_all --no-se
CURL=(curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt")
dev() { local h=$1; shift; "${CURL[@]}" --cert "$h/device.crt" --key "$h/device.key" "$@"; }
# login HOME PASS -> prints the HTTP status
login() {
	dev "$1" -o "$T/login.out" -w '%{http_code}' -X POST "$NODE_URL/v1/session" \
		-H 'Content-Type: application/json' -d "{\"passphrase\":\"$2\"}"
}
# more devices for alice
for h in alice2 alice3; do
	code=$("$TS_BIN/tapshare-node" user code alice --dir "$T/node" 2>/dev/null)
	"$TS_BIN/tapshare" --home "$T/$h" enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$code" \
		--name "$h" >>"$T/enroll.log" 2>&1
done

# Alice's phone guesses; Bob's phone guesses in between (another device,
# another account, whatever slot its key hashes to) and resets nothing.
st=""
for i in 1 2 3 4 5; do
	st="$st$(login "$T/alice" "wrong guess $i") "
	[ $i -lt 5 ] && login "$T/bob" "bob guesses $i" >/dev/null
done
expect "5 wrong passphrases from one device -> 401 each ($st)" [ "$st" = "401 401 401 401 401 " ]
st=$(login "$T/alice" "wrong guess 6")
expect "the 6th from that device -> 429 ($st)" [ "$st" = 429 ]
expect "429 says why" grep -q '"too_many_attempts"' "$T/login.out"
ra=$(dev "$T/alice" -o /dev/null -D - -X POST "$NODE_URL/v1/session" -d '{"passphrase":"x"}' |
	tr -d '\r' | awk -F': ' 'tolower($1)=="retry-after"{print $2}')
expect "429 carries Retry-After within the window ($ra s)" [ "${ra:-0}" -gt 0 -a "${ra:-0}" -le 300 ]
st=$(login "$T/alice" "$PASS")
expect "even the right passphrase waits for the window to end ($st)" [ "$st" = 429 ]

# The window survives a restart of the node.
ts_stop "$NODE_PID"
ts_start_node
st=$(login "$T/alice" "$PASS")
expect "after a node restart the device is still throttled ($st)" [ "$st" = 429 ]

# Per account: alice's second device gets its 5, then the account is full
# (10) and her third device is refused on its first attempt.
st=""
for i in 1 2 3 4 5; do st="$st$(login "$T/alice2" "wrong again $i") "; done
expect "alice's second device: 5 x 401 ($st)" [ "$st" = "401 401 401 401 401 " ]
st=$(login "$T/alice3" "$PASS")
expect "alice's third device: 429, the account's limit ($st)" [ "$st" = 429 ]
expect "the refusal names the account" grep -q "for this account" "$T/login.out"
st=$(login "$T/bob" "bob's passphrase 42")
expect "bob is not affected by alice's throttle ($st)" [ "$st" = 201 ]

# scrypt off the event loop: three clients log in in a loop; a cheap request
# (GET /v1/apps) meanwhile stays fast. With scrypt on the loop thread every
# request waited for the logins queued before it (~300-400 ms measured).
loop_login() {
	local end=$((SECONDS + 6))
	while [ $SECONDS -lt $end ]; do
		[ "$(login "$T/bob" "bob's passphrase 42")" = 201 ] && echo ok >>"$T/logins.$1"
	done
}
LPIDS=()
for k in 1 2 3; do loop_login $k & LPIDS+=($!); done
sleep 1
: >"$T/lat"
for i in $(seq 1 15); do
	dev "$T/alice" -o /dev/null -w '%{time_total}\n' "$NODE_URL/v1/apps" >>"$T/lat"
done
wait "${LPIDS[@]}"
logins=$(cat "$T"/logins.* 2>/dev/null | wc -l)
# whole request: connect, TLS handshake (also served by the loop), answer
med=$(awk '{printf "%d\n", $1 * 1000}' "$T/lat" | sort -n | sed -n 8p)
echo "logins meanwhile: $logins; median GET /v1/apps: ${med} ms"
expect "logins ran meanwhile ($logins)" [ "$logins" -ge 6 ]
expect "a cheap request is not delayed by concurrent logins (median ${med} ms < 150 ms)" [ "$med" -lt 150 ]
ts_done
