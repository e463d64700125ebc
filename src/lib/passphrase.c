/*
 * passphrase.c — passphrase input without echo (passphrase.h).
 */
#include "lib/passphrase.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib/ts_err.h"

int
ts_read_passphrase(const char *prompt, char *buf, size_t cap)
{
	if (buf == NULL || cap < 2)
		return TS_EINVAL;
	buf[0] = '\0';
	int tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	int restore = 0;
	if (tty) {
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			quiet.c_lflag |= ICANON;
			/* TCSAFLUSH: what was typed before the prompt is not taken
			 * (nor echoed later) as the passphrase. */
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
		if (prompt != NULL)
			fprintf(stderr, "%s", prompt);
		fflush(stderr);
	}
	/* read(2), not stdio: nothing beyond the line is buffered away. */
	size_t n = 0;
	int rc = 0, got = 0;
	for (;;) {
		char ch;
		ssize_t r = read(STDIN_FILENO, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got = 1;
		if (ch == '\n')
			break;
		if (n + 1 >= cap) {
			rc = TS_ELIMIT;
			continue;
		}
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (tty)
		fputc('\n', stderr);
	if (!got)
		return TS_ENOTFOUND;
	return rc;
}
