/*
 * sp_http.c — tapshare-sp's event loop and HTTP handlers (sp_http.h).
 */
#include "sp/sp_http.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/httpd.h"
#include "lib/log.h"
#include "lib/sdnotify.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "sp/policy.h"
#include "sp/sp.h"
#include "sp/sp_ca.h"
#include "sp/sp_store.h"

struct sp_server {
	const sp_conf *conf;
	struct event_base *base;
	sp_policy *policy;
	sp_store *store;
	sp_ca *ca; /* loaded at the first certifyKey */
};

enum sp_fn { SP_FN_CONFIRM, SP_FN_CANCEL, SP_FN_CERTIFY, SP_FN_PROGRESS };

static const char *const fn_names[] = { "confirmOrder", "cancelOrder", "certifyKey",
	"handleDownloadProgressInfo" };

static void
handle(struct evhttp_request *req, struct sp_server *srv, enum sp_fn fn)
{
	char peer[65];
	const char *peer_id = ts_httpd_peer_id(req, peer) == 0 ? peer : NULL;
	if (!sp_conf_client_allowed(srv->conf, peer_id)) {
		log_warn("refused client %s: not in allowed_clients", peer_id ? peer_id : "(none)");
		ts_httpd_reply_error(req, 403, "client_not_allowed",
		    "this client certificate's key is not allowed to call the provider");
		return;
	}
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	int status = 500;
	json_t *resp = NULL;
	int rc;
	switch (fn) {
	case SP_FN_CONFIRM:
		rc = sp_confirm_order(srv->policy, srv->store, body, peer_id, ts_now(), &status,
		    &resp);
		break;
	case SP_FN_CANCEL:
		rc = sp_cancel_order(srv->store, body, peer_id, ts_now(), &status, &resp);
		break;
	case SP_FN_PROGRESS:
		rc = sp_download_progress(srv->store, body, peer_id, ts_now(), &status, &resp);
		break;
	default:
		rc = 0;
		if (srv->ca == NULL)
			rc = sp_ca_open(srv->conf->ca_cert, srv->conf->ca_key, srv->conf->ca_name, 1,
			    &srv->ca);
		if (rc == 0)
			rc = sp_certify_key(srv->store, srv->ca, body, peer_id, ts_now(), &status,
			    &resp);
		break;
	}
	json_decref(body);
	if (rc != 0) {
		log_error("%s failed: %s", fn_names[fn], ts_strerror(rc));
		ts_httpd_reply_error(req, 500, "internal", "%s", ts_strerror(rc));
		return;
	}
	ts_httpd_reply_json(req, status, resp);
}

static void
on_confirm(struct evhttp_request *req, void *arg)
{
	handle(req, arg, SP_FN_CONFIRM);
}

static void
on_cancel(struct evhttp_request *req, void *arg)
{
	handle(req, arg, SP_FN_CANCEL);
}

static void
on_certify(struct evhttp_request *req, void *arg)
{
	handle(req, arg, SP_FN_CERTIFY);
}

static void
on_progress(struct evhttp_request *req, void *arg)
{
	handle(req, arg, SP_FN_PROGRESS);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct sp_server *srv = arg;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(srv->base, NULL);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct sp_server *srv = arg;
	(void)ts_sd_notify_reloading();
	sp_policy *np = NULL;
	char err[256];
	int rc = sp_policy_load(srv->conf->policy, &np, err, sizeof(err));
	if (rc != 0) {
		log_error("policy reload failed, keeping the old one: %s",
		    err[0] ? err : ts_strerror(rc));
		(void)ts_sd_notify("READY=1");
		return;
	}
	sp_policy_free(srv->policy);
	srv->policy = np;
	log_info("policy reloaded from %s", srv->conf->policy);
	(void)ts_sd_notify("READY=1");
}

int
sp_run(const sp_conf *conf)
{
	struct sp_server srv = { .conf = conf };
	ts_httpd *httpd = NULL;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	char err[256] = "";
	int rc;

	if ((rc = sp_policy_load(conf->policy, &srv.policy, err, sizeof(err))) != 0) {
		log_error("policy: %s", err[0] ? err : ts_strerror(rc));
		goto out;
	}
	if ((rc = sp_store_open(conf->db, &srv.store)) != 0) {
		log_error("database %s: %s", conf->db, ts_strerror(rc));
		goto out;
	}
	rc = TS_ENOMEM;
	srv.base = event_base_new();
	if (srv.base == NULL)
		goto out;
	ev_term = evsignal_new(srv.base, SIGTERM, on_stop, &srv);
	ev_int = evsignal_new(srv.base, SIGINT, on_stop, &srv);
	ev_hup = evsignal_new(srv.base, SIGHUP, on_hup, &srv);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL || evsignal_add(ev_term, NULL) != 0 ||
	    evsignal_add(ev_int, NULL) != 0 || evsignal_add(ev_hup, NULL) != 0)
		goto out;

	/* A stale port file from an earlier run must not be mistaken for ours. */
	if (conf->port == 0)
		(void)unlink(conf->port_file);
	ts_httpd_opts o = {
		.addr = conf->listen_addr,
		.port = conf->port,
		.cert_file = conf->cert,
		.key_file = conf->key,
		.client_ca = conf->client_ca,
		.require_client_cert = 1,
		.timeout_s = conf->timeout_s,
		.errbuf = err,
		.errcap = sizeof(err),
	};
	err[0] = '\0';
	if ((rc = ts_httpd_new(srv.base, &o, &httpd)) != 0) {
		log_error("cannot serve on %s:%u: %s", conf->listen_addr, (unsigned)conf->port,
		    err[0] ? err : ts_strerror(rc));
		goto out;
	}
	if ((rc = ts_httpd_route(httpd, "POST", SP_PATH_CONFIRM, on_confirm, &srv)) != 0 ||
	    (rc = ts_httpd_route(httpd, "POST", SP_PATH_CANCEL, on_cancel, &srv)) != 0 ||
	    (rc = ts_httpd_route(httpd, "POST", SP_PATH_CERTIFY, on_certify, &srv)) != 0 ||
	    (rc = ts_httpd_route(httpd, "POST", SP_PATH_PROGRESS, on_progress, &srv)) != 0)
		goto out;
	uint16_t port = ts_httpd_port(httpd);
	if (conf->port == 0) {
		char text[16];
		(void)ts_snprintf(text, sizeof(text), "%u\n", (unsigned)port);
		if ((rc = ts_write_file_atomic(conf->port_file, (const uint8_t *)text, strlen(text),
		    0644)) != 0) {
			log_error("cannot write %s: %s", conf->port_file, ts_strerror(rc));
			goto out;
		}
	}
	int v6 = strchr(conf->listen_addr, ':') != NULL;
	log_info("listening on https://%s%s%s:%u", v6 ? "[" : "", conf->listen_addr, v6 ? "]" : "",
	    (unsigned)port);
	if (ts_sd_notify("READY=1\nSTATUS=serving") < 0)
		log_warn("cannot notify the service manager ($NOTIFY_SOCKET)");
	if (event_base_dispatch(srv.base) < 0) {
		rc = TS_EIO;
		goto out;
	}
	(void)ts_sd_notify("STOPPING=1");
	log_info("stopped");
	if (conf->port == 0)
		(void)unlink(conf->port_file);
	rc = 0;
out:
	ts_httpd_free(httpd);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (ev_hup)
		event_free(ev_hup);
	if (srv.base) {
		ts_event_base_drain(srv.base);
		event_base_free(srv.base);
	}
	sp_ca_free(srv.ca);
	sp_store_close(srv.store);
	sp_policy_free(srv.policy);
	return rc;
}
