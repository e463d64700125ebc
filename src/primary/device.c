/*
 * device.c — `tapshare device list | revoke [DEVICE_ID]`: the account's
 * primary devices, and revocation of a lost one (or of this one) from the
 * phone itself (issue 8). The node refuses a revoked device on every
 * endpoint at once; see docs/protocol.md §2.
 */
#include <stdio.h>
#include <string.h>

#include "lib/ts_err.h"
#include "primary/cli.h"
#include "primary/cmd.h"
#include "primary/nodeapi.h"

static void
print_devices(const json_t *devs, const char *self)
{
	size_t i;
	json_t *v;
	printf("  %-64s  %-8s  %s\n", "DEVICE", "STATE", "NAME");
	json_array_foreach(devs, i, v) {
		const char *id = json_string_value(json_object_get(v, "device_id"));
		char name[160];
		cli_sanitize(json_string_value(json_object_get(v, "name")) ? json_string_value(json_object_get(v, "name"))
									 : "",
		    name, sizeof(name));
		printf("%c %-64s  %-8s  %s\n", id && self && strcmp(id, self) == 0 ? '*' : ' ', id ? id : "?",
		    json_integer_value(json_object_get(v, "revoked_at")) ? "revoked" : "active", name);
	}
}

int
cmd_device(const cli_opts *o)
{
	primary_ctx *c = NULL;
	json_t *resp = NULL;
	json_t *doc = json_object();
	nodeapi_error e;
	int ex = 1, rc;
	if (doc == NULL || cmd_ctx_open(o, doc, &c) != 0)
		goto out;
	if (cmd_login(o, c, doc) != 0)
		goto out;
	if (strcmp(o->device_sub, "list") == 0) {
		if ((rc = nodeapi_devices(cmd_ctx_api(c), &resp, &e)) != 0) {
			cmd_node_failed(doc, "cannot list the devices", rc, &e);
			goto out;
		}
		if (!o->json)
			print_devices(json_object_get(resp, "devices"),
			    json_string_value(json_object_get(resp, "this_device")));
		json_decref(doc);
		doc = json_incref(resp);
		ex = 0;
		goto out;
	}
	const char *target = o->device_id ? o->device_id : "self";
	if ((rc = nodeapi_device_revoke(cmd_ctx_api(c), target, &resp, &e)) != 0) {
		cmd_node_failed(doc, "the node refused to revoke the device", rc, &e);
		goto out;
	}
	const char *id = json_string_value(json_object_get(resp, "device_id"));
	cmd_step(o, "device %s revoked%s: the node refuses it from now on", id ? id : target,
	    o->device_id ? "" : " (this device)");
	json_object_set_new(doc, "result", json_string("revoked"));
	json_object_set_new(doc, "device_id", json_string(id ? id : target));
	ex = 0;
out:
	if (o->json)
		cmd_print_json(doc);
	json_decref(doc);
	json_decref(resp);
	cmd_ctx_free(c);
	return ex;
}
