/*
 * cli.h — the pure parts of `tapshare` (the primary device, the patent's
 * first wireless device): argument parsing, usage text, home directory,
 * primary.ini text, app choice, interpretation and formatting of node
 * objects and events. No network, no terminal: unit-tested in
 * tests/unit/primary/test_cli.c. I/O lives in cmd.c and nodeapi.c.
 */
#ifndef TS_PRIMARY_CLI_H
#define TS_PRIMARY_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define CLI_DEFAULT_TIMEOUT_S 120
#define CLI_MAX_TIMEOUT_S 86400
#define CLI_MAX_DURATION_S (10LL * 366 * 24 * 3600)
#define CLI_MAX_ID 128 /* share ids and app ids */
/* offer: how long a share offer stays valid (the node accepts at most 3600 s) */
#define CLI_OFFER_DEFAULT_TTL_S 300
#define CLI_OFFER_MAX_TTL_S 3600

enum cli_cmd {
	CLI_CMD_NONE = 0,
	CLI_CMD_HELP,    /* usage (of help_topic if set) on stdout, exit 0 */
	CLI_CMD_VERSION,
	CLI_CMD_ENROLL,
	CLI_CMD_APPS,
	CLI_CMD_SHARE,
	CLI_CMD_SHARES,
	CLI_CMD_MOVE,    /* move.c: share, then release the original */
	CLI_CMD_CANCEL,
	CLI_CMD_OFFER,   /* offer.c: companion-initiated sharing (claims 20/33) */
	CLI_CMD_WATCH,   /* watch.c: follow the events of all the user's shares */
	CLI_CMD_DEVICE,  /* device.c: list the user's devices, revoke one (issue 8) */
};

/* Every string is borrowed from argv. */
typedef struct cli_opts {
	int cmd;                     /* enum cli_cmd */
	const char *help_topic;      /* CLI_CMD_HELP: command name or NULL */
	const char *home;            /* --home, NULL = default */
	const char *passphrase_file; /* --passphrase-file */
	const char *se;              /* --se SPEC: this phone's own SE (move); else primary.ini */
	int json;                    /* --json */
	/* enroll */
	const char *node_url, *ca_file, *code, *name;
	/* share */
	const char *link, *app_id;
	const char *eid;      /* --eid: EID known already (S1 done earlier); instead of --link */
	long long duration_s; /* 0 = not given */
	long long timeout_s;  /* CLI_DEFAULT_TIMEOUT_S unless given */
	int no_wait;
	int confirmation_code; /* --confirmation-code: the share asks for one */
	/* cancel */
	const char *share_id;
	/* offer (also --app, --link, --timeout, --no-wait) */
	long long ttl_s;          /* --ttl, CLI_OFFER_DEFAULT_TTL_S unless given */
	const char *print_offer;  /* testing: --print-offer FILE, write the signed offer
	                           * (base64) there instead of handing it over */
	long long expires_at;     /* testing: --expires-at UNIX, 0 = now + ttl */
	/* watch (also --timeout, --json; share_id from --share) */
	int all;         /* --all: replay every stored event, not only new ones */
	int timeout_set; /* --timeout was given (watch runs until a signal without it) */
	/* shares */
	int active;      /* --active: hide shares in a final state */
	/* device: "list" or "revoke"; device_id NULL = this device */
	const char *device_sub, *device_id;
} cli_opts;

/* Parses argv (argv[0] is the program). Returns 0, or TS_EINVAL with the
 * reason in err (the caller prints it and exits 2). Options may come before
 * or after the command and be written "--opt VALUE" or "--opt=VALUE".
 * "--help" anywhere gives CLI_CMD_HELP for the command seen, if any. */
int cli_parse(int argc, char *const *argv, cli_opts *o, char *err, size_t errcap);

/* Name of a command ("share") or NULL. */
const char *cli_cmd_name(int cmd);
/* Writes the usage text: the overview when topic is NULL, else the
 * command's page. TS_ENOTFOUND for an unknown topic (nothing written). */
int cli_usage(FILE *out, const char *topic);

/* Home directory: opt, else env_tapshare_home ($TAPSHARE_HOME), else
 * env_home/.tapshare ($HOME). Empty strings count as unset. TS_ECONFIG if
 * none is known, TS_ELIMIT if it does not fit. */
int cli_home_dir(const char *opt, const char *env_tapshare_home, const char *env_home,
    char *out, size_t cap);

/* The primary.ini text. Values must be non-empty (name may be NULL/empty)
 * and free of control characters: TS_EINVAL otherwise. Caller frees *out. */
int cli_format_ini(const char *node_url, const char *user, const char *device_id,
    const char *name, char **out);

/* App choice (S3). apps is the node's "apps" array (borrowed).
 * cli_app_find: index of the app with app_id, or -1.
 * cli_app_menu: writes the numbered list of shareable apps ("  1) ID  NAME
 *   (KIND, PROVIDER)") and returns how many there are; map[i] gets the
 *   index in apps of menu entry i+1 (map has room for mapcap entries).
 * cli_parse_choice: a typed answer "2\n" -> 0-based menu index; TS_EINVAL
 *   unless it is a number in 1..n (surrounding blanks allowed). */
long cli_app_find(const json_t *apps, const char *app_id);
size_t cli_app_menu(FILE *out, const json_t *apps, size_t *map, size_t mapcap);
int cli_parse_choice(const char *line, size_t n, size_t *idx);

/* Tables for `apps` and `shares` (arrays borrowed). */
void cli_print_apps(FILE *out, const json_t *apps);
void cli_print_shares(FILE *out, const json_t *shares);

/* The primary's view (issue 3; `tapshare shares`): 1 if state is final
 * (denied, failed, revoked, expired), else 0 (NULL: 0). */
int cli_share_final(const char *state);
/* New array (caller decrefs) of the shares not in a final state; NULL on
 * bad input or out of memory. shares borrowed. */
json_t *cli_shares_active(const json_t *shares);
/* As cli_print_shares with a DEVICE column (first 8 characters of the
 * share's device_id: which of the user's devices made it) after
 * ASSOCIATED; active: only shares not in a final state ("no active shares"
 * when none). */
void cli_print_shares_view(FILE *out, const json_t *shares, int active);

/* What an SSE event means for a command that waits for it. */
enum cli_wait { CLI_WAIT_INSTALL = 1, CLI_WAIT_REVOKE };
enum cli_outcome {
	CLI_EV_IGNORE = 0, /* nothing to print (already shown, or irrelevant) */
	CLI_EV_PROGRESS,   /* print the line, keep waiting */
	CLI_EV_SUCCESS,    /* print the line, exit 0 */
	CLI_EV_FAILURE,    /* print the line, exit 1 */
};
/* Classifies event (e.g. "share.installed") for the wait kind and writes
 * the line to print into line (data: the event's share object, may be NULL).
 * Lines: "... authorised by provider", "... delivered to companion",
 * "S6 second confirmation: installed in companion (<associated_app_id>)",
 * "S8 share <id> revoked", "... denied by provider: <reason>", ... */
int cli_event(int wait, const char *event, const json_t *data, char *line, size_t cap);

/* Copies text for a terminal: control characters (ESC, CR, ...) become '?'
 * so that a companion's name or a node's message cannot drive the terminal.
 * Truncates to cap-1 bytes. */
void cli_sanitize(const char *in, char *out, size_t cap);

/* Checks a share id before it goes into a URL path: 1..CLI_MAX_ID of
 * [A-Za-z0-9_-]. Returns 0 or TS_EINVAL. */
int cli_check_id(const char *id);

#endif
