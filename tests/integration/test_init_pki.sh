#!/usr/bin/env bash
# SGP.22 certificate profile at the node's edge (issue 7 item 6): `init --pki`
# takes an operator's PKI laid out as documented and refuses, with file and
# reason, what it cannot use; `check` and `run` refuse an unusable EUM
# instead of skipping it; tapshare-se refuses an eUICC outside its EUM's
# nameConstraints. Certificates made here with the openssl CLI stand for an
# operator's own (independent of the project's issuing code).
. "$(dirname "$0")/lib.sh"
N=0
init() { N=$((N + 1)); "$TS_BIN/tapshare-node" init --dir "$T/n$N" --pki "$1" --listen 127.0.0.1:0 >"$T/init.log" 2>&1; }

"$TS_BIN/tapshare-node" testpki "$T/pki" --eid "$EID" --ein 89049032 2>"$T/pki.log"
expect "the test PKI is a usable --pki DIR" init "$T/pki"
D="$T/n$N"
expect "node.ini names DPauth and DPpb" bash -c "grep -q '^auth_cert = .*/dpauth.crt' '$D/node.ini' && grep -q '^pb_cert = .*/dppb.crt' '$D/node.ini'"
expect "check: configuration OK" "$TS_BIN/tapshare-node" check --dir "$D"

# An operator's SGP.22 set alone (no node CA): init makes a fresh node CA.
mkdir "$T/op"
cp "$T/pki/"{ci.crt,eum.crt,dpauth.crt,dpauth.key,dppb.crt,dppb.key} "$T/op/"
expect "CI, EUM, DPauth and DPpb alone are accepted" init "$T/op"
expect "a node CA was generated" grep -q "generated a fresh node CA" "$T/init.log"
expect "... and the node runs checks clean" "$TS_BIN/tapshare-node" check --dir "$T/n$N"

# variant DIR: a copy of the operator set to spoil
variant() { rm -rf "$T/v"; cp -r "$T/op" "$T/v"; }
# leaf NAME POLICY [DAYS]: DIR/v/NAME.{crt,key} issued by the CI with openssl
leaf() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/v/$1.key" 2>/dev/null
	openssl req -new -key "$T/v/$1.key" -subj "/O=Operator/CN=$1" -out "$T/v/$1.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\ncertificatePolicies=critical,%s\n' "$2" >"$T/v/$1.ext"
	openssl x509 -req -in "$T/v/$1.csr" -CA "$T/pki/ci.crt" -CAkey "$T/pki/ci.key" -days "${3:-30}" \
		-extfile "$T/v/$1.ext" -out "$T/v/$1.crt" 2>/dev/null
}
refused() { # DESCRIPTION FILE REASON-PATTERN
	if init "$T/v"; then fail "$1 (accepted)"; return; fi
	if grep -q "$T/v/$2: .*$3" "$T/init.log"; then ok "$1"; else cat "$T/init.log"; fail "$1 (message)"; fi
}

variant; leaf dpauth 2.23.146.1.2.1.4
expect "an operator's DPauth made with openssl is accepted" init "$T/v"
variant; cp "$T/v/dpauth.crt" "$T/v/dppb.crt"; cp "$T/v/dpauth.key" "$T/v/dppb.key"
refused "DPauth where DPpb is needed: refused" dppb.crt "cannot serve as DPpb: not a DPpb certificate: no certificate policy 2.23.146.1.2.1.5"
variant; leaf dpauth 2.23.146.1.2.1.7
refused "a wrong policy OID (SM-DS auth) on DPauth: refused" dpauth.crt "cannot serve as DPauth"
variant; leaf dppb 2.23.146.1.2.1.5 -1
refused "an expired DPpb: refused" dppb.crt "certificate has expired"
variant; leaf dppb 2.23.146.1.2.1.5; cp "$T/v/dpauth.key" "$T/v/dppb.key"
refused "a key that is not its certificate's: refused" dppb.key "does not belong"
variant; openssl req -new -key "$T/v/dpauth.key" -subj "/O=Operator/CN=dppb" -out "$T/v/dppb.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\ncertificatePolicies=critical,2.23.146.1.2.1.5\n' >"$T/v/dppb.ext"
openssl x509 -req -in "$T/v/dppb.csr" -CA "$T/pki/ci.crt" -CAkey "$T/pki/ci.key" -days 30 -extfile "$T/v/dppb.ext" \
	-out "$T/v/dppb.crt" 2>/dev/null
cp "$T/v/dpauth.key" "$T/v/dppb.key"
refused "DPpb with the DPauth key (one key for both roles): refused" dppb.crt "has the DPauth key"

# EUMs made with openssl: with the SGP.22 nameConstraints (accepted), without (refused).
eum() { # NAME EXTRA-EXT-LINE
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/v/$1.key" 2>/dev/null
	openssl req -new -key "$T/v/$1.key" -subj "/O=Operator EUM/CN=$1" -out "$T/v/$1.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\ncertificatePolicies=critical,2.23.146.1.2.1.2\n%s\n[nc]\nO=Operator EUM\nserialNumber=89001012\n' "$2" >"$T/v/$1.ext"
	openssl x509 -req -in "$T/v/$1.csr" -CA "$T/pki/ci.crt" -CAkey "$T/pki/ci.key" -days 30 \
		-extfile "$T/v/$1.ext" -out "$T/v/$1.crt" 2>/dev/null
}
variant; eum eum2 "nameConstraints=critical,permitted;dirName:nc"; cat "$T/v/eum2.crt" >>"$T/v/eum.crt"
expect "a second EUM with SGP.22 nameConstraints (made with openssl) is accepted" init "$T/v"
D="$T/n$N"
expect_fail "... and the log no longer says 'trusted EID prefixes:' with nothing after it" \
	grep -q "trusted EID prefixes: *)" "$T/init.log"
variant; eum eum2 ""; cat "$T/v/eum2.crt" >>"$T/v/eum.crt"
refused "an EUM without nameConstraints: refused, not skipped" eum.crt "EUM certificate 2 .* cannot be used: no nameConstraints"
variant; eum eum2 "nameConstraints=critical,permitted;DNS:example.com"; cat "$T/v/eum2.crt" >>"$T/v/eum.crt"
refused "an EUM whose nameConstraints are not SGP.22's: refused" eum.crt "not in the SGP.22 form"
expect "nothing was written for a refused PKI" [ ! -e "$T/n$N/node.ini" ]

# The same EUM put into a running node's [trust] eum: check and run refuse it.
cp "$T/v/eum.crt" "$D/pki/eum.crt"
out=$("$TS_BIN/tapshare-node" check --dir "$D" 2>&1 || true)
expect "check refuses the EUM with the reason" grep -q "\[trust\] eum: .*EUM certificate 2 .*cannot be used" <<<"$out"
expect_fail "run refuses it too" timeout 10 "$TS_BIN/tapshare-node" run --dir "$D"
# An old single [sign] cert/key: a message naming the new keys.
sed -i 's/^auth_cert = /cert = /' "$D/node.ini"
out=$("$TS_BIN/tapshare-node" check --dir "$D" 2>&1 || true)
expect "the old [sign] cert is refused with a message naming auth_cert/pb_cert" grep -q "name the DPauth certificate and key as auth_cert/auth_key" <<<"$out"

# The SE: an eUICC outside its EUM's nameConstraints is refused at init.
"$TS_BIN/tapshare-node" testpki "$T/pki2" --eid 89001012012341234012345678901224 --ein 89049032 2>>"$T/pki.log" || true
if [ -e "$T/pki2/euicc-89001012012341234012345678901224.crt" ]; then
	expect_fail "tapshare-se refuses an eUICC certificate outside its EUM's range" \
		"$TS_BIN/tapshare-se" init --state "$T/se2.state" --pki "$T/pki2" --eid 89001012012341234012345678901224
else
	fail "testpki made the out-of-range eUICC"
fi
ts_done
