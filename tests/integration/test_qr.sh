#!/usr/bin/env bash
# S1 over a QR code (issue 3): the companion shows its NDEF identity as a QR
# code (PNG + terminal), the primary decodes the PNG and the share completes;
# foreign, damaged and non-PNG images are refused with a clear error.
. "$(dirname "$0")/lib.sh"
TS_SRC=${TS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
QRDATA="$TS_SRC/tests/data/qr"
ts_start_all

# The companion agent holds the inproc SE too; show-qr only reads the EID.
out=$(LC_ALL=C.UTF-8 "$TS_BIN/tapshare-companion" show-qr --se "inproc:$T/se.state" \
	--name "Alice's watch" --png "$T/id.png" 2>&1) || { echo "$out"; fail "show-qr runs"; }
expect "show-qr names the EID" grep -q "S1 EID $EID as a QR code" <<<"$out"
expect "show-qr draws half blocks in a UTF-8 locale" grep -q "▀" <<<"$out"
expect "show-qr wrote a PNG" bash -c "head -c 8 '$T/id.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
out=$(LC_ALL=C "$TS_BIN/tapshare-companion" show-qr --se "inproc:$T/se.state" 2>&1) || fail "show-qr (C locale)"
expect "show-qr falls back to ASCII outside UTF-8" bash -c "grep -q '##' <<<\"\$1\" && ! grep -q '▀' <<<\"\$1\"" _ "$out"
expect_fail "show-qr without --se is a usage error" "$TS_BIN/tapshare-companion" show-qr --png "$T/x.png"
"$TS_BIN/tapshare-companion" show-qr --png "$T/x.png" >/dev/null 2>&1 && st=0 || st=$?
expect "show-qr usage error exits 2" [ "$st" = 2 ]

# The whole flow with S1 read from the PNG.
out=$(alice share --link "qr:$T/id.png" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share over qr completes"; }
echo "$out"
expect "S1 EID read from the QR code" grep -q "S1 read EID $EID over qr:$T/id.png (Alice's watch)" <<<"$out"
expect "S5 first confirmation shown" grep -q "S5 first confirmation" <<<"$out"
expect "S6 second confirmation shown" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
expect "node says installed" [ "$(node_state "$SHARE")" = installed ]

# share_err NAME SPEC: runs a share that must fail before reaching the node.
share_err() {
	local st=0
	alice share --link "$2" --app sim-alice --timeout 5 >"$T/$1.out" 2>&1 || st=$?
	cat "$T/$1.out"
	echo "$st" >"$T/$1.st"
}
share_err foreign "qr:$QRDATA/foreign-url.png"
expect "foreign QR: exit 1" [ "$(cat "$T/foreign.st")" = 1 ]
expect "foreign QR: clear error" grep -q "foreign QR code: not a tapshare companion identity" "$T/foreign.out"

share_err damaged "qr:$QRDATA/damaged-identity.png"
expect "damaged QR: exit 1" [ "$(cat "$T/damaged.st")" = 1 ]
expect "damaged QR: clear error" grep -q "damaged beyond its error correction" "$T/damaged.out"

printf 'not an image\n' >"$T/text.png"
share_err notpng "qr:$T/text.png"
expect "not a PNG: exit 1" [ "$(cat "$T/notpng.st")" = 1 ]
expect "not a PNG: clear error" grep -q "is not a PNG image" "$T/notpng.out"

share_err missing "qr:$T/nope.png"
expect "missing file: exit 1" [ "$(cat "$T/missing.st")" = 1 ]
expect "missing file: clear error" grep -q "no such file" "$T/missing.out"

if [ ! -e /dev/video0 ]; then
	share_err camera "qr:camera"
	expect "qr:camera without a camera: usage error" [ "$(cat "$T/camera.st")" = 2 ]
	expect "qr:camera without a camera: clear error" grep -q "no camera" "$T/camera.out"
fi
expect "failed reads created no share" [ "$(alice shares --json | jq '.data | .shares | length')" = 1 ]
ts_done
