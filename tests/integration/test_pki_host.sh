#!/usr/bin/env bash
# testpki / init --host NAME: the TLS certificates name real hosts (issue 10),
# and a client that checks host names reaches the node by that name.
source "$(dirname "$0")/lib.sh"
set +e # exit codes are checked one by one
NODE="$TS_BIN/tapshare-node"
"$NODE" testpki "$T/pki" --eid "$EID" --host node.example.net --host 192.0.2.7 --host 2001:db8::1 \
	>"$T/pki.log" 2>&1
expect "testpki --host: exit 0" test $? -eq 0
san=$(openssl x509 -in "$T/pki/node-tls.crt" -noout -ext subjectAltName 2>/dev/null)
expect "node certificate: DNS:node.example.net" grep -q "DNS:node.example.net" <<<"$san"
expect "node certificate: IP 192.0.2.7" grep -q "IP Address:192.0.2.7" <<<"$san"
expect "node certificate: IP 2001:db8::1" grep -qi "IP Address:2001:DB8:0:0:0:0:0:1" <<<"$san"
expect "node certificate: still 127.0.0.1 and localhost" grep -q "DNS:localhost" <<<"$san"
expect "node certificate: CN is the first host" \
	bash -c "openssl x509 -in '$T/pki/node-tls.crt' -noout -subject | grep -q 'CN *= *node.example.net'"
expect "provider certificate names the hosts too" \
	bash -c "openssl x509 -in '$T/pki/sp-tls.crt' -noout -ext subjectAltName | grep -q node.example.net"
for bad in "bad_host" "-lead.example" "trail-.example" "a..b" "x,DNS:evil" ""; do
	"$NODE" testpki "$T/bad" --eid "$EID" --host "$bad" >/dev/null 2>&1
	expect "testpki --host '$bad' refused (exit 2)" test $? -eq 2
done
expect "init --host together with --pki is refused" \
	bash -c "'$NODE' init --dir '$T/n0' --pki '$T/pki' --host x.example >/dev/null 2>&1; [ \$? -eq 2 ]"

# init generating its own PKI for a host; a client verifying the name connects.
"$NODE" init --dir "$T/node" --host tapshare.example.org --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
expect "init --host: exit 0" test $? -eq 0
ts_start_node
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/node/pki/node-ca.crt" \
	--resolve "tapshare.example.org:$NODE_PORT:127.0.0.1" "https://tapshare.example.org:$NODE_PORT/v1/nothing")
expect "a client checking the host name tapshare.example.org gets through TLS (HTTP $code)" test "$code" = 404
curl -s -o /dev/null --cacert "$T/node/pki/node-ca.crt" \
	--resolve "other.example.org:$NODE_PORT:127.0.0.1" "https://other.example.org:$NODE_PORT/v1/nothing"
expect "... and another name is refused by the client (curl exit 60)" test $? -eq 60
ts_done
