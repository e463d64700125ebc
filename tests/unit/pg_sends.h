/*
 * pg_sends.h — round trips counted: send(2) as libpq calls it, wrapped (the
 * call goes on as sendto(2) with no address) and counted in `sends`. For
 * the PostgreSQL unit tests that assert how many round trips an operation
 * takes (test_pg_pipeline, test_pg_store). Include in one file per program:
 * it defines send() for the whole binary.
 */
#ifndef TS_TEST_PG_SENDS_H
#define TS_TEST_PG_SENDS_H

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int sends;
ssize_t send(int fd, const void *buf, size_t n, int flags);
ssize_t
send(int fd, const void *buf, size_t n, int flags)
{
	sends++;
	return (ssize_t)syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

#endif
