#!/usr/bin/env bash
# A tapshare client sends its device certificate alone (issue 9, idle-stream
# memory): without SSL_MODE_NO_AUTO_CHAIN OpenSSL appended the node CA from
# the client's trust store (CURLOPT_CAINFO), and the node parsed that copy at
# every handshake and kept it, with its decoded key, for the life of the
# connection (~5 kB per idle event stream). Checked on the wire: an
# `openssl s_server -msg` asking for a client certificate in the node's place
# shows the client's Certificate message (its length as s_server prints it: the
# 4-byte handshake header included), whose length is that of exactly one
# certificate (TLS 1.3: 1 context byte, 3 list bytes, per entry 3 length bytes
# + DER + 2 extension bytes).
. "$(dirname "$0")/lib.sh"
ts_start_all --no-se
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl s_server -accept "127.0.0.1:$PORT" -cert "$T/pki/node-tls.crt" -key "$T/pki/node-tls.key" \
	-CAfile "$T/pki/node-ca.crt" -Verify 2 -msg -www -tls1_3 >"$T/s_server.log" 2>&1 &
SS=$!
PIDS+=("$SS")
for i in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
sed -i "s|^url = .*|url = https://127.0.0.1:$PORT|" "$T/alice/primary.ini"
alice shares >"$T/shares.log" 2>&1 || true # s_server answers no API: only the handshake matters
kill "$SS" 2>/dev/null
wait "$SS" 2>/dev/null || true
der=$(openssl x509 -in "$T/alice/device.crt" -outform der | wc -c)
ca=$(openssl x509 -in "$T/pki/node-ca.crt" -outform der | wc -c)
hex=$(sed -n 's/^<<< TLS 1.3, Handshake \[length \([0-9a-f]*\)\], Certificate$/\1/p' "$T/s_server.log" | head -n 1)
got=$((16#${hex:-0}))
echo "# client Certificate message: $got bytes; one certificate: $((der + 13)), with the CA: $((der + ca + 18))"
expect "the client sent a certificate" [ "$got" -gt 0 ]
expect "the client sent its device certificate alone, not the CA from its trust store" [ "$got" = $((der + 13)) ]
ts_done
