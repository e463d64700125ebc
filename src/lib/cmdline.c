#include "lib/cmdline.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/version.h"

#define CMDLINE_MSG_MAX 1024

static const char *cl_prog = "tapshare";
static int cl_json;
static int cl_done;

void
cmdline_init(const char *prog, int argc, char **argv)
{
	cl_prog = prog;
	cl_json = 0;
	cl_done = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--json") == 0)
			cl_json = 1;
	}
}

int
cmdline_json(void)
{
	return cl_json;
}

void
cmdline_set_json(int on)
{
	cl_json = on != 0;
}

int
cmdline_done(void)
{
	return cl_done;
}

/* One compact line: a reader takes the last line as the result. */
static void
put_line(json_t *doc)
{
	char *txt = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	if (txt != NULL) {
		fputs(txt, stdout);
		fputc('\n', stdout);
	} else {
		/* out of memory: still one valid envelope */
		printf("{\"schema\":%d,\"error\":{\"code\":\"no_memory\",\"message\":\"out of memory\"}}\n",
		    CMDLINE_SCHEMA);
	}
	fflush(stdout);
	free(txt);
}

void
cmdline_ok(json_t *data)
{
	if (!cl_json || cl_done) {
		json_decref(data);
		return;
	}
	json_t *env = json_pack("{s:i,s:o}", "schema", CMDLINE_SCHEMA, "data", data ? data : json_null());
	put_line(env);
	json_decref(env);
	cl_done = 1;
}

static void fail_v(const char *code, json_t *data, const char *fmt, va_list ap, int usage)
	__attribute__((format(printf, 3, 0)));

static void
fail_v(const char *code, json_t *data, const char *fmt, va_list ap, int usage)
{
	char msg[CMDLINE_MSG_MAX], clean[CMDLINE_MSG_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* a message may carry what a client or a file said: one line */
	ts_log_escape(msg, clean, sizeof(clean));
	fprintf(stderr, "%s: error: %s\n", cl_prog, clean);
	if (usage)
		fprintf(stderr, "(see %s --help)\n", cl_prog);
	if (!cl_json || cl_done) {
		json_decref(data);
		return;
	}
	json_t *env = json_pack("{s:i,s:{s:s,s:s}}", "schema", CMDLINE_SCHEMA, "error", "code", code, "message", msg);
	if (env != NULL && data != NULL)
		json_object_set_new(env, "data", data);
	else
		json_decref(data);
	put_line(env);
	json_decref(env);
	cl_done = 1;
}

void
cmdline_error_envelope(json_t *err, json_t *data)
{
	if (!cl_json || cl_done) {
		json_decref(err);
		json_decref(data);
		return;
	}
	json_t *env = json_pack("{s:i,s:o}", "schema", CMDLINE_SCHEMA, "error", err);
	if (env != NULL && data != NULL)
		json_object_set_new(env, "data", data);
	else
		json_decref(data);
	put_line(env);
	json_decref(env);
	cl_done = 1;
}

int
cmdline_fail(int rc, const char *code, json_t *data, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(code, data, fmt, ap, 0);
	va_end(ap);
	return rc;
}

int
cmdline_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v("usage", NULL, fmt, ap, 1);
	va_end(ap);
	return 2;
}

void
cmdline_event(json_t *event)
{
	if (!cl_json || cl_done || event == NULL) {
		json_decref(event);
		return;
	}
	json_t *line = json_pack("{s:i,s:o}", "schema", CMDLINE_SCHEMA, "event", event);
	put_line(line);
	json_decref(line);
}

int
cmdline_exit(int rc)
{
	if (!cl_json || cl_done)
		return rc;
	if (rc == 0) {
		cmdline_ok(NULL);
		return rc;
	}
	/* The command said why on stderr only: an envelope all the same. */
	json_t *env = json_pack("{s:i,s:{s:s,s:s}}", "schema", CMDLINE_SCHEMA, "error", "code",
	    rc == 2 ? "usage" : "failed", "message",
	    rc == 2 ? "bad usage (see the message on stderr)" : "failed (see the message on stderr)");
	put_line(env);
	json_decref(env);
	cl_done = 1;
	return rc;
}

/* ---- help ----------------------------------------------------------------- */

/* Writes text with every line indented by ind spaces. */
static void
indented(FILE *out, const char *text, int ind)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > 0)
			fprintf(out, "%*s%.*s\n", ind, "", (int)n, p);
		else
			fputc('\n', out);
		p += n + (nl != NULL);
	}
}

static void
synopsis(FILE *out, const cmdline_prog *p, const cmdline_cmd *c, const char **lead)
{
	const char *s = c->synopsis;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		if (*s == ' ')
			fprintf(out, "       %*s%.*s\n", (int)strlen(p->prog), "", (int)n, s);
		else
			fprintf(out, "%s%s %.*s\n", *lead, p->prog, (int)n, s);
		*lead = "       ";
		s += n + (nl != NULL);
	}
}

static void
tail(FILE *out, const cmdline_prog *p)
{
	fputs("\nExit status: 0 success, 1 the operation failed, 2 bad usage.\n", out);
	fprintf(out, "See also: %s(1), docs/cli.md\n", p->prog);
}

void
cmdline_page(FILE *out, const char *prog, const char *text)
{
	size_t n = strlen(text);
	fputs(text, out);
	if (n > 0 && text[n - 1] != '\n')
		fputc('\n', out);
	fprintf(out, "\nSee also: %s(1), docs/cli.md\n", prog);
}

void
cmdline_help(FILE *out, const cmdline_prog *p)
{
	const char *lead = "Usage: ";
	if (p->cmds != NULL)
		for (const cmdline_cmd *c = p->cmds; c->name; c++)
			synopsis(out, p, c, &lead);
	fprintf(out, "%s%s --help | help COMMAND | --version\n", lead, p->prog);
	fprintf(out, "\n%s - %s\n", p->prog, p->summary);
	if (p->description != NULL) {
		fputc('\n', out);
		indented(out, p->description, 0);
	}
	if (p->cmds != NULL) {
		fputs("\nCommands:\n", out);
		for (const cmdline_cmd *c = p->cmds; c->name; c++)
			if (c == p->cmds || strcmp(c[-1].name, c->name) != 0)
				fprintf(out, "  %-14s %s\n", c->name, c->brief);
		fprintf(out, "  (%s help COMMAND: the command in full)\n", p->prog);
	}
	fputs("\nOptions:\n", out);
	if (p->opts != NULL)
		for (const cmdline_opt *o = p->opts; o->flag; o++)
			fprintf(out, "  %-24s %s\n", o->flag, o->help);
	fprintf(out, "  %-24s %s\n", "--json", "print one JSON envelope on stdout (docs/cli.md)");
	fprintf(out, "  %-24s %s\n", "--help, -h", "this help; help COMMAND for one command");
	fprintf(out, "  %-24s %s\n", "--version", "print the version and git revision");
	if (p->extra != NULL) {
		fputc('\n', out);
		indented(out, p->extra, 0);
	}
	tail(out, p);
}

int
cmdline_help_cmd(FILE *out, const cmdline_prog *p, const char *name)
{
	if (p->cmds == NULL)
		return TS_ENOTFOUND;
	for (const cmdline_cmd *c = p->cmds; c->name; c++) {
		if (strcmp(c->name, name) != 0)
			continue;
		const char *lead = "Usage: ";
		/* every synopsis of that name (a command may have several rows) */
		for (const cmdline_cmd *d = c; d->name; d++)
			if (strcmp(d->name, name) == 0)
				synopsis(out, p, d, &lead);
		fputc('\n', out);
		for (const cmdline_cmd *d = c; d->name; d++)
			if (strcmp(d->name, name) == 0)
				indented(out, d->help, 2);
		fputs("\nOptions:\n", out);
		if (p->opts != NULL)
			for (const cmdline_opt *o = p->opts; o->flag; o++)
				fprintf(out, "  %-24s %s\n", o->flag, o->help);
		fprintf(out, "  %-24s %s\n", "--json", "print one JSON envelope on stdout (docs/cli.md)");
		tail(out, p);
		return 0;
	}
	return TS_ENOTFOUND;
}

int
cmdline_front(const cmdline_prog *p, int argc, char **argv)
{
	if (argc < 2) {
		cmdline_help(stderr, p);
		return 2;
	}
	const char *a = argv[1];
	if (strcmp(a, "--version") == 0) {
		ts_version_print(p->prog);
		return 0;
	}
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
		if (argc > 2 && strcmp(a, "help") == 0) {
			if (cmdline_help_cmd(stdout, p, argv[2]) == 0)
				return 0;
			fprintf(stderr, "%s: error: no command %s\n(see %s --help)\n", p->prog, argv[2], p->prog);
			return 2;
		}
		cmdline_help(stdout, p);
		return 0;
	}
	/* COMMAND ... --help: that command's help when there is one */
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			if (cmdline_help_cmd(stdout, p, a) != 0)
				cmdline_help(stdout, p);
			return 0;
		}
	}
	return -1;
}
