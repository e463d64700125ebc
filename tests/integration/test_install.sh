#!/usr/bin/env bash
# `cmake --install` puts every file where a Debian-style daemon layout wants it
# (issue 10): programs, man pages, examples, systemd units that
# systemd-analyze verify accepts, the sysusers.d entry.
source "$(dirname "$0")/lib.sh"
P="$T/p"
if ! cmake --install "$TS_BIN" --prefix "$P" >"$T/install.log" 2>&1; then
	fail "cmake --install --prefix $P"
	cat "$T/install.log"
	ts_done
	exit 1
fi
ok "cmake --install --prefix P"

for p in tapshare-node tapshare-sp tapshare-se tapshare tapshare-companion; do
	expect "program $p in P/bin, executable, runs" "$P/bin/$p" --version
done
for f in node.ini sp.ini policy.ini; do
	expect "example $f in P/share/doc/tapshare/examples" test -s "$P/share/doc/tapshare/examples/$f"
done
expect "sysusers.d entry creates the tapshare user" grep -q '^u tapshare ' "$P/lib/sysusers.d/tapshare.conf"

# Man pages: built from docs/man/*.scd when scdoc is there.
if command -v scdoc >/dev/null; then
	for p in tapshare-node tapshare-sp tapshare-se tapshare tapshare-companion; do
		expect "man page $p(1) in P/share/man/man1" test -s "$P/share/man/man1/$p.1"
		expect "man page $p(1) is roff with a NAME section" grep -q '^\.SH "\?NAME' "$P/share/man/man1/$p.1"
	done
	if command -v man >/dev/null; then
		out=$(MANPATH="$P/share/man" MANWIDTH=80 man tapshare-node 2>/dev/null | col -b 2>/dev/null || true)
		expect "man tapshare-node renders the SYNOPSIS" grep -q "tapshare-node run" <<<"$out"
	fi
else
	echo "skip - scdoc not installed: man pages not built (apt-get install scdoc)"
fi

U="$P/lib/systemd/system"
for s in tapshare-node tapshare-sp; do
	f="$U/$s.service"
	expect "unit $s.service installed" test -s "$f"
	expect "$s.service: Type=notify" grep -qx 'Type=notify' "$f"
	expect "$s.service: ExecReload sends SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$f"
	expect "$s.service: dedicated user" grep -qx 'User=tapshare' "$f"
	expect "$s.service: StateDirectory / ConfigurationDirectory" \
		grep -qx 'StateDirectory=tapshare' "$f"
	grep -qx 'ConfigurationDirectory=tapshare' "$f" || fail "$s.service: ConfigurationDirectory"
	for h in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes; do
		grep -qx "$h" "$f" || fail "$s.service: $h missing"
	done
	exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$f")
	expect "$s.service: ExecStart names the installed program ($exe)" test "$exe" = "$P/bin/$s"
done
if command -v systemd-analyze >/dev/null; then
	# verify exits 0 even for some ignored lines, so any message is a failure.
	out=$(MANPATH="$P/share/man" systemd-analyze verify "$U/tapshare-node.service" "$U/tapshare-sp.service" 2>&1)
	st=$?
	if [ $st -eq 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify accepts both units, silently"
	else
		fail "systemd-analyze verify (status $st): $out"
	fi
	# and the check itself bites: a bad value is reported.
	sed 's/^ProtectSystem=strict/ProtectSystem=bogus/' "$U/tapshare-node.service" >"$T/bad.service"
	out=$(MANPATH="$P/share/man" systemd-analyze verify "$T/bad.service" 2>&1)
	expect "systemd-analyze verify reports a broken unit" grep -q "bogus" <<<"$out"
else
	echo "skip - systemd-analyze not installed: units not verified (apt-get install systemd)"
fi
ts_done
