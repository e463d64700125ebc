#!/usr/bin/env bash
# The operator's admin commands (issue 10): user|app|provider|device
# list|show|remove in text and --json, `app add` refusing an existing id
# unless --replace, removals refused while they would orphan live shares,
# and --force cancelling those shares durably (S16 as the owner's cancel)
# before closing an account, which then can no longer be used while its
# name is free for a new account that inherits nothing.
. "$(dirname "$0")/lib.sh"
ts_start_all --no-se
N=("$TS_BIN/tapshare-node")
D=(--dir "$T/node")
CURL=(curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt")
dev() { local h=$1; shift; "${CURL[@]}" --cert "$h/device.crt" --key "$h/device.key" "$@"; }

# lists, text and JSON
out=$("${N[@]}" user list "${D[@]}")
expect "user list (text) has a header and alice and bob" \
	bash -c "grep -q '^USER ' <<<'$out' && grep -q '^alice ' <<<'$out' && grep -q '^bob ' <<<'$out'"
j=$("${N[@]}" user list "${D[@]}" --json)
expect "user list --json is an envelope with both users" \
	jq -e '.schema == 1 and (.data | map(.name) == ["alice", "bob"]) and (.data[0].user_id | type) == "number"' <<<"$j"
j=$("${N[@]}" user show alice "${D[@]}" --json)
expect "user show: one active device, two apps" \
	jq -e '.data.devices_active == 1 and (.data.apps | length) == 2 and .data.shares.live == 0' <<<"$j"
j=$("${N[@]}" app list "${D[@]}" --json)
expect "app list --json names each app's user" \
	jq -e '(.data | map(.app_id + "@" + .user) | sort) == ["sim-alice@alice", "sim-bob@bob", "svc-locked@alice"]' <<<"$j"
j=$("${N[@]}" app list --user bob "${D[@]}" --json)
expect "app list --user bob" jq -e '.data | map(.app_id) == ["sim-bob"]' <<<"$j"
j=$("${N[@]}" provider list "${D[@]}" --json)
expect "provider list --json" jq -e --arg u "https://127.0.0.1:$SP_PORT" '.data == [.data[0]] and .data[0].name == "operator" and .data[0].url == $u' <<<"$j"
j=$("${N[@]}" provider show operator "${D[@]}" --json)
expect "provider show lists the apps that name it" jq -e '(.data.apps | sort) == ["sim-alice", "sim-bob", "svc-locked"]' <<<"$j"
out=$("${N[@]}" app show sim-alice "${D[@]}")
expect "app show (text)" bash -c "grep -q '^user *alice' <<<'$out' && grep -q '^provider *operator' <<<'$out'"
j=$("${N[@]}" user show nobody "${D[@]}" --json) && st=0 || st=$?
expect "user show of an unknown user: exit 1, error envelope no_user" \
	bash -c "[ $st = 1 ] && jq -e '.schema == 1 and .error.code == \"no_user\" and (.error.message | test(\"nobody\"))' <<<'$j' >/dev/null"

# app add refuses an existing id unless --replace
out=$("${N[@]}" app add "${D[@]}" --user bob --app-id sim-alice --name "Stolen" --kind sim --provider operator 2>&1) &&
	st=0 || st=$?
expect "app add of an existing id is refused (exit 1, says --replace)" \
	bash -c "[ $st = 1 ] && grep -q 'already exists' <<<'$out' && grep -q -- '--replace' <<<'$out'"
expect "the refused app add changed nothing (still alice's)" \
	[ "$("${N[@]}" app show sim-alice "${D[@]}" --json | jq -r .data.user)" = alice ]
"${N[@]}" app add "${D[@]}" --user alice --app-id svc-tmp --name "Temp" --kind service --provider operator 2>/dev/null
expect "app add --replace overwrites" "${N[@]}" app add "${D[@]}" --user bob --app-id svc-tmp --name "Temp 2" \
	--kind service --provider operator --replace
expect "the replaced app is bob's now" [ "$("${N[@]}" app show svc-tmp "${D[@]}" --json | jq -r '.data.user + " " + .data.name')" = "bob Temp 2" ]
expect "app remove of an app without shares" "${N[@]}" app remove svc-tmp "${D[@]}"
expect_fail "the removed app is gone" "${N[@]}" app show svc-tmp "${D[@]}"

# a live share: authorised by the provider, no companion to download it
alice share --eid "$EID" --app sim-alice --no-wait >"$T/share.out" 2>&1
SHARE=$(alice shares --json | jq -r '(.data // .).shares[0].share_id')
wait_state "$SHARE" authorised 20 || true
expect "alice has a live share ($SHARE: $(node_state "$SHARE"))" [ "$(node_state "$SHARE")" = authorised ]

# provider remove: refused while apps name it (never forced)
j=$("${N[@]}" provider remove operator "${D[@]}" --json) && st=0 || st=$?
expect "provider remove refused while apps name it (provider_in_use)" \
	bash -c "[ $st = 1 ] && jq -e '.error.code == \"provider_in_use\" and (.data.apps | length) == 3' <<<'$j' >/dev/null"
expect "the provider is still there" "${N[@]}" provider show operator "${D[@]}"

# app remove: refused while a share of it is live
j=$("${N[@]}" app remove sim-alice "${D[@]}" --json) && st=0 || st=$?
expect "app remove refused while the share is live (live_shares)" \
	bash -c "[ $st = 1 ] && jq -e --arg s '$SHARE' '.error.code == \"live_shares\" and .data.live_shares[0].share_id == \$s' <<<'$j' >/dev/null"
expect "the app is still there" "${N[@]}" app show sim-alice "${D[@]}"

# device remove: alice's only device while she has a live share
A1=$(sed -n 's/^device_id *= *//p' "$T/alice/primary.ini")
j=$("${N[@]}" device remove "$A1" "${D[@]}" --json) && st=0 || st=$?
expect "device remove of the last device refused while shares are live (last_device)" \
	bash -c "[ $st = 1 ] && jq -e '.error.code == \"last_device\"' <<<'$j' >/dev/null"
j=$("${N[@]}" device show "$A1" "${D[@]}" --json)
expect "device show: active, alice's, one live share made from it" \
	jq -e '.data.state == "active" and .data.user == "alice" and .data.shares.live == 1' <<<"$j"

# user remove: refused while live, then --force
out=$("${N[@]}" user remove alice "${D[@]}" 2>&1) && st=0 || st=$?
expect "user remove refused while alice has a live share (exit 1, names it, says --force)" \
	bash -c "[ $st = 1 ] && grep -q 'live share' <<<'$out' && grep -q '${SHARE:0:16}' <<<'$out' && grep -q -- '--force' <<<'$out'"
expect "the refused removal changed nothing" [ "$(node_state "$SHARE")" = authorised ]
expect "alice still works" [ "$(dev "$T/alice" -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 200 ]
OLD_ID=$("${N[@]}" user show alice "${D[@]}" --json | jq .data.user_id)
j=$("${N[@]}" user remove alice "${D[@]}" --force --json)
expect "user remove --force: removed, the share cancelled, one device revoked" \
	jq -e --arg s "$SHARE" '.data.removed and .data.cancelled_shares == [$s] and .data.devices_revoked == 1' <<<"$j"
expect "the share was cancelled as its owner would (revoked, S16 logged)" [ "$(node_state "$SHARE")" = revoked ]
wait_log "$T/sp.log" "cancelOrder" 15 || true
expect "the provider was told (cancelOrder, through the running node's outbox)" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e '.data | map(select(.function == \"cancelOrder\")) | length == 1' >/dev/null"
expect "alice is no longer listed" \
	[ "$("${N[@]}" user list "${D[@]}" --json | jq -c '.data | map(.name)')" = '["bob"]' ]
expect "alice's apps are gone" [ "$("${N[@]}" app list "${D[@]}" --json | jq -c '.data | map(.app_id)')" = '["sim-bob"]' ]
expect "alice's device is refused (403)" \
	[ "$(dev "$T/alice" -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 403 ]
expect_fail "user show alice: no such user" "${N[@]}" user show alice "${D[@]}"
expect_fail "a tombstone name cannot be used" "${N[@]}" user show "#$OLD_ID" "${D[@]}"
expect_fail "user add refuses '#' names" bash -c "printf 'passphrase 1234\n' | '$TS_BIN/tapshare-node' user add '#9' --dir '$T/node'"

# the name is free again and the new account inherits nothing
code=$(printf 'a new passphrase 99\n' | "${N[@]}" user add alice "${D[@]}" 2>/dev/null)
NEW_ID=$("${N[@]}" user show alice "${D[@]}" --json | jq .data.user_id)
expect "a new alice gets a new id ($OLD_ID -> $NEW_ID)" [ -n "$NEW_ID" -a "$NEW_ID" != "$OLD_ID" ]
expect "the new alice has no devices, apps or shares" \
	bash -c "'$TS_BIN/tapshare-node' user show alice --dir '$T/node' --json | jq -e '.data.devices_total == 0 and (.data.apps | length) == 0 and .data.shares.live == 0 and (.data.shares.by_state | length) == 0' >/dev/null"
"$TS_BIN/tapshare" --home "$T/alice-new" enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$code" \
	--name "new phone" >>"$T/enroll.log" 2>&1
expect "the new alice's shares list is empty" \
	[ "$(TAPSHARE_PASSPHRASE='a new passphrase 99' "$TS_BIN/tapshare" --home "$T/alice-new" shares --json | jq '(.data // .).shares | length')" = 0 ]

# with no app naming it and no live share, the provider can go
"${N[@]}" app remove sim-bob "${D[@]}" 2>/dev/null
expect "provider remove once nothing needs it" "${N[@]}" provider remove operator "${D[@]}"
expect "provider list is empty" [ "$("${N[@]}" provider list "${D[@]}" --json | jq -c .data)" = '[]' ]

# device remove of a device with nothing live: revoked, still listed
B1=$(sed -n 's/^device_id *= *//p' "$T/bob/primary.ini")
expect "device remove (bob has no live share)" "${N[@]}" device remove "$B1" "${D[@]}"
expect "the removed device is listed as revoked" \
	[ "$("${N[@]}" device show "$B1" "${D[@]}" --json | jq -r .data.state)" = revoked ]
ts_stop "$NODE_PID"
ts_done
