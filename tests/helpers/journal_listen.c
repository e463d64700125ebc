/*
 * journal_listen SOCKET SECONDS — the journal's side of systemd's native
 * protocol for the tests: binds a datagram socket at SOCKET and prints each
 * record it receives as one line of its fields, "KEY=value" joined by '|',
 * a value's newlines shown as "\n" (the binary-safe form, KEY '\n' length64le
 * value '\n', is decoded here independently of lib/log.c). A malformed
 * record prints "MALFORMED". Exits after SECONDS or on SIGTERM.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void
put_value(const unsigned char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\n')
			fputs("\\n", stdout);
		else if (v[i] == '|' || v[i] < 0x20)
			printf("\\x%02x", v[i]);
		else
			putchar(v[i]);
	}
}

static void
print_record(const unsigned char *d, size_t n)
{
	size_t i = 0;
	int first = 1;
	while (i < n) {
		size_t j = i;
		while (j < n && d[j] != '=' && d[j] != '\n')
			j++;
		if (j == n || j == i) {
			puts("MALFORMED");
			return;
		}
		if (!first)
			putchar('|');
		first = 0;
		fwrite(d + i, 1, j - i, stdout);
		putchar('=');
		if (d[j] == '=') {
			size_t e = j + 1;
			while (e < n && d[e] != '\n')
				e++;
			if (e == n) {
				puts("|MALFORMED");
				return;
			}
			put_value(d + j + 1, e - j - 1);
			i = e + 1;
		} else {
			uint64_t l = 0;
			if (n - j < 9) {
				puts("|MALFORMED");
				return;
			}
			for (int b = 7; b >= 0; b--)
				l = (l << 8) | d[j + 1 + b];
			if (l >= n - j - 9 || d[j + 9 + l] != '\n') {
				puts("|MALFORMED");
				return;
			}
			put_value(d + j + 9, (size_t)l);
			i = j + 9 + (size_t)l + 1;
		}
	}
	putchar('\n');
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: journal_listen SOCKET SECONDS\n");
		return 2;
	}
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	long secs = strtol(argv[2], NULL, 10);
	if (secs <= 0 || secs > 600)
		return 2;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	unlink(argv[1]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("journal_listen: bind");
		return 1;
	}
	struct sigaction act;
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_term;
	sigaction(SIGTERM, &act, NULL);
	struct timeval tv = { 0, 200000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	time_t end = time(NULL) + secs;
	while (!stop && time(NULL) < end) {
		unsigned char buf[65536];
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r > 0)
			print_record(buf, (size_t)r);
	}
	close(fd);
	unlink(argv[1]);
	return 0;
}
