#!/usr/bin/env bash
# The node's directory and database are private (0700 / 0600) whatever
# existed before: `init` into an existing 0755 directory, and a database,
# WAL and shared-memory file someone left world-readable.
. "$(dirname "$0")/lib.sh"
mode() { stat -c %a "$1"; }
ts_pki
mkdir -m 0755 "$T/node"
expect "init into an existing 0755 directory" \
	"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 2>"$T/init.log"
expect "the node directory is 0700 after init (was 0755)" [ "$(mode "$T/node")" = 700 ]
expect "node.db is 0600 after init" [ "$(mode "$T/node/node.db")" = 600 ]
expect "node.ini is 0600" [ "$(mode "$T/node/node.ini")" = 600 ]

# While the node runs, its WAL and shared-memory files exist: private too.
ts_start_sp
ts_start_node
"$TS_BIN/tapshare-node" provider add operator "https://127.0.0.1:$SP_PORT" --dir "$T/node" 2>>"$T/init.log"
for f in node.db-wal node.db-shm; do
	expect "$f of the running node is 0600" [ "$(mode "$T/node/$f")" = 600 ]
done
# A crash leaves them behind; someone opens everything up; the next start closes it again.
kill -9 "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
expect "the WAL survived the crash" [ -f "$T/node/node.db-wal" ]
chmod 0755 "$T/node"
chmod 0644 "$T/node/node.db" "$T/node/node.db-wal" "$T/node/node.db-shm"
ts_start_node
expect "the node directory is 0700 again" [ "$(mode "$T/node")" = 700 ]
for f in node.db node.db-wal node.db-shm; do
	expect "$f is 0600 again (was 0644)" [ "$(mode "$T/node/$f")" = 600 ]
done
ts_stop "$NODE_PID"
# A database the node creates elsewhere is private too, whatever the umask.
sed -i "s|^database = .*|database = sqlite:$T/elsewhere.db|" "$T/node/node.ini"
(umask 022; "$TS_BIN/tapshare-node" shares --dir "$T/node" >/dev/null 2>>"$T/init.log")
expect "a new database elsewhere is created 0600 under umask 022" [ "$(mode "$T/elsewhere.db")" = 600 ]
ts_done
