/*
 * sp_http.h — tapshare-sp's HTTPS front: confirmOrder / cancelOrder /
 * certifyKey on one libevent loop (mutual TLS, client certificates chaining
 * to the node CA, key in allowed_clients).
 */
#ifndef TS_SP_HTTP_H
#define TS_SP_HTTP_H

#include "sp/sp_conf.h"

#define SP_PATH_CONFIRM "/gsma/rsp2/es2plus/confirmOrder"
#define SP_PATH_CANCEL "/gsma/rsp2/es2plus/cancelOrder"
#define SP_PATH_CERTIFY "/gsma/rsp2/es2plus/certifyKey"
#define SP_PATH_PROGRESS "/gsma/rsp2/es2plus/handleDownloadProgressInfo"

/* Serves until SIGTERM or SIGINT (then returns 0). SIGHUP reloads the policy.
 * The bank-ID CA is loaded at the first certifyKey (and created then if the
 * directory has none).
 * Logs "listening on https://HOST:PORT"; with port 0 also writes the chosen
 * port to conf->port_file (removed again on a clean stop). */
int sp_run(const sp_conf *conf);

#endif
