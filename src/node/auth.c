/*
 * auth.c — passphrase logins (POST /v1/session): the persisted throttle and
 * the scrypt check, which runs on worker threads so that a login never holds
 * up the event loop (a scrypt check is tens of milliseconds of CPU and 32 MiB;
 * on the loop thread three clients logging in a loop raised every other
 * request's latency from ~5 ms to ~400 ms).
 *
 *   loop thread                      worker thread
 *   auth_login: throttle, queue ---> passwd_verify (scrypt)
 *   on_done: token or 401     <----- event_base_once (thread-safe with
 *                                    evthread_use_pthreads, see run.c)
 *
 * Throttle: every attempt is counted in the store *before* it is checked, for
 * the device ("device:<id>", NODE_PASS_MAX_FAILS per window) and for the
 * account ("user:<id>", NODE_PASS_MAX_FAILS_USER), so concurrent guesses all
 * count, a restart forgets nothing, and no other device can reset a window: a
 * window ends only NODE_PASS_WINDOW_S after its first attempt. A correct
 * passphrase forgets its own device's window and takes its own attempt back
 * from the account's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/http.h>
#include <openssl/crypto.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#define AUTH_PASS_MAX 1024
#define AUTH_HASH_MAX 256
/* Workers run at a lower priority than the event loop: when the CPU is
 * short, logins wait, other requests do not. */
#define AUTH_WORKER_NICE 10

struct auth_job {
	node *n;
	struct evhttp_request *req;
	char device_id[65];
	int64_t user_id;
	char pass[AUTH_PASS_MAX];
	char hash[AUTH_HASH_MAX];
	int ok;
	auth_done_fn done;                 /* NULL: the API's token reply */
	char tag[AUTH_TAG_MAX];            /* handed to done */
	struct auth_job *qnext;            /* queue to the workers */
	struct auth_job *prev, *next;      /* every live job (freed at stop) */
};

struct auth_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct auth_job *qhead, *qtail;
	struct auth_job *live;
	size_t nlive;
	int stopping;
	int nthreads;
	pthread_t th[NODE_AUTH_WORKERS];
};

static void
key_of(char *out, size_t cap, const char *kind, const char *id)
{
	snprintf(out, cap, "%s:%s", kind, id);
}

int
auth_throttle_begin(store *st, const char *device_id, int64_t user_id, int64_t now, int64_t *retry_after,
    int *by_account)
{
	char dk[80], uk[48], uid[24];
	int attempts = 0;
	int64_t ws = 0;
	*by_account = 0;
	*retry_after = 0;
	key_of(dk, sizeof(dk), "device", device_id);
	snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
	key_of(uk, sizeof(uk), "user", uid);
	int rc = st->ops->throttle_hit(st, dk, now, NODE_PASS_WINDOW_S, &attempts, &ws);
	if (rc != 0)
		return rc;
	if (attempts > NODE_PASS_MAX_FAILS) {
		*retry_after = ws + NODE_PASS_WINDOW_S - now;
		return TS_ELIMIT;
	}
	if ((rc = st->ops->throttle_hit(st, uk, now, NODE_PASS_WINDOW_S, &attempts, &ws)) != 0)
		return rc;
	if (attempts > NODE_PASS_MAX_FAILS_USER) {
		*by_account = 1;
		*retry_after = ws + NODE_PASS_WINDOW_S - now;
		return TS_ELIMIT;
	}
	return 0;
}

void
auth_throttle_success(store *st, const char *device_id, int64_t user_id)
{
	char dk[80], uk[48], uid[24];
	key_of(dk, sizeof(dk), "device", device_id);
	snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
	key_of(uk, sizeof(uk), "user", uid);
	if (st->ops->throttle_forget(st, dk) != 0 || st->ops->throttle_undo(st, uk) != 0)
		log_warn("cannot update the passphrase throttle after a correct passphrase");
}

static void
job_free(struct auth_pool *p, struct auth_job *j)
{
	pthread_mutex_lock(&p->mu);
	if (j->prev)
		j->prev->next = j->next;
	else
		p->live = j->next;
	if (j->next)
		j->next->prev = j->prev;
	p->nlive--;
	pthread_mutex_unlock(&p->mu);
	OPENSSL_cleanse(j->pass, sizeof(j->pass));
	free(j);
}

/* Loop thread: the check is done. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct auth_job *j = arg;
	node *n = j->n;
	if (j->done != NULL) {
		if (j->ok)
			auth_throttle_success(n->st, j->device_id, j->user_id);
		else
			log_warn("wrong passphrase for user %lld (%.24s)", (long long)j->user_id, j->device_id);
		j->done(n, j->req, j->ok, j->user_id, j->tag);
		goto done;
	}
	if (!j->ok) {
		log_warn("wrong passphrase from device %.16s…", j->device_id);
		ts_httpd_reply_error(j->req, 401, "wrong_passphrase", "the passphrase is wrong");
		goto done;
	}
	auth_throttle_success(n->st, j->device_id, j->user_id);
	char token[65], th[65];
	uint8_t raw[32];
	if (ts_random(raw, sizeof(raw)) != 0 || ts_hex_encode(raw, sizeof(raw), token, sizeof(token)) != 0) {
		ts_httpd_reply_error(j->req, 500, "random_failed", "no randomness");
		goto done;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	secret_hash(token, th);
	if (n->st->ops->token_add(n->st, th, j->device_id, j->user_id, ts_now() + NODE_TOKEN_TTL_S) != 0) {
		ts_httpd_reply_error(j->req, 500, "store_error", "cannot store the session");
		goto done;
	}
	ts_httpd_reply_json(j->req, 201, json_pack("{s:s,s:i}", "token", token, "expires_in", NODE_TOKEN_TTL_S));
	OPENSSL_cleanse(token, sizeof(token));
done:
	job_free(n->auth, j);
}

static void *
worker_main(void *arg)
{
	node *n = arg;
	struct auth_pool *p = n->auth;
	/* Linux: nice is per thread. Best effort. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), AUTH_WORKER_NICE);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->qhead == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		struct auth_job *j = p->qhead;
		p->qhead = j->qnext;
		if (p->qhead == NULL)
			p->qtail = NULL;
		pthread_mutex_unlock(&p->mu);
		j->ok = passwd_verify(j->pass, j->hash) == 0;
		OPENSSL_cleanse(j->pass, sizeof(j->pass));
		struct timeval now = { 0, 0 };
		if (event_base_once(n->base, -1, EV_TIMEOUT, on_done, j, &now) != 0)
			log_error("cannot hand a passphrase check back to the event loop; the client will time out");
	}
}

int
auth_start(node *n)
{
	struct auth_pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return TS_ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	n->auth = p;
	for (int i = 0; i < NODE_AUTH_WORKERS; i++) {
		if (pthread_create(&p->th[i], NULL, worker_main, n) != 0) {
			auth_stop(n);
			return TS_ENOMEM;
		}
		p->nthreads++;
	}
	return 0;
}

void
auth_stop(node *n)
{
	struct auth_pool *p = n->auth;
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	/* The loop has stopped: checks still queued, or done but not yet
	 * handed back, are answered now (a reply also frees a request whose
	 * client went away). */
	while (p->live != NULL) {
		struct auth_job *j = p->live;
		ts_httpd_reply_error(j->req, 503, "stopping", "the node is stopping; try again");
		job_free(p, j);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
	n->auth = NULL;
}

void
auth_login(node *n, struct evhttp_request *req, const char *device_id, int64_t user_id, const char *pass)
{
	auth_check(n, req, device_id, user_id, pass, NULL, NULL);
}

/* An attempt auth_throttle_begin counted but nobody checked (the queue is
 * full, the store could not read the hash): taken back. */
static void
not_an_attempt(node *n, const char *device_id, int64_t user_id)
{
	char dk[80], uk[48], uid[24];
	key_of(dk, sizeof(dk), "device", device_id);
	snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
	key_of(uk, sizeof(uk), "user", uid);
	(void)n->st->ops->throttle_undo(n->st, dk);
	(void)n->st->ops->throttle_undo(n->st, uk);
}

void
auth_check(node *n, struct evhttp_request *req, const char *device_id, int64_t user_id, const char *pass,
    auth_done_fn done, const char *tag)
{
	struct auth_pool *p = n->auth;
	int64_t retry = 0;
	int by_account = 0;
	if (strlen(pass) >= AUTH_PASS_MAX) {
		ts_httpd_reply_error(req, 400, "bad_request", "the passphrase is too long");
		return;
	}
	int rc = auth_throttle_begin(n->st, device_id, user_id, ts_now(), &retry, &by_account);
	if (rc == TS_ELIMIT) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", (long long)(retry > 0 ? retry : 1));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
		ts_httpd_reply_error(req, 429, "too_many_attempts", "too many passphrase attempts %s; try again in %lld s",
		    by_account ? "for this account" : "from this device", (long long)(retry > 0 ? retry : 1));
		log_warn("passphrase attempt from device %.16s… refused: throttled (%s)", device_id,
		    by_account ? "account" : "device");
		return;
	}
	if (rc != 0) { /* the store could not count it: not checked, retry */
		api_reply_busy(req);
		return;
	}
	struct auth_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		ts_httpd_reply_error(req, 503, "busy", "out of memory");
		return;
	}
	j->n = n;
	j->req = req;
	j->user_id = user_id;
	j->done = done;
	snprintf(j->tag, sizeof(j->tag), "%s", tag ? tag : "");
	snprintf(j->device_id, sizeof(j->device_id), "%s", device_id);
	snprintf(j->pass, sizeof(j->pass), "%s", pass);
	rc = n->st->ops->user_get(n->st, user_id, NULL, 0, j->hash, sizeof(j->hash));
	if (rc == TS_ENOTFOUND)
		j->hash[0] = '\0'; /* verifies as wrong */
	else if (rc != 0) {
		/* the store could not read the hash: not a wrong passphrase */
		OPENSSL_cleanse(j->pass, sizeof(j->pass));
		free(j);
		not_an_attempt(n, device_id, user_id);
		api_reply_busy(req);
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->nlive >= NODE_AUTH_QUEUE_MAX) {
		pthread_mutex_unlock(&p->mu);
		OPENSSL_cleanse(j->pass, sizeof(j->pass));
		free(j);
		not_an_attempt(n, device_id, user_id);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		ts_httpd_reply_error(req, 503, "busy", "too many logins in progress; try again");
		return;
	}
	j->next = p->live;
	if (p->live)
		p->live->prev = j;
	p->live = j;
	p->nlive++;
	if (p->qtail)
		p->qtail->qnext = j;
	else
		p->qhead = j;
	p->qtail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
auth_revoke_device(store *st, int64_t by_user, const char *device_id, int64_t *owner)
{
	int64_t uid = -1;
	int rc = st->ops->begin(st);
	if (rc != 0)
		return rc;
	rc = st->ops->device_revoke(st, device_id, ts_now(), &uid);
	if ((rc == 0 || rc == TS_ESTATE) && by_user >= 0 && uid != by_user)
		rc = TS_ENOTFOUND; /* another user's device: as if unknown */
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc != 0) {
		st->ops->rollback(st);
		return rc;
	}
	if (owner != NULL)
		*owner = uid;
	log_info("device %.16s… of user %lld revoked%s", device_id, (long long)uid,
	    by_user >= 0 ? " by the user" : " by the operator");
	return 0;
}
