/*
 * web.h — the account owner's web page (web.c) and its embedded assets
 * (the files of src/node/web/, compiled into web_assets.c at build time by
 * cmake/embed.cmake).
 */
#ifndef TS_NODE_WEB_H
#define TS_NODE_WEB_H

#include <stddef.h>

struct node;

#define WEB_SESSION_DEFAULT_S 900

typedef struct web_asset {
	const char *name;          /* "index.html" (path below /owner/) */
	const char *type;          /* Content-Type */
	const unsigned char *data;
	size_t len;
} web_asset;

/* The embedded file of that name, or NULL (web_assets.c, generated). */
const web_asset *web_asset_find(const char *name);

/* Reads [node] web (on|off) and web_session_s into n. TS_ECONFIG. */
int web_conf(struct node *n);
/* Adds the /owner/ routes to n->httpd (nothing when [node] web = off). */
void web_routes(struct node *n);
#endif
