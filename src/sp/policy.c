/*
 * policy.c — tapshare-sp policy decisions (see policy.h).
 */
#include "sp/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/eid.h"
#include "lib/ts_err.h"
#include "lib/util.h"

struct sp_policy {
	ts_config *cfg;
	int default_approve;
	long long default_max_s;
	char default_kind[16];
	eid_t *deny;
	size_t n_deny;
};

int
sp_kind_valid(const char *kind)
{
	return kind != NULL && (strcmp(kind, "sim") == 0 || strcmp(kind, "bankid") == 0 ||
	    strcmp(kind, "service") == 0);
}

int
sp_app_id_valid(const char *id)
{
	if (id == NULL)
		return 0;
	size_t n = strlen(id);
	if (n == 0 || n > SP_APP_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

static int
parse_decision(const char *v, int *approve)
{
	if (strcmp(v, "approve") == 0) {
		*approve = 1;
		return 0;
	}
	if (strcmp(v, "deny") == 0) {
		*approve = 0;
		return 0;
	}
	return TS_ECONFIG;
}

/* Appends the comma-separated EIDs of list to p->deny. */
static int
add_deny_list(sp_policy *p, const char *list, char *errbuf, size_t errcap)
{
	const char *s = list;
	while (*s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		const char *e = s;
		while (*e != '\0' && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		char tok[EID_DIGITS + 2];
		size_t len = (size_t)(e - s);
		eid_t eid;
		if (len >= sizeof(tok)) {
			(void)ts_snprintf(errbuf, errcap, "[deny] eids: entry too long");
			return TS_ECONFIG;
		}
		memcpy(tok, s, len);
		tok[len] = '\0';
		if (eid_parse(tok, &eid) != 0) {
			(void)ts_snprintf(errbuf, errcap, "[deny] eids: %s is not a valid EID (%s)", tok,
			    ts_strerror(eid_parse(tok, &eid)));
			return TS_ECONFIG;
		}
		if (p->n_deny >= SP_DENY_MAX) {
			(void)ts_snprintf(errbuf, errcap, "[deny] eids: more than %d entries",
			    SP_DENY_MAX);
			return TS_ELIMIT;
		}
		eid_t *nd = realloc(p->deny, (p->n_deny + 1) * sizeof(*nd));
		if (nd == NULL)
			return TS_ENOMEM;
		p->deny = nd;
		p->deny[p->n_deny++] = eid;
		s = e;
	}
	return 0;
}

/* Every key policy.ini may hold (policy.h). A misspelled key is an error:
 * `max_durration_s` would otherwise leave the time limit unset. */
static const ts_config_key policy_schema[] = {
	{ .section = "default", .key = "decision", .type = TS_CFG_ENUM, .choices = "approve|deny" },
	{ .section = "default", .key = "max_duration_s", .type = TS_CFG_INT, .min = 0, .max = SP_MAX_DURATION_S },
	{ .section = "default", .key = "transfer_max_duration_s", .type = TS_CFG_INT, .min = 0,
	    .max = SP_MAX_DURATION_S },
	{ .section = "default", .key = "kind", .type = TS_CFG_ENUM, .choices = "sim|bankid|service" },
	{ .section = "app.*", .key = "decision", .type = TS_CFG_ENUM, .choices = "approve|deny" },
	{ .section = "app.*", .key = "max_duration_s", .type = TS_CFG_INT, .min = 0, .max = SP_MAX_DURATION_S },
	{ .section = "app.*", .key = "transfer_max_duration_s", .type = TS_CFG_INT, .min = 0,
	    .max = SP_MAX_DURATION_S },
	{ .section = "app.*", .key = "kind", .type = TS_CFG_ENUM, .choices = "sim|bankid|service" },
	{ .section = "app.*", .key = "name", .type = TS_CFG_STRING },
	{ .section = "app.*", .key = "scope", .type = TS_CFG_STRING },
	{ .section = "deny", .key = "eids", .type = TS_CFG_STRING },
	{ .section = "deny", .key = "eids.#", .type = TS_CFG_STRING, .idx_max = 99 },
};

size_t
sp_policy_check(const char *path, ts_config_report_fn report, void *arg)
{
	char err[512];
	ts_config *c = NULL;
	int rc = ts_config_load(path, &c, err, sizeof(err));
	if (rc != 0) {
		if (report != NULL)
			report(arg, err[0] ? err : ts_strerror(rc));
		return 1;
	}
	size_t bad = ts_config_check(c, policy_schema, TS_ARRAY_LEN(policy_schema), NULL, report, arg);
	ts_config_free(c);
	if (bad == 0) {
		/* What the schema cannot say: the EIDs of the deny lists. */
		sp_policy *p = NULL;
		if (sp_policy_load(path, &p, err, sizeof(err)) != 0) {
			if (report != NULL)
				report(arg, err);
			bad++;
		}
		sp_policy_free(p);
	}
	return bad;
}

int
sp_policy_load(const char *path, sp_policy **out, char *errbuf, size_t errcap)
{
	char dummy[8];
	if (errbuf == NULL || errcap == 0) {
		errbuf = dummy;
		errcap = sizeof(dummy);
	}
	errbuf[0] = '\0';
	if (path == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	sp_policy *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return TS_ENOMEM;
	int rc = ts_config_load(path, &p->cfg, errbuf, errcap);
	if (rc != 0)
		goto fail;
	rc = TS_ECONFIG;
	struct ts_config_errbuf first = { errbuf, errcap };
	if (ts_config_check(p->cfg, policy_schema, TS_ARRAY_LEN(policy_schema), NULL,
	    ts_config_first_problem, &first) != 0)
		goto fail;
	const char *d = ts_config_get(p->cfg, "default", "decision", "approve");
	if (parse_decision(d, &p->default_approve) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s: [default] decision must be approve or deny",
		    path);
		goto fail;
	}
	if (ts_config_get_int(p->cfg, "default", "max_duration_s", 0, 0, SP_MAX_DURATION_S,
	    &p->default_max_s) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s: [default] max_duration_s must be 0..%lld",
		    path, SP_MAX_DURATION_S);
		goto fail;
	}
	const char *k = ts_config_get(p->cfg, "default", "kind", "sim");
	if (!sp_kind_valid(k)) {
		(void)ts_snprintf(errbuf, errcap, "%s: [default] kind must be sim, bankid or service",
		    path);
		goto fail;
	}
	(void)ts_snprintf(p->default_kind, sizeof(p->default_kind), "%s", k);
	for (int i = 0; i <= 99; i++) {
		char key[16], why[256];
		if (i == 0)
			(void)ts_snprintf(key, sizeof(key), "eids");
		else
			(void)ts_snprintf(key, sizeof(key), "eids.%d", i);
		const char *eids = ts_config_get(p->cfg, "deny", key, NULL);
		if (eids != NULL && (rc = add_deny_list(p, eids, why, sizeof(why))) != 0) {
			(void)ts_snprintf(errbuf, errcap, "%s:%d: %s", path, ts_config_line(p->cfg, "deny", key), why);
			goto fail;
		}
	}
	*out = p;
	return 0;
fail:
	if (rc != TS_ENOMEM && rc != TS_ELIMIT)
		rc = TS_ECONFIG;
	sp_policy_free(p);
	return rc;
}

void
sp_policy_free(sp_policy *p)
{
	if (p == NULL)
		return;
	ts_config_free(p->cfg);
	free(p->deny);
	free(p);
}

static void deny(sp_decision *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
deny(sp_decision *out, const char *fmt, ...)
{
	out->approved = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

int
sp_policy_decide(const sp_policy *p, const sp_order *o, int64_t now, sp_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL || o == NULL || o->eid == NULL || !sp_app_id_valid(o->app_id) ||
	    o->requested_s < 0)
		return TS_EINVAL;

	char sec[8 + SP_APP_ID_MAX];
	(void)ts_snprintf(sec, sizeof(sec), "app.%s", o->app_id);

	/* Kind and name first: a denial still says what was asked for. */
	const char *kind = ts_config_get(p->cfg, sec, "kind", NULL);
	if (kind != NULL && !sp_kind_valid(kind)) {
		deny(out, "policy error: [%s] kind must be sim, bankid or service", sec);
		return TS_ECONFIG;
	}
	if (kind == NULL)
		kind = sp_kind_valid(o->kind_hint) ? o->kind_hint : p->default_kind;
	(void)ts_snprintf(out->kind, sizeof(out->kind), "%s", kind);
	const char *name = ts_config_get(p->cfg, sec, "name", NULL);
	if (name == NULL && o->name_hint != NULL && o->name_hint[0] != '\0')
		name = o->name_hint;
	if (name != NULL)
		(void)ts_snprintf(out->name, sizeof(out->name), "%s", name);
	else
		(void)ts_snprintf(out->name, sizeof(out->name), "%s for companion (%s)",
		    strcmp(kind, "sim") == 0 ? "eSIM" :
		    strcmp(kind, "bankid") == 0 ? "Bank ID" : "Service", o->app_id);
	(void)ts_snprintf(out->scope, sizeof(out->scope), "%s",
	    ts_config_get(p->cfg, sec, "scope", "companion"));

	int approve = p->default_approve;
	const char *d = ts_config_get(p->cfg, sec, "decision", NULL);
	if (d != NULL && parse_decision(d, &approve) != 0) {
		deny(out, "policy error: [%s] decision must be approve or deny", sec);
		return TS_ECONFIG;
	}
	long long max_s = 0;
	if (ts_config_get_int(p->cfg, sec, "max_duration_s", p->default_max_s, 0,
	    SP_MAX_DURATION_S, &max_s) != 0) {
		deny(out, "policy error: [%s] max_duration_s out of range", sec);
		return TS_ECONFIG;
	}
	/* A transfer (move) replaces the original, so a time limit meant for
	 * shared copies would leave the user with nothing: transfers have their
	 * own limit, transfer_max_duration_s, unlimited (0) unless set. */
	if (o->transfer) {
		long long def_t = 0;
		if (ts_config_get_int(p->cfg, "default", "transfer_max_duration_s", 0, 0, SP_MAX_DURATION_S,
			&def_t) != 0 ||
		    ts_config_get_int(p->cfg, sec, "transfer_max_duration_s", def_t, 0, SP_MAX_DURATION_S,
			&max_s) != 0) {
			deny(out, "policy error: transfer_max_duration_s out of range");
			return TS_ECONFIG;
		}
	}

	for (size_t i = 0; i < p->n_deny; i++) {
		if (strcmp(p->deny[i].digits, o->eid) == 0) {
			deny(out, "EID %s is on the provider's deny list", o->eid);
			return 0;
		}
	}
	if (!approve) {
		deny(out, "provider policy refuses sharing application %s", o->app_id);
		return 0;
	}

	long long dur = 0;
	if (o->requested_s > 0 && max_s > 0)
		dur = o->requested_s < max_s ? o->requested_s : max_s;
	else if (o->requested_s > 0)
		dur = o->requested_s;
	else
		dur = max_s;
	if (dur > SP_MAX_DURATION_S)
		dur = SP_MAX_DURATION_S;
	out->approved = 1;
	out->not_after = dur > 0 ? now + dur : 0;
	return 0;
}
