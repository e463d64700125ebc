/*
 * cmdline.h — the command-line contract the five programs share
 * (docs/cli.md): one help layout, one --json envelope, NDJSON progress.
 *
 *   success   {"schema":1,"data":<the command's result>}
 *   failure   {"schema":1,"error":{"code":"<stable code>","message":"..."}}
 *             (a failure may also carry "data": what was done before it)
 *   progress  {"schema":1,"event":{...}}   one per line, before the envelope
 *
 * Under --json every envelope and event is ONE line on stdout, so a reader
 * can take the last line as the result (`tail -n1 | jq`). Errors also go to
 * stderr as "PROG: error: message" whatever the mode. Exit status: 0
 * success, 1 the operation failed, 2 bad usage (with --json, usage errors
 * are also enveloped, code "usage").
 *
 * State is process-wide (one command per process); not thread-safe: call
 * from the main thread only.
 */
#ifndef TS_CMDLINE_H
#define TS_CMDLINE_H

#include <stdio.h>

#include <jansson.h>

#define CMDLINE_SCHEMA 1

/* Program name (borrowed, static) and whether --json appears among argv
 * (before a lone "--"). */
void cmdline_init(const char *prog, int argc, char **argv);
/* 1 when the command runs under --json. */
int cmdline_json(void);
/* Turns --json on or off (programs that parse their own options). */
void cmdline_set_json(int on);

/* Prints the success envelope around data (takes ownership; NULL = null).
 * Text mode: prints nothing and drops data. */
void cmdline_ok(json_t *data);
/* Reports a failure: "PROG: error: <message>" on stderr and, under --json,
 * the error envelope on stdout (once per process; data may be NULL, taken).
 * Returns rc so callers can write `return cmdline_fail(1, "no_user", ...)`. */
int cmdline_fail(int rc, const char *code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The error envelope alone (nothing on stderr: the caller said why): err
 * is {"code","message",...} (taken), data may be NULL (taken). */
void cmdline_error_envelope(json_t *err, json_t *data);
/* A usage error: the message, then "(see PROG --help)" on stderr; under
 * --json the error envelope with code "usage". Returns 2. */
int cmdline_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One NDJSON progress line under --json (takes ownership of event; a
 * "step" and "text" member are customary); nothing in text mode. */
void cmdline_event(json_t *event);
/* 1 once an envelope was printed. */
int cmdline_done(void);
/* At the end of main: under --json, if the command printed no envelope,
 * prints one for rc (0: data null; 2: code "usage"; else "failed"), so
 * every command answers exactly one envelope. Returns rc. */
int cmdline_exit(int rc);

/* ---- help ------------------------------------------------------------- */

typedef struct cmdline_opt {
	const char *flag; /* "--dir DIR" */
	const char *help;
} cmdline_opt;

typedef struct cmdline_cmd {
	const char *name;     /* "user" (what `help user` takes) */
	const char *synopsis; /* lines after the program name, '\n' between forms;
			       * a line beginning with a space continues the one before */
	const char *brief;    /* one line for the command list */
	const char *help;     /* what it does (wrapped by hand, '\n' ends lines) */
} cmdline_cmd;

typedef struct cmdline_prog {
	const char *prog;        /* "tapshare-node" */
	const char *summary;     /* one line, after "PROG - " */
	const char *description; /* paragraph(s) */
	const cmdline_cmd *cmds; /* NULL-terminated by name == NULL; may be NULL */
	const cmdline_opt *opts; /* common options, terminated by flag == NULL */
	const char *extra;       /* ENVIRONMENT / FILES text, may be NULL */
} cmdline_prog;

/* The whole help:
 *   Usage: PROG COMMAND [OPTIONS]        (one line per command synopsis)
 *   PROG - summary / description
 *   Commands: / Options: / extra / Exit status / See also: PROG(1), docs/cli.md */
void cmdline_help(FILE *out, const cmdline_prog *p);
/* Help of one command; TS_ENOTFOUND (nothing printed) when p has none of
 * that name. */
int cmdline_help_cmd(FILE *out, const cmdline_prog *p, const char *name);
/* A help page kept as one text (programs with their own pages): the text,
 * then "See also: PROG(1), docs/cli.md" as its last line. */
void cmdline_page(FILE *out, const char *prog, const char *text);
/* The usual front of main(): handles `PROG` alone (help on stderr, exit
 * 2), --help/-h/help [COMMAND] anywhere before the command's own
 * arguments (stdout, exit 0), --version. Returns -1 to go on, else the
 * exit status. */
int cmdline_front(const cmdline_prog *p, int argc, char **argv);

#endif
