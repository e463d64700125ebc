/*
 * sp_store.c — SQLite record of tapshare-sp decisions (sp_store.h).
 */
#include "sp/sp_store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/ts_err.h"

#define SP_STORE_BUSY_MS 5000
#define SP_STORE_SCHEMA_VERSION 2

struct sp_store {
	sqlite3 *db;
};

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS decisions ("
    " id INTEGER PRIMARY KEY,"
    " created_at INTEGER NOT NULL,"
    " function TEXT NOT NULL,"
    " functionCallIdentifier TEXT NOT NULL UNIQUE,"
    " requester TEXT,"
    " peer_id TEXT,"
    " eid TEXT,"
    " app_id TEXT,"
    " share_id TEXT,"
    " user_id TEXT,"
    " decision TEXT NOT NULL,"
    " kind TEXT,"
    " associated_app_id TEXT,"
    " not_after INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT,"
    " http_status INTEGER NOT NULL,"
    " response TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS decisions_assoc ON decisions(associated_app_id);";

/* Version 1 -> 2 (also run on a fresh database after schema_v1). */
static const char schema_v2[] =
    "ALTER TABLE decisions ADD COLUMN account TEXT;"
    "CREATE TABLE IF NOT EXISTS accounts ("
    " app_id TEXT PRIMARY KEY,"
    " user_id TEXT,"
    " account TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS certificates ("
    " associated_app_id TEXT PRIMARY KEY,"
    " public_key BLOB NOT NULL,"
    " certificate BLOB NOT NULL,"
    " created_at INTEGER NOT NULL);";

static int
user_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return TS_EDB;
	int rc = TS_EDB;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
db_err(sp_store *s, const char *what)
{
	log_error("sp store: %s: %s", what, sqlite3_errmsg(s->db));
	return TS_EDB;
}

int
sp_store_open(const char *path, sp_store **out)
{
	if (path == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	/* Create the file ourselves so that it is 0600 from the start. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return TS_EIO;
	close(fd);
	sp_store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TS_ENOMEM;
	int rc = TS_EDB;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		if (s->db != NULL)
			db_err(s, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, SP_STORE_BUSY_MS);
	sqlite3_extended_result_codes(s->db, 1);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK) {
		db_err(s, "pragma");
		goto fail;
	}
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_err(s, "begin");
		goto fail;
	}
	int ver = 0;
	if (user_version(s->db, &ver) != 0) {
		db_err(s, "user_version");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (ver > SP_STORE_SCHEMA_VERSION) {
		log_error("sp store: %s has schema %d, newer than this program's %d", path, ver,
		    SP_STORE_SCHEMA_VERSION);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (sqlite3_exec(s->db, schema_v1, NULL, NULL, NULL) != SQLITE_OK ||
	    (ver < 2 && sqlite3_exec(s->db, schema_v2, NULL, NULL, NULL) != SQLITE_OK) ||
	    sqlite3_exec(s->db, "PRAGMA user_version=2", NULL, NULL, NULL) != SQLITE_OK) {
		db_err(s, "schema");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_err(s, "commit");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sp_store_close(s);
	return rc;
}

void
sp_store_close(sp_store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int
sp_store_insert(sp_store *s, const sp_record *r)
{
	static const char sql[] =
	    "INSERT INTO decisions (created_at, function, functionCallIdentifier, requester,"
	    " peer_id, eid, app_id, share_id, user_id, decision, kind, associated_app_id,"
	    " not_after, reason, http_status, response, account)"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	if (s == NULL || r == NULL || r->function == NULL || r->fci == NULL ||
	    r->decision == NULL || r->response == NULL)
		return TS_EINVAL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare insert");
	sqlite3_bind_int64(st, 1, r->created_at);
	bind_text(st, 2, r->function);
	bind_text(st, 3, r->fci);
	bind_text(st, 4, r->requester);
	bind_text(st, 5, r->peer_id);
	bind_text(st, 6, r->eid);
	bind_text(st, 7, r->app_id);
	bind_text(st, 8, r->share_id);
	bind_text(st, 9, r->user_id);
	bind_text(st, 10, r->decision);
	bind_text(st, 11, r->kind);
	bind_text(st, 12, r->associated_app_id);
	sqlite3_bind_int64(st, 13, r->not_after);
	bind_text(st, 14, r->reason);
	sqlite3_bind_int(st, 15, r->http_status);
	bind_text(st, 16, r->response);
	bind_text(st, 17, r->account);
	int src = sqlite3_step(st);
	int rc = 0;
	if (src == SQLITE_CONSTRAINT_UNIQUE)
		rc = TS_EEXIST;
	else if (src != SQLITE_DONE)
		rc = db_err(s, "insert");
	sqlite3_finalize(st);
	return rc;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

int
sp_store_lookup(sp_store *s, const char *fci, char **function, char **response,
    int *http_status)
{
	static const char sql[] = "SELECT function, response, http_status FROM decisions"
				  " WHERE functionCallIdentifier = ?";
	*function = NULL;
	*response = NULL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare lookup");
	bind_text(st, 1, fci);
	int rc;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		*function = col_dup(st, 0);
		*response = col_dup(st, 1);
		*http_status = sqlite3_column_int(st, 2);
		rc = (*function && *response) ? 0 : TS_ENOMEM;
		if (rc != 0) {
			free(*function);
			free(*response);
			*function = *response = NULL;
		}
	} else if (src == SQLITE_DONE) {
		rc = TS_ENOTFOUND;
	} else {
		rc = db_err(s, "lookup");
	}
	sqlite3_finalize(st);
	return rc;
}

int
sp_store_find_assoc(sp_store *s, const char *assoc_id)
{
	static const char sql[] = "SELECT 1 FROM decisions WHERE associated_app_id = ?"
				  " AND function = 'confirmOrder' AND decision = 'approved'";
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare find");
	bind_text(st, 1, assoc_id);
	int src = sqlite3_step(st);
	int rc = src == SQLITE_ROW ? 0 : src == SQLITE_DONE ? TS_ENOTFOUND : db_err(s, "find");
	sqlite3_finalize(st);
	return rc;
}

/* Copies column i (text, NULL -> "") into out; TS_ELIMIT if too long. */
static int
col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? strlen((const char *)t) : 0;
	if (n >= cap)
		return TS_ELIMIT;
	if (n > 0)
		memcpy(out, t, n);
	out[n] = '\0';
	return 0;
}

int
sp_store_get_minted(sp_store *s, const char *assoc_id, sp_minted *out)
{
	static const char sql[] = "SELECT kind, app_id, eid, user_id, account, not_after"
				  " FROM decisions WHERE associated_app_id = ?"
				  " AND function = 'confirmOrder' AND decision = 'approved'"
				  " ORDER BY id LIMIT 1";
	if (s == NULL || assoc_id == NULL || out == NULL)
		return TS_EINVAL;
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare minted");
	bind_text(st, 1, assoc_id);
	int rc;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		if ((rc = col_copy(st, 0, out->kind, sizeof(out->kind))) == 0 &&
		    (rc = col_copy(st, 1, out->app_id, sizeof(out->app_id))) == 0 &&
		    (rc = col_copy(st, 2, out->eid, sizeof(out->eid))) == 0 &&
		    (rc = col_copy(st, 3, out->user_id, sizeof(out->user_id))) == 0 &&
		    (rc = col_copy(st, 4, out->account, sizeof(out->account))) == 0)
			out->not_after = sqlite3_column_int64(st, 5);
	} else if (src == SQLITE_DONE) {
		rc = TS_ENOTFOUND;
	} else {
		rc = db_err(s, "minted");
	}
	sqlite3_finalize(st);
	return rc;
}

int
sp_store_cancelled(sp_store *s, const char *assoc_id)
{
	static const char sql[] = "SELECT 1 FROM decisions WHERE associated_app_id = ?"
				  " AND function = 'cancelOrder' LIMIT 1";
	sqlite3_stmt *st = NULL;
	if (s == NULL || assoc_id == NULL)
		return TS_EINVAL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare cancelled");
	bind_text(st, 1, assoc_id);
	int src = sqlite3_step(st);
	int rc = src == SQLITE_ROW ? 1 : src == SQLITE_DONE ? 0 : db_err(s, "cancelled");
	sqlite3_finalize(st);
	return rc;
}

int
sp_store_account_get(sp_store *s, const char *app_id, char account[SP_ACCOUNT_MAX])
{
	static const char sql[] = "SELECT account FROM accounts WHERE app_id = ?";
	if (s == NULL || app_id == NULL || account == NULL)
		return TS_EINVAL;
	account[0] = '\0';
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare account");
	bind_text(st, 1, app_id);
	int src = sqlite3_step(st);
	int rc = src == SQLITE_ROW ? col_copy(st, 0, account, SP_ACCOUNT_MAX)
				   : src == SQLITE_DONE ? TS_ENOTFOUND : db_err(s, "account");
	sqlite3_finalize(st);
	return rc;
}

int
sp_store_account_add(sp_store *s, const char *app_id, const char *user_id,
    const char *account, int64_t now)
{
	static const char sql[] = "INSERT INTO accounts (app_id, user_id, account, created_at)"
				  " VALUES (?,?,?,?)";
	if (s == NULL || app_id == NULL || account == NULL || strlen(account) >= SP_ACCOUNT_MAX)
		return TS_EINVAL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare account insert");
	bind_text(st, 1, app_id);
	bind_text(st, 2, user_id);
	bind_text(st, 3, account);
	sqlite3_bind_int64(st, 4, now);
	int src = sqlite3_step(st);
	int rc = 0;
	if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = TS_EEXIST;
	else if (src != SQLITE_DONE)
		rc = db_err(s, "account insert");
	sqlite3_finalize(st);
	return rc;
}

static int
col_blob(sqlite3_stmt *st, int i, uint8_t **out, size_t *len)
{
	const void *b = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	*out = NULL;
	*len = 0;
	if (b == NULL || n <= 0)
		return TS_EDB;
	if ((*out = malloc((size_t)n)) == NULL)
		return TS_ENOMEM;
	memcpy(*out, b, (size_t)n);
	*len = (size_t)n;
	return 0;
}

int
sp_store_cert_get(sp_store *s, const char *assoc_id, uint8_t **point, size_t *point_len,
    uint8_t **der, size_t *der_len)
{
	static const char sql[] = "SELECT public_key, certificate FROM certificates"
				  " WHERE associated_app_id = ?";
	if (s == NULL || assoc_id == NULL || point == NULL || der == NULL)
		return TS_EINVAL;
	*point = NULL;
	*der = NULL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare cert");
	bind_text(st, 1, assoc_id);
	int rc;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		if ((rc = col_blob(st, 0, point, point_len)) == 0 &&
		    (rc = col_blob(st, 1, der, der_len)) != 0) {
			free(*point);
			*point = NULL;
		}
	} else if (src == SQLITE_DONE) {
		rc = TS_ENOTFOUND;
	} else {
		rc = db_err(s, "cert");
	}
	sqlite3_finalize(st);
	return rc;
}

int
sp_store_cert_put(sp_store *s, const char *assoc_id, const uint8_t *point,
    size_t point_len, const uint8_t *der, size_t der_len, int64_t now)
{
	static const char sql[] = "INSERT INTO certificates (associated_app_id, public_key,"
				  " certificate, created_at) VALUES (?,?,?,?)";
	if (s == NULL || assoc_id == NULL || point == NULL || der == NULL || point_len == 0 ||
	    der_len == 0 || point_len > INT32_MAX || der_len > INT32_MAX)
		return TS_EINVAL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "prepare cert insert");
	bind_text(st, 1, assoc_id);
	sqlite3_bind_blob(st, 2, point, (int)point_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, der, (int)der_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, now);
	int src = sqlite3_step(st);
	int rc = 0;
	if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = TS_EEXIST;
	else if (src != SQLITE_DONE)
		rc = db_err(s, "cert insert");
	sqlite3_finalize(st);
	return rc;
}

int
sp_store_list(sp_store *s, json_t **out)
{
	static const char sql[] =
	    "SELECT id, created_at, function, functionCallIdentifier, requester, peer_id, eid,"
	    " app_id, share_id, user_id, decision, kind, associated_app_id, not_after, reason,"
	    " http_status, account FROM decisions ORDER BY id";
	static const char *const names[] = { "id", "created_at", "function",
		"functionCallIdentifier", "requester", "peer_id", "eid", "app_id", "share_id",
		"user_id", "decision", "kind", "associatedAppId", "notAfter", "reason",
		"http_status", "account" };
	*out = NULL;
	json_t *arr = json_array();
	if (arr == NULL)
		return TS_ENOMEM;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		json_decref(arr);
		return db_err(s, "prepare list");
	}
	int rc = 0, src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			rc = TS_ENOMEM;
			break;
		}
		for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
			json_t *v;
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				v = json_integer(sqlite3_column_int64(st, i));
				break;
			case SQLITE_NULL:
				v = json_null();
				break;
			default:
				v = json_string((const char *)sqlite3_column_text(st, i));
				if (v == NULL) /* not UTF-8: never from our own inserts */
					v = json_null();
				break;
			}
			if (json_object_set_new(o, names[i], v) != 0) {
				rc = TS_ENOMEM;
				break;
			}
		}
		if (rc != 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = db_err(s, "list");
	sqlite3_finalize(st);
	if (rc != 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
