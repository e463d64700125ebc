/*
 * conf.c — where tapshare-node finds its configuration and its state, and
 * (node.h) the checks of node.ini.
 *
 * Two layouts:
 *   --dir DIR           (tests, demos, `init`): DIR/node.ini, state in DIR
 *   installed (no --dir): /etc/tapshare/node.ini, state in /var/lib/tapshare
 *                        (TS_SYSCONFDIR / TS_STATEDIR from the build's install
 *                        prefix; under systemd $CONFIGURATION_DIRECTORY and
 *                        $STATE_DIRECTORY, which ConfigurationDirectory= and
 *                        StateDirectory= set, win)
 * --config FILE names the configuration file in either layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#ifndef TS_SYSCONFDIR
#define TS_SYSCONFDIR "/etc/tapshare"
#endif
#ifndef TS_STATEDIR
#define TS_STATEDIR "/var/lib/tapshare"
#endif

static const char *
arg_value(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc - 1; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* First directory of a colon-separated systemd list ("a:b" -> "a"). */
static int
first_dir(const char *list, char *out, size_t cap)
{
	size_t l = strcspn(list, ":");
	if (l == 0 || l >= cap)
		return TS_ECONFIG;
	memcpy(out, list, l);
	out[l] = '\0';
	return 0;
}

int
node_locate(int argc, char **argv, char *dir, size_t dcap, char *ini, size_t icap)
{
	const char *d = arg_value(argc, argv, "--dir");
	const char *c = arg_value(argc, argv, "--config");
	if (d == NULL)
		d = getenv("TAPSHARE_NODE_DIR");
	if (c == NULL)
		c = getenv("TAPSHARE_NODE_CONFIG");
	int rc;
	if (d != NULL)
		rc = ts_snprintf(dir, dcap, "%s", d);
	else if (getenv("STATE_DIRECTORY") != NULL && getenv("STATE_DIRECTORY")[0] != '\0')
		rc = first_dir(getenv("STATE_DIRECTORY"), dir, dcap);
	else
		rc = ts_snprintf(dir, dcap, "%s", TS_STATEDIR);
	if (rc != 0)
		return TS_ECONFIG;
	if (c != NULL)
		rc = ts_snprintf(ini, icap, "%s", c);
	else if (d != NULL)
		rc = ts_snprintf(ini, icap, "%s/node.ini", d);
	else {
		char cd[512];
		const char *cdir = getenv("CONFIGURATION_DIRECTORY");
		if (cdir != NULL && cdir[0] != '\0') {
			if (first_dir(cdir, cd, sizeof(cd)) != 0)
				return TS_ECONFIG;
		} else
			(void)ts_snprintf(cd, sizeof(cd), "%s", TS_SYSCONFDIR);
		rc = ts_snprintf(ini, icap, "%s/node.ini", cd);
	}
	return rc == 0 ? 0 : TS_ECONFIG;
}
