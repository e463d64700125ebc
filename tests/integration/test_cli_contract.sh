#!/usr/bin/env bash
# One command-line contract across the five programs (issue 10, docs/cli.md):
# - help: `PROG --help`, `PROG help CMD`, `PROG CMD --help` print to stdout
#   with exit 0: "Usage: PROG ..." first, "See also: PROG(1)" last, and the
#   program page has Commands:, Options: and Exit status:; an unknown option or
#   command prints the error and a pointer to the help on stderr, nothing on
#   stdout, exit 2;
# - --json: every line on stdout is one JSON object with "schema": 1; the last
#   is the envelope, {"data": ...} on success (exit 0) or {"error": {"code",
#   "message"}} on failure (exit 1, 2); lines before it are progress events
#   {"event": {...}} (share waits, watch), event ids are numbers.
. "$(dirname "$0")/lib.sh"
B="$TS_BIN"
declare -A CMDS=(
	[tapshare]="enroll apps share move shares watch cancel offer device"
	[tapshare-node]="testpki init check user provider app run shares device companion"
	[tapshare-companion]="run status enable disable delete nickname default-smdp notification show-qr"
	[tapshare-se]="init serve status"
	[tapshare-sp]="init run decisions check"
)
first_is() { head -n1 <<<"$1" | grep -q "$2"; }
last_is() { tail -n1 <<<"$1" | grep -q "$2"; }
in_commands() { sed -n '/^Commands:/,/^$/p' <<<"$1" | grep -Eq "^  ([a-z-]+, )*$2([ ,]|\$)"; }
# the page's first line is "Usage: PROG ...", its usage block (up to the first
# blank line) names "PROG CMD", its last line is the See also
page_ok() {
	[ "$1" = 0 ] && [ ! -s "$T/err" ] && first_is "$2" "^Usage: $3 " && sed '/^$/q' <<<"$2" | grep -q "$3 $4" &&
		last_is "$2" "^See also: $3(1)"
}
for p in tapshare tapshare-node tapshare-companion tapshare-se tapshare-sp; do
	out=$("$B/$p" --help 2>"$T/err") && st=0 || st=$?
	expect "$p --help: exit 0, stdout only" [ "$st" = 0 -a ! -s "$T/err" ]
	expect "$p --help: first line 'Usage: $p '" first_is "$out" "^Usage: $p "
	for h in 'Commands:' 'Options:' 'Exit status: 0 success, 1 the operation failed, 2 bad usage.'; do
		expect "$p --help has '$h'" grep -qxF "$h" <<<"$out"
	done
	expect "$p --help: last line 'See also: $p(1)...'" last_is "$out" "^See also: $p(1)"
	expect "$p --help lists --json" grep -q -- '--json' <<<"$out"
	expect "$p help (no command) = --help" [ "$("$B/$p" help)" = "$out" ]
	for c in ${CMDS[$p]}; do
		expect "$p --help lists $c under Commands:" in_commands "$out" "$c"
		page=$("$B/$p" help "$c" 2>"$T/err") && st=0 || st=$?
		expect "$p help $c: exit 0 on stdout, 'Usage: $p ...$c', See also last" page_ok "$st" "$page" "$p" "$c"
		page2=$("$B/$p" "$c" --help 2>/dev/null) && st=0 || st=$?
		expect "$p $c --help = $p help $c" [ "$st" = 0 -a "$page" = "$page2" ]
	done
	"$B/$p" help no-such-command >"$T/out" 2>"$T/err" && st=0 || st=$?
	expect "$p help no-such-command: exit 2, stderr, nothing on stdout" \
		bash -c "[ $st = 2 ] && [ ! -s '$T/out' ] && grep -q -- '$p --help' '$T/err'"
	first=${CMDS[$p]%% *}
	"$B/$p" "$first" --no-such-option >"$T/out" 2>"$T/err" && st=0 || st=$?
	expect "$p $first --no-such-option: exit 2, error and help pointer on stderr, stdout empty" \
		bash -c "[ $st = 2 ] && [ ! -s '$T/out' ] && grep -q 'error' '$T/err' && grep -q -- '--help' '$T/err'"
	"$B/$p" no-such-command >"$T/out" 2>"$T/err" && st=0 || st=$?
	expect "$p no-such-command: exit 2" bash -c "[ $st = 2 ] && [ ! -s '$T/out' ] && grep -q -- '$p --help' '$T/err'"
	"$B/$p" >"$T/out" 2>"$T/err" && st=0 || st=$?
	expect "$p alone: the help on stderr, exit 2" bash -c "[ $st = 2 ] && [ ! -s '$T/out' ] && grep -q '^Usage: $p' '$T/err'"
done

# --- the --json envelope -------------------------------------------------------
# envelope EXIT CMD...: every stdout line valid JSON with schema 1, the last an
# envelope (data iff exit 0, error with string code and message otherwise),
# the others progress events; the exit status must be EXIT
envelope() {
	local want=$1; shift
	local st=0
	"$@" >"$T/env.out" 2>"$T/env.err" || st=$?
	local ok=1
	[ "$st" = "$want" ] || ok=0
	[ -s "$T/env.out" ] || ok=0
	jq -e -s 'length > 0 and all(.[]; type == "object" and .schema == 1)' "$T/env.out" >/dev/null 2>&1 || ok=0
	jq -e -s '.[:-1] | all(.[]; has("event") and (keys - ["schema", "event"]) == [])' "$T/env.out" >/dev/null 2>&1 || ok=0
	if [ "$want" = 0 ]; then
		tail -n1 "$T/env.out" | jq -e 'has("data") and (has("error") | not)' >/dev/null 2>&1 || ok=0
	else
		tail -n1 "$T/env.out" | jq -e '(.error.code | type) == "string" and (.error.code | length) > 0 and (.error.message | type) == "string"' >/dev/null 2>&1 || ok=0
	fi
	if [ $ok = 1 ]; then ok "--json envelope (exit $want): ${*#$B/}"; else
		fail "--json envelope (exit $want, got $st): ${*#$B/}"; sed 's/^/    out: /' "$T/env.out" | head -5; sed 's/^/    err: /' "$T/env.err" | head -5
	fi
}
ts_start_all
D=(--dir "$T/node")
envelope 0 "$B/tapshare-node" user list "${D[@]}" --json
envelope 0 "$B/tapshare-node" user show alice "${D[@]}" --json
envelope 0 "$B/tapshare-node" app list "${D[@]}" --json
envelope 0 "$B/tapshare-node" app show sim-alice "${D[@]}" --json
envelope 0 "$B/tapshare-node" provider list "${D[@]}" --json
envelope 0 "$B/tapshare-node" provider show operator "${D[@]}" --json
envelope 0 "$B/tapshare-node" device list "${D[@]}" --json
envelope 0 "$B/tapshare-node" shares "${D[@]}" --json
envelope 0 "$B/tapshare-node" check "${D[@]}" --json
envelope 1 "$B/tapshare-node" user show nobody "${D[@]}" --json
envelope 1 "$B/tapshare-node" app show nothing "${D[@]}" --json
envelope 1 "$B/tapshare-node" app add "${D[@]}" --user alice --app-id sim-alice --name X --kind sim --provider operator --json
envelope 1 "$B/tapshare-node" shares --dir "$T/no-such-node" --json
envelope 2 "$B/tapshare-node" user frobnicate x "${D[@]}" --json
envelope 2 "$B/tapshare-node" no-such-command --json
code_json=$(printf 'passphrase for carol\n' | "$B/tapshare-node" user add carol "${D[@]}" --json 2>/dev/null)
expect "user add --json: the enrollment code in the envelope" \
	jq -e '.schema == 1 and (.data.enrollment_code | test("^[0-9a-f]{5}(-[0-9a-f]{5}){3}$")) and .data.user == "carol"' <<<"$code_json"
envelope 0 "$B/tapshare-sp" decisions --dir "$T/sp" --json
envelope 1 "$B/tapshare-sp" decisions --dir "$T/no-such-sp" --json
envelope 2 "$B/tapshare-sp" decisions --dir "$T/sp" --json --bogus
envelope 0 "$B/tapshare-se" status --state "$T/se.state" --json
envelope 1 "$B/tapshare-se" status --state "$T/no-such.state" --json
envelope 2 "$B/tapshare-se" status --json --bogus
envelope 0 "$B/tapshare-companion" status --se "inproc:$T/se.state" --json
envelope 0 "$B/tapshare-companion" notification list --se "inproc:$T/se.state" --json
envelope 1 "$B/tapshare-companion" status --se "inproc:$T/no-such.state" --json
envelope 2 "$B/tapshare-companion" status --json --bogus
envelope 0 alice apps --json
envelope 0 alice shares --json
envelope 0 alice device list --json
envelope 1 alice cancel 0123456789abcdef0123456789abcdef --json
envelope 2 alice share --json --bogus
# a long command: NDJSON progress, one line per step, then the envelope
envelope 0 alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 --json
cp "$T/env.out" "$T/share.ndjson"
expect "share --json: progress events S1, S3, S4, S5 and S6 in order, before the envelope" \
	jq -e -s '[.[] | .event.step // empty] as $s | ["S1", "S3", "S4", "S5", "S6"] - $s == [] and
		($s | index("S1")) < ($s | index("S6"))' "$T/share.ndjson"
expect "share --json: the envelope has the share and the result installed" \
	bash -c "tail -n1 '$T/share.ndjson' | jq -e '.data.result == \"installed\" and (.data.share.share_id | length) == 32'"
expect "share --json: event ids in the result are numbers" \
	bash -c "tail -n1 '$T/share.ndjson' | jq -e '(.data.events | length) > 0 and all(.data.events[]; (.id | type) == \"number\")'"
SHARE=$(tail -n1 "$T/share.ndjson" | jq -r .data.share.share_id)
envelope 0 alice watch --all --share "$SHARE" --timeout 3 --json
expect "watch --json: the share's events as progress lines, numeric ids" \
	jq -e -s '[.[] | .event // empty] | length > 0 and all(.[]; (.id | type) == "number" and (.event | type) == "string")' "$T/env.out"
envelope 0 alice cancel "$SHARE" --timeout 60 --json
expect "cancel --json: revoked" bash -c "tail -n1 '$T/env.out' | jq -e '.data.result == \"revoked\"'"
# text mode is unchanged: no JSON on stdout
out=$(alice shares)
expect "text mode prints no JSON" bash -c "! grep -q '\"schema\"' <<<'$out'"
ts_stop "$COMP_PID"
ts_stop "$NODE_PID"
ts_done
