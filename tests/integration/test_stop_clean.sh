#!/usr/bin/env bash
# The node stops cleanly on SIGTERM whatever its connections are doing: the
# companion reconnecting its push channel (TLS handshake, stream
# authentication, the stream itself) while the node is stopped again and
# again at moments spread over that reconnect. Each stop must exit 0; in the
# sanitizer build that also means LeakSanitizer found nothing (a connection
# stopped in the middle of libevent's callbacks once stayed allocated with
# its SSL and SSL_CTX, and the sanitized node exited with status 134).
. "$(dirname "$0")/lib.sh"
ts_start_all

# Each round stops the node at one moment of the companion's reconnect:
# odd rounds right after the node logged the SE proof (the companion is then
# opening its stream on a connection whose last reply may still be going
# out), even rounds a little later or earlier, spread over 0.0 .. 0.9 s.
proofs() { grep -c "proved its secure element" "$T/node.log" || true; }
ROUNDS=16
for i in $(seq $ROUNDS); do
	before=$FAILS
	ts_stop "$NODE_PID"
	[ "$FAILS" = "$before" ] || break
	sed -i "s/^listen = .*/listen = 127.0.0.1:$NODE_PORT/" "$T/node/node.ini"
	p=$(proofs)
	ts_start_node
	if [ $((i % 2)) = 1 ]; then
		n=0
		while [ "$(proofs)" = "$p" ] && [ $n -lt 200 ]; do n=$((n + 1)); sleep 0.05; done
	else
		sleep "0.$(( (i * 7) % 10 ))"
	fi
done
expect "the node stopped cleanly $ROUNDS times while the companion reconnected" [ "$FAILS" = 0 ]
expect "the companion survived the restarts" kill -0 "$COMP_PID"
ts_done
