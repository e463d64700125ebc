#!/usr/bin/env bash
# `tapshare-node user add` on a terminal prompts without echoing the
# passphrase (issue 10). util-linux script(1) gives the command a pty; the
# passphrase is typed a second after start, once the prompt is up.
source "$(dirname "$0")/lib.sh"
if ! command -v script >/dev/null; then
	echo "skip - script(1) (util-linux) not installed: no pty to test with"
	ts_done
	exit 0
fi
ts_pki
"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
SECRET="Sup3r-secret-phrase-42"
(sleep 1; printf '%s\n' "$SECRET") |
	script -qec "'$TS_BIN/tapshare-node' user add carol --dir '$T/node'" /dev/null >"$T/tty.out" 2>&1
st=$?
expect "user add on a terminal succeeds" test $st -eq 0
expect "... it prompted on the terminal" grep -q "passphrase for carol (not shown):" "$T/tty.out"
expect "... and printed an enrollment code" grep -qE '^[0-9a-f]{5}-[0-9a-f]{5}-[0-9a-f]{5}-[0-9a-f]{5}' "$T/tty.out"
expect_fail "... the passphrase was not echoed" grep -q "$SECRET" "$T/tty.out"

# The first line of a pipe is taken as before, without a prompt.
out=$(printf 'another passphrase\n' | "$TS_BIN/tapshare-node" user add erin --dir "$T/node" 2>&1)
expect "piped passphrase: no prompt" bash -c "! grep -q 'not shown' <<<'$out'"
expect "too short passphrase refused" \
	bash -c "printf 'short\n' | '$TS_BIN/tapshare-node' user add frank --dir '$T/node' 2>/dev/null; [ \$? -eq 1 ]"

# What was typed is the account's passphrase: carol enrolls and signs in with it.
CODE=$(grep -oE '^[0-9a-f]{5}-[0-9a-f]{5}-[0-9a-f]{5}-[0-9a-f]{5}' "$T/tty.out" | head -1)
ts_start_node
expect "carol enrolls with the code" "$TS_BIN/tapshare" --home "$T/carol" enroll --node "$NODE_URL" \
	--ca "$T/pki/node-ca.crt" --code "$CODE" --name "Carol's phone"
# (the wrong one first: a good one leaves a session token behind)
expect_fail "another one is not" env TAPSHARE_PASSPHRASE="not the passphrase" "$TS_BIN/tapshare" --home "$T/carol" shares
expect "the typed passphrase is hers" env TAPSHARE_PASSPHRASE="$SECRET" "$TS_BIN/tapshare" --home "$T/carol" shares
ts_done
