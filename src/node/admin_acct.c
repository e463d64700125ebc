/*
 * admin_acct.c — the operator's view of accounts, apps, providers and
 * devices: `tapshare-node user|app|provider|device list|show|remove`.
 *
 * What removal does (docs/cli.md, "Removing things"):
 *   user remove NAME      refused (live_shares) while the user has a share
 *                         that is not final; --force first cancels each of
 *                         them exactly as the owner's cancel would (S16: the
 *                         companion is told to delete it, the provider gets
 *                         cancelOrder; durable in the outbox and the
 *                         companion's command queue), then closes the
 *                         account (store.h user_remove: devices revoked,
 *                         sessions, codes and apps dropped, a tombstone kept
 *                         so the id is never reused).
 *   app remove APP_ID     refused (live_shares) while a share of the app is
 *                         live; --force cancels them first, then the row goes.
 *   provider remove NAME  refused (provider_in_use) while an app names it or
 *                         a live share uses it; never forced: cancelling a
 *                         share needs its provider (cancelOrder).
 *   device remove ID      revokes the device (the row stays, so its
 *                         certificate stays refused); refused (last_device)
 *                         when it is its user's last active device and the
 *                         user has live shares, which nobody could then see
 *                         or cancel, unless --force.
 * Every answer goes through lib/cmdline.h (text, or the --json envelope).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cmdline.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/share.h"

static const char *const with_value[] = { "--dir", "--config", "--user", NULL };

static const char *
js(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* A name as shown in a table: control bytes escaped (names come from
 * enrolling devices and from operators' typing). */
static const char *
shown(const char *in, char *buf, size_t cap)
{
	ts_log_escape(in, buf, cap);
	return buf;
}

static void
print_time(FILE *out, json_int_t t)
{
	char buf[32] = "-";
	if (t > 0) {
		time_t tt = (time_t)t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	fputs(buf, out);
}

/* Shares that are not final, matching one field (key NULL: all of them). */
static int
live_shares(store *st, int64_t user_id, const char *key, const char *value, json_t **out)
{
	json_t *all = NULL;
	int rc = st->ops->shares_json(st, user_id, &all);
	if (rc != 0)
		return rc;
	json_t *live = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v) {
		enum share_state s = share_state_parse(js(v, "state"));
		if (s == SHARE_NSTATES || share_state_final(s))
			continue;
		if (key != NULL && strcmp(js(v, key), value) != 0)
			continue;
		json_array_append(live, v);
	}
	json_decref(all);
	*out = live;
	return 0;
}

/* "a1b2…, c3d4…" for a message (at most 4 ids). */
static void
id_list(const json_t *shares, char *buf, size_t cap)
{
	size_t i, off = 0;
	json_t *v;
	buf[0] = '\0';
	json_array_foreach(shares, i, v) {
		if (i == 4) {
			snprintf(buf + off, cap - off, ", …");
			break;
		}
		int n = snprintf(buf + off, cap - off, "%s%.16s", i ? ", " : "", js(v, "share_id"));
		if (n < 0 || (size_t)n >= cap - off)
			break;
		off += (size_t)n;
	}
}

/* --force: cancels every live share as its owner would (S16). A share
 * already waiting for the companion's delete (cancel_pending) is on its
 * way out and counts as done. The ids cancelled go to done (array). */
static int
cancel_all(node *n, const json_t *live, int64_t user_id_or_neg, json_t *done)
{
	share_svc svc = { .address = n->address, .ein_prefixes = n->ein_prefixes, .device_ca = n->ca };
	size_t i;
	json_t *v;
	json_array_foreach(live, i, v) {
		const char *id = js(v, "share_id");
		store_share sh;
		int64_t uid = user_id_or_neg;
		if (uid < 0) {
			if (n->st->ops->share_get(n->st, id, &sh) != 0)
				return cmdline_fail(1, "store", NULL, "cannot read share %s", id);
			uid = sh.user_id;
		}
		share_why why = { "", "" };
		int rc = share_cancel(&svc, n->st, uid, id, NULL, &sh, &why);
		if (rc != 0 && !(rc == TS_ESTATE && sh.state == SHARE_CANCEL_PENDING))
			return cmdline_fail(1, why.code[0] ? why.code : "cancel_failed", NULL,
			    "cannot cancel share %s: %s", id, why.msg[0] ? why.msg : ts_strerror(rc));
		json_array_append_new(done, json_string(id));
		log_info("S16 share %s cancelled by the operator (removal)", id);
	}
	return 0;
}

/* Refuses a removal that would leave live shares, unless force. 0 to go on. */
static int
guard_live(node *n, const json_t *live, int force, int64_t uid, json_t *cancelled, const char *what)
{
	if (json_array_size(live) == 0)
		return 0;
	if (!force) {
		char ids[256];
		id_list(live, ids, sizeof(ids));
		return cmdline_fail(1, "live_shares", json_pack("{s:O}", "live_shares", (json_t *)live),
		    "%s has %zu live share%s (%s): cancel %s first, or give --force to cancel %s (the companion "
		    "deletes, the provider is told)",
		    what, json_array_size(live), json_array_size(live) == 1 ? "" : "s", ids,
		    json_array_size(live) == 1 ? "it" : "them", json_array_size(live) == 1 ? "it" : "them");
	}
	return cancel_all(n, live, uid, cancelled);
}

/* A user by name; '#'-names are tombstones of removed accounts. */
int
node_admin_user(node *n, const char *name, int64_t *uid)
{
	int rc = name[0] == '#' ? TS_ENOTFOUND : n->st->ops->user_by_name(n->st, name, uid);
	if (rc == TS_ENOTFOUND)
		return cmdline_fail(1, "no_user", NULL, "no user %s", name);
	return rc != 0 ? node_admin_read_failed("user", name, rc) : 0;
}

int
node_admin_read_failed(const char *what, const char *name, int rc)
{
	return cmdline_fail(1, "store", NULL, "cannot read %s %s (%s): nothing was changed; try again", what, name,
	    ts_strerror(rc));
}

static int
find_user(node *n, const char *name, int64_t *uid)
{
	return node_admin_user(n, name, uid);
}

static json_t *
counts_by_state(store *st, int64_t user_id, const char *key, const char *value, json_int_t *live)
{
	json_t *all = NULL, *by = json_object();
	*live = 0;
	if (st->ops->shares_json(st, user_id, &all) != 0)
		return by;
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v) {
		if (key != NULL && strcmp(js(v, key), value) != 0)
			continue;
		const char *s = js(v, "state");
		json_object_set_new(by, s, json_integer(json_integer_value(json_object_get(by, s)) + 1));
		enum share_state e = share_state_parse(s);
		if (e != SHARE_NSTATES && !share_state_final(e))
			(*live)++;
	}
	json_decref(all);
	return by;
}

static json_int_t
active_devices(const json_t *devices)
{
	json_int_t k = 0;
	size_t i;
	json_t *v;
	json_array_foreach(devices, i, v)
		k += json_integer_value(json_object_get(v, "revoked_at")) == 0;
	return k;
}

/* ---- user ------------------------------------------------------------------ */

static json_t *
user_doc(store *st, const json_t *u)
{
	int64_t uid = json_integer_value(json_object_get(u, "user_id"));
	json_t *devices = NULL, *apps = NULL;
	if (st->ops->devices_json(st, uid, &devices) != 0)
		devices = json_array();
	if (st->ops->apps_json(st, uid, &apps) != 0)
		apps = json_array();
	json_int_t live = 0;
	json_t *by = counts_by_state(st, uid, NULL, NULL, &live);
	return json_pack("{s:I,s:s,s:O,s:I,s:I,s:o,s:o,s:{s:I,s:o}}", "user_id", (json_int_t)uid, "name", js(u, "name"),
	    "created_at", json_object_get(u, "created_at"), "devices_active", active_devices(devices), "devices_total",
	    (json_int_t)json_array_size(devices), "devices", devices, "apps", apps, "shares", "live", live, "by_state", by);
}

int
node_acct_user(int argc, char **argv)
{
	const char *sub = node_arg_positional(argc, argv, 1, with_value);
	const char *name = node_arg_positional(argc, argv, 2, with_value);
	if (sub == NULL || (strcmp(sub, "list") != 0 && name == NULL))
		return cmdline_usage("usage: tapshare-node user list | user show|remove NAME [--force]");
	node n;
	int rc = node_admin_open(argc, argv, &n);
	if (rc != 0)
		return rc;
	json_t *users = NULL;
	if (n.st->ops->users_json(n.st, &users) != 0) {
		rc = cmdline_fail(1, "store", NULL, "cannot read the users");
		goto done;
	}
	if (strcmp(sub, "list") == 0) {
		json_t *out = json_array();
		size_t i;
		json_t *u;
		json_array_foreach(users, i, u) {
			json_t *d = user_doc(n.st, u);
			json_object_del(d, "devices"); /* the list stays one line per user */
			json_object_del(d, "apps");
			json_array_append_new(out, d);
		}
		if (!cmdline_json()) {
			printf("%-24s  %6s  %-9s  %5s  %5s  %s\n", "USER", "ID", "DEVICES", "APPS", "LIVE", "CREATED");
			json_array_foreach(out, i, u) {
				char nm[200], dev[24];
				snprintf(dev, sizeof(dev), "%lld/%lld",
				    (long long)json_integer_value(json_object_get(u, "devices_active")),
				    (long long)json_integer_value(json_object_get(u, "devices_total")));
				json_t *sh = json_object_get(u, "shares");
				json_t *orig = json_array_get(users, i);
				json_t *apps = NULL;
				int64_t uid = json_integer_value(json_object_get(u, "user_id"));
				size_t napps = n.st->ops->apps_json(n.st, uid, &apps) == 0 ? json_array_size(apps) : 0;
				json_decref(apps);
				printf("%-24s  %6lld  %-9s  %5zu  %5lld  ", shown(js(u, "name"), nm, sizeof(nm)), (long long)uid,
				    dev, napps, (long long)json_integer_value(json_object_get(sh, "live")));
				print_time(stdout, json_integer_value(json_object_get(orig, "created_at")));
				fputc('\n', stdout);
			}
		}
		cmdline_ok(out);
		goto done;
	}
	int64_t uid;
	if ((rc = find_user(&n, name, &uid)) != 0)
		goto done;
	json_t *u = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(users, i, v)
		if (json_integer_value(json_object_get(v, "user_id")) == uid)
			u = v;
	if (u == NULL) {
		rc = cmdline_fail(1, "no_user", NULL, "no user %s", name);
		goto done;
	}
	if (strcmp(sub, "show") == 0) {
		json_t *d = user_doc(n.st, u);
		if (!cmdline_json()) {
			char nm[200];
			printf("user      %s (id %lld)\ncreated   ", shown(name, nm, sizeof(nm)), (long long)uid);
			print_time(stdout, json_integer_value(json_object_get(d, "created_at")));
			printf("\ndevices   %lld active of %lld\n", (long long)json_integer_value(json_object_get(d, "devices_active")),
			    (long long)json_integer_value(json_object_get(d, "devices_total")));
			json_array_foreach(json_object_get(d, "devices"), i, v)
				printf("          %s  %s  %s\n", js(v, "device_id"),
				    json_integer_value(json_object_get(v, "revoked_at")) ? "revoked" : "active",
				    shown(js(v, "name"), nm, sizeof(nm)));
			printf("apps      %zu\n", json_array_size(json_object_get(d, "apps")));
			json_array_foreach(json_object_get(d, "apps"), i, v)
				printf("          %s  %s  %s  %s\n", shown(js(v, "app_id"), nm, sizeof(nm)), js(v, "kind"),
				    js(v, "provider"), js(v, "state"));
			json_t *sh = json_object_get(d, "shares");
			printf("shares    %lld live", (long long)json_integer_value(json_object_get(sh, "live")));
			const char *k;
			json_object_foreach(json_object_get(sh, "by_state"), k, v)
				printf(", %lld %s", (long long)json_integer_value(v), k);
			fputc('\n', stdout);
		}
		cmdline_ok(d);
		goto done;
	}
	if (strcmp(sub, "remove") != 0) {
		rc = cmdline_usage("unknown user command %s (list, show, remove, add, code)", sub);
		goto done;
	}
	json_t *live = NULL, *cancelled = json_array();
	if ((rc = live_shares(n.st, uid, NULL, NULL, &live)) != 0) {
		rc = cmdline_fail(1, "store", NULL, "cannot read the shares of %s", name);
	} else if ((rc = guard_live(&n, live, node_arg_flag(argc, argv, "--force"), uid, cancelled, name)) == 0) {
		json_t *devices = NULL;
		json_int_t revoked = 0;
		if (n.st->ops->devices_json(n.st, uid, &devices) == 0)
			revoked = active_devices(devices);
		json_decref(devices);
		if (n.st->ops->begin(n.st) != 0 || n.st->ops->user_remove(n.st, uid, ts_now()) != 0 ||
		    n.st->ops->commit(n.st) != 0) {
			n.st->ops->rollback(n.st);
			rc = cmdline_fail(1, "store", NULL, "cannot remove user %s", name);
		} else {
			log_info("user %lld removed by the operator (%lld devices revoked, %zu shares cancelled)",
			    (long long)uid, (long long)revoked, json_array_size(cancelled));
			if (!cmdline_json())
				fprintf(stderr, "user %s removed: %lld devices revoked, %zu live shares cancelled\n", name,
				    (long long)revoked, json_array_size(cancelled));
			cmdline_ok(json_pack("{s:I,s:s,s:b,s:I,s:O}", "user_id", (json_int_t)uid, "name", name, "removed", 1,
			    "devices_revoked", revoked, "cancelled_shares", cancelled));
		}
	}
	json_decref(live);
	json_decref(cancelled);
done:
	json_decref(users);
	node_unload(&n);
	return rc;
}

/* ---- app --------------------------------------------------------------------- */

static json_t *
app_doc(store *st, const store_app *a)
{
	char uname[STORE_STR_MAX] = "";
	st->ops->user_get(st, a->user_id, uname, sizeof(uname), NULL, 0);
	json_int_t live = 0;
	json_t *by = counts_by_state(st, a->user_id, "app_id", a->app_id, &live);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:{s:I,s:o}}", "app_id", a->app_id, "user", uname, "name",
	    a->name, "kind", a->kind, "provider", a->provider, "shareable", a->shareable && !a->released_share[0],
	    "state", a->released_share[0] ? "moved" : "held", "moved_by_share", a->released_share, "shares", "live", live,
	    "by_state", by);
}

int
node_acct_app(int argc, char **argv)
{
	const char *sub = node_arg_positional(argc, argv, 1, with_value);
	const char *id = node_arg_positional(argc, argv, 2, with_value);
	if (sub == NULL || (strcmp(sub, "list") != 0 && id == NULL))
		return cmdline_usage("usage: tapshare-node app list [--user NAME] | app show|remove APP_ID [--force]");
	node n;
	int rc = node_admin_open(argc, argv, &n);
	if (rc != 0)
		return rc;
	if (strcmp(sub, "list") == 0) {
		const char *only = node_arg_opt(argc, argv, "--user");
		int64_t want = -1;
		json_t *users = NULL, *out = NULL;
		if (only != NULL && (rc = find_user(&n, only, &want)) != 0)
			goto done;
		if (n.st->ops->users_json(n.st, &users) != 0) {
			rc = cmdline_fail(1, "store", NULL, "cannot read the users");
			goto done;
		}
		out = json_array();
		size_t i, j;
		json_t *u, *a;
		json_array_foreach(users, i, u) {
			int64_t uid = json_integer_value(json_object_get(u, "user_id"));
			json_t *apps = NULL;
			if (want >= 0 && uid != want)
				continue;
			if (n.st->ops->apps_json(n.st, uid, &apps) != 0)
				continue;
			json_array_foreach(apps, j, a) {
				json_object_set_new(a, "user", json_string(js(u, "name")));
				json_array_append(out, a);
			}
			json_decref(apps);
		}
		json_decref(users);
		if (!cmdline_json()) {
			printf("%-24s  %-16s  %-8s  %-16s  %-6s  %s\n", "APP", "USER", "KIND", "PROVIDER", "STATE", "NAME");
			json_array_foreach(out, i, a) {
				char id_s[200], nm[200], us[200];
				printf("%-24s  %-16s  %-8s  %-16s  %-6s  %s\n", shown(js(a, "app_id"), id_s, sizeof(id_s)),
				    shown(js(a, "user"), us, sizeof(us)), js(a, "kind"), js(a, "provider"), js(a, "state"),
				    shown(js(a, "name"), nm, sizeof(nm)));
			}
		}
		cmdline_ok(out);
		goto done;
	}
	store_app a;
	if (n.st->ops->app_get(n.st, id, &a) != 0) {
		rc = cmdline_fail(1, "no_app", NULL, "no app %s", id);
		goto done;
	}
	if (strcmp(sub, "show") == 0) {
		json_t *d = app_doc(n.st, &a);
		if (!cmdline_json()) {
			char b1[200], b2[200];
			json_t *sh = json_object_get(d, "shares");
			printf("app       %s\nname      %s\nuser      %s\nkind      %s\nprovider  %s\nstate     %s%s%s\n"
			       "shareable %s\nshares    %lld live",
			    shown(a.app_id, b1, sizeof(b1)), shown(a.name, b2, sizeof(b2)), js(d, "user"), a.kind, a.provider,
			    js(d, "state"), a.released_share[0] ? " by share " : "", a.released_share,
			    json_is_true(json_object_get(d, "shareable")) ? "yes" : "no",
			    (long long)json_integer_value(json_object_get(sh, "live")));
			const char *k;
			json_t *v;
			json_object_foreach(json_object_get(sh, "by_state"), k, v)
				printf(", %lld %s", (long long)json_integer_value(v), k);
			fputc('\n', stdout);
		}
		cmdline_ok(d);
		goto done;
	}
	if (strcmp(sub, "remove") != 0) {
		rc = cmdline_usage("unknown app command %s (list, show, remove, add)", sub);
		goto done;
	}
	json_t *live = NULL, *cancelled = json_array();
	char what[200];
	snprintf(what, sizeof(what), "app %s", id);
	if (live_shares(n.st, a.user_id, "app_id", id, &live) != 0)
		rc = cmdline_fail(1, "store", NULL, "cannot read the shares of app %s", id);
	else if ((rc = guard_live(&n, live, node_arg_flag(argc, argv, "--force"), a.user_id, cancelled, what)) == 0) {
		if (n.st->ops->app_remove(n.st, id) != 0) {
			rc = cmdline_fail(1, "store", NULL, "cannot remove app %s", id);
		} else {
			log_info("app %s removed by the operator (%zu shares cancelled)", id, json_array_size(cancelled));
			if (!cmdline_json())
				fprintf(stderr, "app %s removed (%zu live shares cancelled)\n", id, json_array_size(cancelled));
			cmdline_ok(json_pack("{s:s,s:b,s:O}", "app_id", id, "removed", 1, "cancelled_shares", cancelled));
		}
	}
	json_decref(live);
	json_decref(cancelled);
done:
	node_unload(&n);
	return rc;
}

/* ---- provider ---------------------------------------------------------------- */

/* Apps of every user that name provider (new array). */
static json_t *
apps_of_provider(store *st, const char *provider)
{
	json_t *users = NULL, *out = json_array();
	if (st->ops->users_json(st, &users) != 0)
		return out;
	size_t i, j;
	json_t *u, *a;
	json_array_foreach(users, i, u) {
		json_t *apps = NULL;
		if (st->ops->apps_json(st, json_integer_value(json_object_get(u, "user_id")), &apps) != 0)
			continue;
		json_array_foreach(apps, j, a)
			if (strcmp(js(a, "provider"), provider) == 0)
				json_array_append_new(out, json_string(js(a, "app_id")));
		json_decref(apps);
	}
	json_decref(users);
	return out;
}

int
node_acct_provider(int argc, char **argv)
{
	const char *sub = node_arg_positional(argc, argv, 1, with_value);
	const char *name = node_arg_positional(argc, argv, 2, with_value);
	if (sub == NULL || (strcmp(sub, "list") != 0 && name == NULL))
		return cmdline_usage("usage: tapshare-node provider list | provider show|remove NAME");
	node n;
	int rc = node_admin_open(argc, argv, &n);
	if (rc != 0)
		return rc;
	if (strcmp(sub, "list") == 0) {
		json_t *list = NULL;
		if (n.st->ops->providers_json(n.st, &list) != 0) {
			rc = cmdline_fail(1, "store", NULL, "cannot read the providers");
			goto done;
		}
		if (!cmdline_json()) {
			size_t i;
			json_t *p;
			printf("%-16s  %-40s  %s\n", "PROVIDER", "URL", "CA");
			json_array_foreach(list, i, p)
				printf("%-16s  %-40s  %s\n", js(p, "name"), js(p, "url"), js(p, "ca_file"));
		}
		cmdline_ok(list);
		goto done;
	}
	store_provider p;
	if (n.st->ops->provider_get(n.st, name, &p) != 0) {
		rc = cmdline_fail(1, "no_provider", NULL, "no provider %s", name);
		goto done;
	}
	json_t *apps = apps_of_provider(n.st, name), *live = NULL;
	if (live_shares(n.st, -1, "provider", name, &live) != 0) {
		json_decref(apps);
		rc = cmdline_fail(1, "store", NULL, "cannot read the shares");
		goto done;
	}
	if (strcmp(sub, "show") == 0) {
		if (!cmdline_json()) {
			printf("provider  %s\nurl       %s\nca        %s\napps      %zu", p.name, p.url, p.ca_file,
			    json_array_size(apps));
			size_t i;
			json_t *v;
			json_array_foreach(apps, i, v)
				printf("%s%s", i ? ", " : " (", json_string_value(v));
			printf("%s\nlive      %zu shares\n", json_array_size(apps) ? ")" : "", json_array_size(live));
		}
		cmdline_ok(json_pack("{s:s,s:s,s:s,s:O,s:I}", "name", p.name, "url", p.url, "ca_file", p.ca_file, "apps",
		    apps, "live_shares", (json_int_t)json_array_size(live)));
	} else if (strcmp(sub, "remove") != 0) {
		rc = cmdline_usage("unknown provider command %s (list, show, remove, add)", sub);
	} else if (json_array_size(apps) > 0) {
		rc = cmdline_fail(1, "provider_in_use", json_pack("{s:O}", "apps", apps),
		    "provider %s is named by %zu app%s (first %s): remove or re-register them first (tapshare-node "
		    "app remove)",
		    name, json_array_size(apps), json_array_size(apps) == 1 ? "" : "s",
		    json_string_value(json_array_get(apps, 0)));
	} else if (json_array_size(live) > 0) {
		char ids[256];
		id_list(live, ids, sizeof(ids));
		rc = cmdline_fail(1, "live_shares", json_pack("{s:O}", "live_shares", live),
		    "provider %s still has %zu live share%s (%s): they need it to be cancelled (cancelOrder)", name,
		    json_array_size(live), json_array_size(live) == 1 ? "" : "s", ids);
	} else if (n.st->ops->provider_remove(n.st, name) != 0) {
		rc = cmdline_fail(1, "store", NULL, "cannot remove provider %s", name);
	} else {
		log_info("provider %s removed by the operator", name);
		if (!cmdline_json())
			fprintf(stderr, "provider %s removed\n", name);
		cmdline_ok(json_pack("{s:s,s:b}", "name", name, "removed", 1));
	}
	json_decref(apps);
	json_decref(live);
done:
	node_unload(&n);
	return rc;
}

/* ---- device ------------------------------------------------------------------ */

int
node_acct_device(int argc, char **argv)
{
	const char *sub = node_arg_positional(argc, argv, 1, with_value);
	const char *id = node_arg_positional(argc, argv, 2, with_value);
	if (sub == NULL || id == NULL)
		return cmdline_usage("usage: tapshare-node device show|remove DEVICE_ID [--force]");
	node n;
	int rc = node_admin_open(argc, argv, &n);
	if (rc != 0)
		return rc;
	json_t *all = NULL, *dev = NULL;
	if (n.st->ops->devices_json(n.st, -1, &all) != 0) {
		rc = cmdline_fail(1, "store", NULL, "cannot read the devices");
		goto done;
	}
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
		if (strcmp(js(v, "device_id"), id) == 0)
			dev = v;
	int64_t uid = -1;
	int drc = dev == NULL ? TS_ENOTFOUND : n.st->ops->device_user(n.st, id, &uid);
	if (drc == TS_ENOTFOUND) {
		rc = cmdline_fail(1, "no_device", NULL, "no device %s", id);
		goto done;
	}
	if (drc != 0 && drc != TS_EDENIED) { /* busy: not "no device", and not every user's shares */
		rc = node_admin_read_failed("device", id, drc);
		goto done;
	}
	/* revoked: device_user refuses, the list still has its user */
	if (uid < 0 && (drc = n.st->ops->user_by_name(n.st, js(dev, "user"), &uid)) != 0 && drc != TS_ENOTFOUND) {
		rc = node_admin_read_failed("user", js(dev, "user"), drc);
		goto done;
	}
	if (strcmp(sub, "show") == 0) {
		json_int_t live = 0;
		json_t *by = counts_by_state(n.st, uid, "device_id", id, &live);
		json_t *d = json_pack("{s:s,s:s,s:s,s:O,s:O,s:s,s:{s:I,s:o}}", "device_id", id, "user", js(dev, "user"),
		    "name", js(dev, "name"), "created_at", json_object_get(dev, "created_at"), "revoked_at",
		    json_object_get(dev, "revoked_at"),
		    "state", json_integer_value(json_object_get(dev, "revoked_at")) ? "revoked" : "active", "shares", "live",
		    live, "by_state", by);
		if (!cmdline_json()) {
			char nm[200];
			printf("device    %s\nuser      %s\nname      %s\nstate     %s\nenrolled  ", id, js(dev, "user"),
			    shown(js(dev, "name"), nm, sizeof(nm)), js(d, "state"));
			print_time(stdout, json_integer_value(json_object_get(dev, "created_at")));
			printf("\nshares    %lld live (made from this device)\n", (long long)live);
		}
		cmdline_ok(d);
		goto done;
	}
	/* remove */
	if (json_integer_value(json_object_get(dev, "revoked_at")) != 0) {
		rc = cmdline_fail(1, "already_revoked", NULL, "device %s is already revoked", id);
		goto done;
	}
	json_t *mine = NULL, *live = NULL;
	json_int_t others = 0;
	if (n.st->ops->devices_json(n.st, uid, &mine) == 0)
		others = active_devices(mine) - 1;
	json_decref(mine);
	if (live_shares(n.st, uid, NULL, NULL, &live) != 0) {
		rc = cmdline_fail(1, "store", NULL, "cannot read the shares");
		goto done;
	}
	if (others <= 0 && json_array_size(live) > 0 && !node_arg_flag(argc, argv, "--force")) {
		char ids[256];
		id_list(live, ids, sizeof(ids));
		rc = cmdline_fail(1, "last_device", json_pack("{s:O}", "live_shares", live),
		    "device %s is the last active device of %s, who has %zu live share%s (%s): nobody could see or "
		    "cancel them; cancel them first, or give --force",
		    id, js(dev, "user"), json_array_size(live), json_array_size(live) == 1 ? "" : "s", ids);
		json_decref(live);
		goto done;
	}
	json_decref(live);
	if ((rc = auth_revoke_device(n.st, -1, id, NULL)) != 0) {
		rc = cmdline_fail(1, "store", NULL, "cannot remove device %s: %s", id, ts_strerror(rc));
		goto done;
	}
	if (!cmdline_json())
		fprintf(stderr, "device %s of %s removed (revoked: refused on every endpoint from now on)\n", id,
		    js(dev, "user"));
	cmdline_ok(json_pack("{s:s,s:s,s:b,s:s}", "device_id", id, "user", js(dev, "user"), "removed", 1, "state",
	    "revoked"));
done:
	json_decref(all);
	node_unload(&n);
	return rc;
}
