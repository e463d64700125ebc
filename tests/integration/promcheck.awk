#!/usr/bin/awk -f
# A strict checker of the Prometheus text exposition format 0.0.4, written
# from the format's documentation for the tests (promtool comes only with the
# 96 MB prometheus package). Prints one line per problem and exits 1 if any:
#   - only "# HELP name text", "# TYPE name type", other comments, samples;
#   - metric and label names valid; label values quoted with only \\ \" \n
#     escapes; no duplicate label name; values are floats (or +Inf/-Inf/NaN);
#   - HELP and TYPE at most once per family, TYPE before its samples, the
#     samples of a family contiguous, no duplicate series;
#   - counters: name ends in _total... not required by 0.0.4, so not checked;
#   - histograms: only name_bucket/_sum/_count, every series has an le,
#     le increasing, ending with +Inf, cumulative counts non-decreasing,
#     +Inf bucket == _count;
#   - the text ends with a newline.
function problem(msg) { printf "line %d: %s\n", NR, msg; bad++ }
function isnum(v) { return v ~ /^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/ || v ~ /^[-+]?Inf$/ || v == "NaN" }
function family_of(name,   base) {
	# histogram/summary samples belong to the family without the suffix
	if (name ~ /_bucket$/) { base = substr(name, 1, length(name) - 7); if (type[base] == "histogram") return base }
	if (name ~ /_sum$/) { base = substr(name, 1, length(name) - 4); if (type[base] == "histogram" || type[base] == "summary") return base }
	if (name ~ /_count$/) { base = substr(name, 1, length(name) - 6); if (type[base] == "histogram" || type[base] == "summary") return base }
	return name
}
# Parses a label set "{a=\"x\",b=\"y\"}" from s (starting at "{"); sets
# labels_canon (sorted-free canonical text without le) and le_val; returns
# the rest of the line after "}" or "\001" on error.
function parse_labels(s,   i, c, name, val, n, seen, out) {
	i = 2; n = length(s); out = ""; le_val = ""; delete seen
	while (1) {
		while (i <= n && substr(s, i, 1) == " ") i++
		c = substr(s, i, 1)
		if (c == "}") { labels_canon = out; return substr(s, i + 1) }
		name = ""
		while (i <= n && substr(s, i, 1) ~ /[a-zA-Z0-9_]/) { name = name substr(s, i, 1); i++ }
		if (name !~ /^[a-zA-Z_][a-zA-Z0-9_]*$/) { problem("bad label name '" name "'"); return "\001" }
		if (name in seen) { problem("duplicate label " name); return "\001" }
		seen[name] = 1
		if (substr(s, i, 2) != "=\"") { problem("label " name " not followed by =\""); return "\001" }
		i += 2; val = ""
		while (1) {
			if (i > n) { problem("unterminated label value"); return "\001" }
			c = substr(s, i, 1)
			if (c == "\\") {
				c = substr(s, i + 1, 1)
				if (c != "\\" && c != "\"" && c != "n") { problem("bad escape \\" c " in label " name); return "\001" }
				val = val "\\" c; i += 2; continue
			}
			if (c == "\"") { i++; break }
			val = val c; i++
		}
		if (name == "le") le_val = val; else out = out name "=" val ","
		c = substr(s, i, 1)
		if (c == ",") { i++; continue }
		if (c != "}") { problem("expected , or } after label " name); return "\001" }
	}
}
BEGIN { bad = 0; cur = "" }
{
	line = $0
	if (line ~ /^#/) {
		if (line ~ /^# (HELP|TYPE) /) {
			split(line, f, " ")
			kw = f[2]; name = f[3]
			if (name !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) { problem("bad metric name in " kw); next }
			if (kw == "HELP") { if (name in help) problem("second HELP for " name); help[name] = 1 }
			else {
				if (name in type) problem("second TYPE for " name)
				if (name in sampled) problem("TYPE for " name " after its samples")
				t = f[4]
				if (t !~ /^(counter|gauge|histogram|summary|untyped)$/ || f[5] != "") problem("bad TYPE line")
				type[name] = t
			}
		}
		next
	}
	if (line == "") { problem("empty line"); next }
	match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)
	if (RSTART != 1) { problem("bad sample line: " line); next }
	name = substr(line, 1, RLENGTH); rest = substr(line, RLENGTH + 1)
	labels_canon = ""; le_val = ""
	if (substr(rest, 1, 1) == "{") { rest = parse_labels(rest); if (rest == "\001") next }
	if (rest !~ /^ [^ ]+( -?[0-9]+)?$/) { problem("bad value part '" rest "'"); next }
	split(substr(rest, 2), v, " ")
	if (!isnum(v[1])) { problem("value '" v[1] "' is not a number"); next }
	fam = family_of(name)
	if (!(fam in type)) problem("sample of " fam " without a TYPE line")
	if (fam != cur) { if (fam in sampled) problem("samples of " fam " are not contiguous"); cur = fam }
	sampled[fam] = 1
	key = name "{" labels_canon "le=" le_val "}"
	if (key in series) problem("duplicate series " key)
	series[key] = 1
	if (type[fam] == "histogram") {
		if (name == fam) { problem("histogram " fam " sample without suffix"); next }
		if (name == fam "_bucket") {
			if (le_val == "") { problem("bucket without le"); next }
			if (!isnum(le_val)) { problem("le '" le_val "' is not a number"); next }
			g = fam "{" labels_canon "}"
			lev = (le_val ~ /Inf$/) ? 1e308 * 10 : le_val + 0
			if ((g in last_le) && !(lev > last_le[g])) problem("le not increasing in " g)
			if ((g in last_cnt) && v[1] + 0 < last_cnt[g]) problem("bucket counts decrease in " g)
			last_le[g] = lev; last_cnt[g] = v[1] + 0
			if (le_val == "+Inf") inf[g] = v[1] + 0
		} else if (le_val != "") problem("le on " name)
		if (name == fam "_count") { g = fam "{" labels_canon "}"; count[g] = v[1] + 0 }
	}
}
END {
	for (g in last_le) {
		if (!(g in inf)) problem("histogram " g " has no +Inf bucket")
		else if (!(g in count)) problem("histogram " g " has no _count")
		else if (inf[g] != count[g]) problem("histogram " g ": +Inf bucket " inf[g] " != _count " count[g])
	}
	exit bad ? 1 : 0
}
