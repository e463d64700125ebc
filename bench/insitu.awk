# bench/insitu.awk — bench/insitu.sh's attribution of perf samples to the
# floor's primitives (tested by bench/insitu_test.sh on made-up samples).
# Input: `perf script -F comm,tid,ip,sym,dso` output, one sample per
# paragraph. Variables: freq (Hz), node_ms (node CPU per flow in the run),
# floorf (lines "name count price part_us", the floor's new definition).
function fl(names,   k, n, a, s) { n = split(names, a, ","); s = 0; for (k = 1; k <= n; k++) s += F[a[k]]; return s }
BEGIN {
	while ((getline line < floorf) > 0) { split(line, q, " "); F[q[1]] = q[4] }
	close(floorf)
	RS = ""
	# primitive: stack patterns (first match wins, in this order) and floor parts
	np = split("fsync verify sign ecdh_derive keygen pkey_import sqlite tls_server provider_call json", P, " ")
	pat["fsync"] = "fdatasync";              fp["fsync"] = "fsync"
	pat["verify"] = "pki_verify";            fp["verify"] = "verify"
	pat["sign"] = "pki_sign";                fp["sign"] = "sign"
	pat["ecdh_derive"] = "EVP_PKEY_derive";  fp["ecdh_derive"] = "ecdh_derive"
	pat["keygen"] = "pki_keygen";            fp["keygen"] = "keygen"
	pat["pkey_import"] = "pubkey_import";    fp["pkey_import"] = "pkey_import"
	pat["sqlite"] = "sqlite3_";              fp["sqlite"] = "sqlite_step,pwrite,pread"
	pat["tls_server"] = "SSL_write|SSL_read"; fp["tls_server"] = "https_request,sse_write"
	# libcurl's code, and since the JSON calls' exchange is httpc's own
	# (lib/http1, its waiting in poll), all of ts_httpc_json but its JSON
	pat["provider_call"] = "curl_|ts_httpc_json"; fp["provider_call"] = "https_call"
	# lib/json.c's own writer (ts_jw_*) and its helpers too: JSON work without jansson
	pat["json"] = "libjansson|ts_json_parse|ts_json_dump|ts_json_loads|ts_json_strings_text|ts_jw_"
	fp["json"] = "json_parse,json_dump"
	# the provider call first: its own SSL_write/SSL_read belong to it; only
	# the JSON before it (its request dump and response parse are JSON's)
	order = "json provider_call fsync verify sign ecdh_derive keygen pkey_import sqlite tls_server"
	no = split(order, O, " ")
}
{
	total++
	for (k = 1; k <= no; k++) if ($0 ~ pat[O[k]]) { c[O[k]]++; next }
	c["(rest)"]++
	# where the rest is (first match wins): the log's lines, the HTTP
	# handlers' own code, libevent's dispatch and epoll outside a handler,
	# the outbox and auth worker threads' own code, anything else
	if ($0 ~ /ts_log/) r["log"]++
	else if ($0 ~ /gen_cb/) r["handlers"]++
	else if ($0 ~ /event_base_loop/) r["event loop"]++
	else if ($0 ~ /worker_main/) r["workers"]++
	else r["other"]++
}
END {
	if (total == 0) { print "no samples"; exit 1 }
	flows = total / freq * 1000 / node_ms
	us = 1e6 / freq / flows
	printf "%d node samples = %.0f flows in the window, %.2f us per sample per flow\n", total, flows, us
	printf "%-14s %10s %12s %8s\n", "primitive", "floor us", "in node us", "ratio"
	sf = 0; sn = 0
	for (k = 1; k <= np; k++) {
		x = P[k]; f = fl(fp[x]); n = c[x] * us; sf += f; sn += n
		ratio = "-"
		if (f > 0)
			ratio = sprintf("%.2f", n / f)
		printf "%-14s %10.1f %12.1f %8s\n", x, f, n, ratio
	}
	rest = c["(rest)"] * us
	printf "%-14s %10s %12.1f %8s\n", "(no primitive)", "-", rest, "-"
	nb = split("log,handlers,event loop,workers,other", B, ",")
	for (k = 1; k <= nb; k++)
		printf "  of it %-12s %5s %12.1f\n", B[k], "-", r[B[k]] * us
	printf "%-14s %10.1f %12.1f %8.2f\n", "sum", sf, sn + rest, (sn + rest) / sf
	printf "primitives alone: in node %.1f us vs floor %.1f us = %.2fx\n", sn, sf, sn / sf
}