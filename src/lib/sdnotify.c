/*
 * sdnotify.c — sd_notify(3) protocol without libsystemd (sdnotify.h).
 */
#include "lib/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/ts_err.h"

int
ts_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0')
		return 0;
	if (state == NULL)
		return TS_EINVAL;
	size_t slen = strlen(state);
	if (slen == 0 || slen > TS_SDNOTIFY_MAX)
		return TS_EINVAL;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t plen = strlen(path);
	/* A path must be absolute; "@" names the abstract namespace (leading
	 * NUL, length without a terminator). */
	if ((path[0] != '/' && path[0] != '@') || plen < 2 || plen >= sizeof(sa.sun_path))
		return TS_EINVAL;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return TS_EIO;
	ssize_t w;
	do
		w = sendto(fd, state, slen, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
	while (w < 0 && errno == EINTR);
	close(fd);
	return w == (ssize_t)slen ? 1 : TS_EIO;
}

int
ts_sd_notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[64];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
	return ts_sd_notify(msg);
}
