/*
 * tapshare-se — the software secure element as a program: creates its state
 * from a test PKI, serves it as a virtual smart card with the vsmartcard vpcd
 * framing, and reports its status. Command line: docs/cli.md.
 *
 * serve is a single-threaded poll() loop over up to SERVE_MAX_PORTS listening
 * sockets; each port holds at most one reader connection at a time (pcscd opens
 * one per slot). Frames are bounded by their 2-byte length; a peer that stops
 * reading for SERVE_WRITE_TIMEOUT_MS is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/cmdline.h"
#include "lib/log.h"
#include "lib/version.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"
#include "se/card_int.h"

#define PROG "tapshare-se"
#define SERVE_DEFAULT_LISTEN "127.0.0.1:35963"
#define SERVE_MAX_PORTS 8
#define SERVE_FRAME_MAX 0xFFFF
#define SERVE_WRITE_TIMEOUT_MS 5000
#define INIT_MAX_PREINSTALL 8

static const char usage_main[] =
"Usage: tapshare-se COMMAND [OPTIONS]\n"
"\n"
"The software secure element (eUICC role) of tapshare. It keeps an EID, an\n"
"eUICC key pair with its certificate chain (CI -> EUM -> eUICC) and the\n"
"security applications installed into it, and is spoken to only through\n"
"ISO 7816-4 APDUs carrying GSMA SGP.22 ES10-shaped commands. Private keys\n"
"never leave it.\n"
"\n"
"Commands:\n"
"  init     create a new state file from a test PKI\n"
"  serve    serve the card to a vpcd reader (vsmartcard) over TCP\n"
"  status   print the EID and the installed applications\n"
"  help [COMMAND]   show help for a command\n"
"\n"
"Options:\n"
"  --json       print one JSON envelope on stdout (docs/cli.md)\n"
"  --help       show this help (or a command's help after the command)\n"
"  --version    print the version and exit\n"
"\n"
"Exit status: 0 success, 1 the operation failed, 2 bad usage.\n"
"Run 'tapshare-se help COMMAND' for the options of a command.\n";

static const char usage_init[] =
"Usage: tapshare-se init --state FILE --pki PKIDIR --eid EID\n"
"                        [--preinstall APP_ID --kind KIND --provider NAME [--name TEXT]]...\n"
"\n"
"Creates a new secure element state file FILE (mode 0600; it holds the eUICC\n"
"private key) from a test PKI directory as written by 'tapshare-node testpki':\n"
"the eUICC key and certificate PKIDIR/euicc-EID.key and .crt, PKIDIR/eum.crt and\n"
"PKIDIR/ci.crt. Before writing, it checks that the key matches the certificate,\n"
"that the certificate carries EID as its subject serialNumber, and that the\n"
"chain CI -> EUM -> eUICC verifies. The CI certificate becomes the root the\n"
"card uses to verify the node's certificates during a download.\n"
"\n"
"  --state FILE    state file to create; refused if it exists\n"
"  --pki PKIDIR    test PKI directory\n"
"  --eid EID       32-digit EID (ISO 7064 MOD 97-10 check digits)\n"
"\n"
"Personalisation of a primary device's own SE (what manufacture or the\n"
"operator does before the phone reaches its user; outside the share flow,\n"
"nothing is downloaded or signed): each --preinstall installs APP_ID enabled,\n"
"with an empty credential, so that 'tapshare move' can later remove it. The\n"
"options after a --preinstall describe that application:\n"
"  --preinstall APP_ID   application id, as the node knows it (repeatable, up to 8)\n"
"  --kind KIND           sim, bankid or service (required)\n"
"  --provider NAME       its provider, e.g. operator (required)\n"
"  --name TEXT           display name (default APP_ID)\n";

static const char usage_serve[] =
"Usage: tapshare-se serve --state FILE [--listen ADDR:PORT ...] [--verbose]\n"
"\n"
"Serves the card in FILE as a virtual smart card with the vsmartcard vpcd\n"
"protocol: the card listens, a reader (vpcd in pcscd configured with\n"
"'DEVICENAME ADDR:PORT', or tapshare-companion with --se vpcd:ADDR:PORT)\n"
"connects and speaks first. Every message is a 2-byte big-endian length and a\n"
"payload; 1-byte payloads are control messages (00 power off, 01 power on,\n"
"02 reset, 04 get ATR, answered with the ATR), anything else is a command APDU\n"
"answered with the response APDU. Power on, power off and reset drop logical\n"
"channels and any download session.\n"
"\n"
"  --state FILE        state file (written atomically on every change)\n"
"  --listen ADDR:PORT  listen address; repeat for several slots (pcscd's vpcd\n"
"                      opens two: 35963 and 35964). Default " SERVE_DEFAULT_LISTEN ";\n"
"                      port 0 lets the kernel choose (logged). Give a loopback\n"
"                      address unless the network is trusted: APDUs are not\n"
"                      protected on the wire.\n"
"  --verbose           log every APDU exchange (command and status word)\n"
"\n"
"Each port accepts one reader at a time. SIGTERM or SIGINT stops the server.\n";

static const char usage_status[] =
"Usage: tapshare-se status --state FILE [--json]\n"
"\n"
"Prints the EID, the installed applications (id, state, kind, name, provider,\n"
"expiry, SGP.22 ICCID and ISD-P AID) and the number of signed notifications\n"
"not yet acknowledged, read from the state FILE. --json prints the envelope (docs/cli.md) with data:\n"
"{\"eid\",\"apps\":[{\"app_id\",\"name\",\"kind\",\"provider\",\"enabled\",\"not_after\",\n"
"\"iccid\",\"isdp_aid\"}],\"pending_notifications\"}.\n";

/* Bad usage: the error, the command's synopsis (first line of its help), exit 2. */
static void
die_usage(const char *msg, const char *usage)
{
	const char *nl = strchr(usage, '\n');
	int n = nl != NULL ? (int)(nl - usage) : (int)strlen(usage);
	fprintf(stderr, PROG ": error: %s\n%.*s\n(see tapshare-se --help)\n", msg, n, usage);
	exit(cmdline_exit(2));
}

static int
fail(const char *what, int rc)
{
	fprintf(stderr, PROG ": error: %s (%s)\n", what, ts_strerror(rc));
	return 1;
}

/* ---- init ---- */

static int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "pki", required_argument, NULL, 'p' },
		{ "eid", required_argument, NULL, 'e' },
		{ "preinstall", required_argument, NULL, 'P' },
		{ "kind", required_argument, NULL, 'k' },
		{ "provider", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct { const char *app_id, *kind, *provider, *name; } pre[INIT_MAX_PREINSTALL];
	size_t npre = 0;
	const char *state = NULL, *pki = NULL, *eid = NULL;
	int c;
	memset(pre, 0, sizeof(pre));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'p': pki = optarg; break;
		case 'e': eid = optarg; break;
		case 'P':
			if (npre == INIT_MAX_PREINSTALL)
				die_usage("too many --preinstall", usage_init);
			pre[npre++].app_id = optarg;
			break;
		case 'k':
		case 'r':
		case 'n':
			if (npre == 0)
				die_usage("--kind, --provider and --name follow a --preinstall", usage_init);
			if (c == 'k')
				pre[npre - 1].kind = optarg;
			else if (c == 'r')
				pre[npre - 1].provider = optarg;
			else
				pre[npre - 1].name = optarg;
			break;
		case 'h': cmdline_page(stdout, PROG, usage_init); return 0;
		default: die_usage("bad option", usage_init);
		}
	}
	if (optind != argc || state == NULL || pki == NULL || eid == NULL)
		die_usage("init needs --state, --pki and --eid", usage_init);
	for (size_t i = 0; i < npre; i++) {
		if (pre[i].kind == NULL || pre[i].provider == NULL)
			die_usage("--preinstall needs --kind and --provider", usage_init);
		if (strcmp(pre[i].kind, "sim") != 0 && strcmp(pre[i].kind, "bankid") != 0 &&
		    strcmp(pre[i].kind, "service") != 0)
			die_usage("--kind must be sim, bankid or service", usage_init);
	}
	int rc = se_card_init_state(state, pki, eid);
	if (rc != 0)
		return fail("cannot create the secure element state", rc);
	for (size_t i = 0; i < npre; i++) {
		rc = se_card_preinstall(state, pre[i].app_id, pre[i].kind, pre[i].provider, pre[i].name);
		if (rc != 0) {
			/* Half-personalised is of no use: the state is ours, just made. */
			(void)unlink(state);
			fprintf(stderr, PROG ": error: cannot preinstall %s (%s)\n", pre[i].app_id,
			    ts_strerror(rc));
			return 1;
		}
	}
	printf("created %s for EID %s\n", state, eid);
	for (size_t i = 0; i < npre; i++)
		printf("preinstalled %s (%s, provider %s)\n", pre[i].app_id, pre[i].kind,
		    pre[i].provider);
	return 0;
}

/* ---- status ---- */

static int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL;
	int json = 0, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'j': json = 1; break;
		case 'h': cmdline_page(stdout, PROG, usage_status); return 0;
		default: die_usage("bad option", usage_status);
		}
	}
	if (optind != argc || state == NULL)
		die_usage("status needs --state", usage_status);

	/* The SE reads its own state (no APDUs: this is not a client). */
	se_card *card = NULL;
	int rc;
	if ((rc = se_card_open(state, &card)) != 0)
		return fail("cannot open the secure element state", rc);
	const eid_t eid = card->eid;
	size_t n = card->n_apps, npend = card->n_pending;
	char iccid[SE_MAX_APPS][ES10_ICCID_DIGITS_MAX + 1], aid[SE_MAX_APPS][2 * SE_ISDR_AID_LEN + 1];
	for (size_t i = 0; i < n; i++) {
		if (es10_iccid_to_digits(card->apps[i].iccid, iccid[i]) != 0)
			iccid[i][0] = '\0';
		for (size_t k = 0; k < SE_ISDR_AID_LEN; k++)
			(void)ts_snprintf(aid[i] + 2 * k, 3, "%02X", card->apps[i].aid[k]);
	}
	const se_app_rec *apps = card->apps;

	if (json) {
		json_t *root = json_object(), *arr = json_array();
		if (root == NULL || arr == NULL) {
			json_decref(root);
			json_decref(arr);
			se_card_free(card);
			return fail("cannot build JSON", TS_ENOMEM);
		}
		json_object_set_new(root, "eid", json_string(eid.digits));
		for (size_t i = 0; i < n; i++) {
			json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:s,s:s}", "app_id", apps[i].app_id,
			    "name", apps[i].name, "kind", apps[i].kind, "provider", apps[i].provider,
			    "enabled", apps[i].enabled, "not_after", (json_int_t)apps[i].not_after,
			    "iccid", iccid[i], "isdp_aid", aid[i]);
			json_array_append_new(arr, o);
		}
		json_object_set_new(root, "apps", arr);
		json_object_set_new(root, "pending_notifications", json_integer((json_int_t)npend));
		se_card_free(card);
		cmdline_set_json(1);
		cmdline_ok(root);
		return 0;
	}
	printf("EID %s\n", eid.digits);
	printf("applications: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char until[32] = "no expiry";
		if (apps[i].not_after != 0) {
			time_t t = (time_t)apps[i].not_after;
			struct tm tm;
			if (gmtime_r(&t, &tm) == NULL ||
			    strftime(until, sizeof(until), "until %Y-%m-%dT%H:%M:%SZ", &tm) == 0)
				(void)ts_snprintf(until, sizeof(until), "until %lld",
				    (long long)apps[i].not_after);
		}
		printf("  %s  %s  %s  \"%s\"  provider %s  %s  ICCID %s  ISD-P %s\n", apps[i].app_id,
		    apps[i].enabled ? "enabled" : "disabled", apps[i].kind, apps[i].name,
		    apps[i].provider, until, iccid[i], aid[i]);
	}
	se_card_free(card);
	printf("pending notifications: %zu\n", npend);
	return 0;
}

/* ---- serve ---- */

static volatile sig_atomic_t serve_stop;

static void
on_signal(int sig)
{
	(void)sig;
	serve_stop = 1;
}

typedef struct slot {
	int lfd;           /* listening socket */
	int cfd;           /* reader connection or -1 */
	char name[80];     /* ADDR:PORT as bound */
	uint8_t *buf;      /* frame being received: 2-byte length + payload */
	size_t have;
} slot;

static int
listen_on(const char *spec, slot *s)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof(host))
		return TS_EINVAL;
	size_t hl = (size_t)(colon - spec);
	const char *h = spec;
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	long long port;
	if (ts_parse_ll(colon + 1, 0, 65535, &port) != 0)
		return TS_EINVAL;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	char ps[8];
	(void)ts_snprintf(ps, sizeof(ps), "%lld", port);
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return TS_EINVAL;
	int rc = TS_EIO;
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0)
		goto out;
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4) != 0) {
		close(fd);
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned bound = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
			bound = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
			bound = ntohs(sin6->sin6_port);
		}
	}
	(void)ts_snprintf(s->name, sizeof(s->name), "%s:%u", addr, bound);
	s->lfd = fd;
	s->cfd = -1;
	rc = 0;
out:
	freeaddrinfo(res);
	return rc;
}

static void
slot_drop(slot *s, const char *why)
{
	if (s->cfd < 0)
		return;
	log_info("reader on %s disconnected (%s)", s->name, why);
	close(s->cfd);
	s->cfd = -1;
	s->have = 0;
}

static int
send_frame(int fd, const uint8_t *p, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	const uint8_t *parts[2] = { hdr, p };
	size_t lens[2] = { 2, len };
	for (int i = 0; i < 2; i++) {
		size_t off = 0;
		while (off < lens[i]) {
			ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
			if (w > 0) {
				off += (size_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				struct pollfd pf = { .fd = fd, .events = POLLOUT };
				if (poll(&pf, 1, SERVE_WRITE_TIMEOUT_MS) > 0)
					continue;
			}
			return TS_EIO;
		}
	}
	return 0;
}

/* Handles one complete frame; returns TS_EIO if the connection must close. */
static int
handle_frame(se_card *card, slot *s, const uint8_t *p, size_t len, uint8_t *rbuf, int verbose)
{
	if (len == 1) {
		switch (p[0]) {
		case 0x00:
		case 0x01:
		case 0x02:
			se_card_reset(card);
			log_debug("%s: %s", s->name,
			    p[0] == 0 ? "power off" : p[0] == 1 ? "power on" : "reset");
			return 0;
		case 0x04: {
			uint8_t atr[33];
			size_t n = se_card_atr(card, atr, sizeof(atr));
			return send_frame(s->cfd, atr, n);
		}
		default:
			log_warn("%s: unknown control message %02x ignored", s->name, p[0]);
			return 0;
		}
	}
	size_t rlen = 0;
	int rc = se_card_apdu(card, p, len, rbuf, SERVE_FRAME_MAX, &rlen);
	if (rc != 0)
		return TS_EIO;
	if (verbose)
		log_info("%s: APDU %02x %02x %02x %02x (%zu bytes) -> SW %02x%02x (%zu bytes)",
		    s->name, p[0], len > 1 ? p[1] : 0, len > 2 ? p[2] : 0, len > 3 ? p[3] : 0, len,
		    rbuf[rlen - 2], rbuf[rlen - 1], rlen);
	return send_frame(s->cfd, rbuf, rlen);
}

/* Reads what is available and handles every complete frame. */
static int
slot_read(se_card *card, slot *s, uint8_t *rbuf, int verbose)
{
	for (;;) {
		size_t want = 2;
		if (s->have >= 2)
			want = 2 + (((size_t)s->buf[0] << 8) | s->buf[1]);
		if (s->have == want && want > 2) {
			int rc = handle_frame(card, s, s->buf + 2, want - 2, rbuf, verbose);
			s->have = 0;
			if (rc != 0)
				return rc;
			continue;
		}
		if (s->have == 2 && want == 2) {
			return TS_EPROTO; /* zero-length frame */
		}
		ssize_t r = recv(s->cfd, s->buf + s->have, want - s->have, 0);
		if (r == 0)
			return TS_EIO;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return TS_EIO;
		}
		s->have += (size_t)r;
#ifdef TCP_QUICKACK
		/* vpcd (the pcscd driver) writes a frame's length and its APDU
		 * in two sends without TCP_NODELAY: Nagle holds the APDU until
		 * the length is ACKed, so a delayed ACK here costs ~40 ms per
		 * APDU. Linux clears QUICKACK by itself: set it after each read. */
		int one = 1;
		(void)setsockopt(s->cfd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
	}
}

static int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL;
	const char *listen_specs[SERVE_MAX_PORTS];
	size_t nlisten = 0;
	int verbose = 0, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'l':
			if (nlisten == SERVE_MAX_PORTS)
				die_usage("too many --listen", usage_serve);
			listen_specs[nlisten++] = optarg;
			break;
		case 'v': verbose = 1; break;
		case 'h': cmdline_page(stdout, PROG, usage_serve); return 0;
		default: die_usage("bad option", usage_serve);
		}
	}
	if (optind != argc || state == NULL)
		die_usage("serve needs --state", usage_serve);
	if (nlisten == 0)
		listen_specs[nlisten++] = SERVE_DEFAULT_LISTEN;

	slot slots[SERVE_MAX_PORTS];
	size_t nslots = 0;
	se_card *card = NULL;
	uint8_t *rbuf = NULL;
	int ret = 1, rc;
	if ((rc = se_card_open(state, &card)) != 0) {
		ret = fail("cannot open the secure element state", rc);
		goto out;
	}
	if ((rbuf = malloc(SERVE_FRAME_MAX)) == NULL) {
		ret = fail("cannot allocate", TS_ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < nlisten; i++) {
		memset(&slots[nslots], 0, sizeof(slots[nslots]));
		if ((rc = listen_on(listen_specs[i], &slots[nslots])) != 0) {
			char what[128];
			(void)ts_snprintf(what, sizeof(what), "cannot listen on %s", listen_specs[i]);
			ret = fail(what, rc);
			goto out;
		}
		nslots++;
		if ((slots[nslots - 1].buf = malloc(2 + SERVE_FRAME_MAX)) == NULL) {
			ret = fail("cannot allocate", TS_ENOMEM);
			goto out;
		}
		log_info("listening on %s (vpcd card side)", slots[nslots - 1].name);
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	while (!serve_stop) {
		struct pollfd pfds[SERVE_MAX_PORTS];
		for (size_t i = 0; i < nslots; i++) {
			pfds[i].fd = slots[i].cfd >= 0 ? slots[i].cfd : slots[i].lfd;
			pfds[i].events = POLLIN;
			pfds[i].revents = 0;
		}
		/* The timeout bounds how long a signal arriving just before poll()
		 * can go unnoticed. */
		int n = poll(pfds, nslots, 500);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = fail("poll failed", TS_EIO);
			goto out;
		}
		for (size_t i = 0; i < nslots && n > 0; i++) {
			slot *s = &slots[i];
			if (pfds[i].revents == 0)
				continue;
			if (s->cfd < 0) {
				int fd = accept(s->lfd, NULL, NULL);
				if (fd < 0)
					continue;
				int fl = fcntl(fd, F_GETFL);
				if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
					close(fd);
					continue;
				}
				int one = 1;
				(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				s->cfd = fd;
				s->have = 0;
				log_info("reader connected on %s", s->name);
				continue;
			}
			rc = slot_read(card, s, rbuf, verbose);
			if (rc != 0)
				slot_drop(s, rc == TS_EPROTO ? "bad frame" : "closed");
		}
	}
	log_info("stopping");
	ret = 0;
out:
	for (size_t i = 0; i < nslots; i++) {
		slot_drop(&slots[i], "shutdown");
		close(slots[i].lfd);
		free(slots[i].buf);
	}
	free(rbuf);
	se_card_free(card);
	return ret;
}

static int
dispatch(int argc, char **argv)
{
	if (argc < 2)
		die_usage("no command", usage_main);
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		cmdline_page(stdout, PROG, usage_main);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		ts_version_print(PROG);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		const char *topic = argc > 2 ? argv[2] : NULL;
		if (topic == NULL)
			cmdline_page(stdout, PROG, usage_main);
		else if (strcmp(topic, "init") == 0)
			cmdline_page(stdout, PROG, usage_init);
		else if (strcmp(topic, "serve") == 0)
			cmdline_page(stdout, PROG, usage_serve);
		else if (strcmp(topic, "status") == 0)
			cmdline_page(stdout, PROG, usage_status);
		else
			die_usage("unknown command", usage_main);
		return 0;
	}
	/* getopt_long on the command's own arguments. */
	optind = 1;
	if (strcmp(cmd, "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	die_usage("unknown command", usage_main);
	return 2;
}

int
main(int argc, char **argv)
{
	ts_log_init(PROG, getenv("TS_DEBUG") != NULL ? TS_LOG_DEBUG : TS_LOG_INFO);
	cmdline_init(PROG, argc, argv);
	/* one --json envelope per command, whatever path it ended on */
	return cmdline_exit(dispatch(argc, argv));
}
