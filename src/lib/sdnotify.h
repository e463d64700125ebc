/*
 * sdnotify.h — the service manager notification protocol of systemd
 * (sd_notify(3)), written here so that nothing links libsystemd: one
 * datagram of newline-separated VARIABLE=value lines ("READY=1",
 * "RELOADING=1", "STOPPING=1", "STATUS=...") sent to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * Without $NOTIFY_SOCKET (not started by systemd with Type=notify) nothing
 * is sent.
 */
#ifndef TS_SDNOTIFY_H
#define TS_SDNOTIFY_H

/* Sends state (borrowed, at most TS_SDNOTIFY_MAX bytes). 1 when sent, 0 when
 * $NOTIFY_SOCKET is unset or empty, TS_EINVAL for a malformed $NOTIFY_SOCKET
 * or state, TS_EIO when the datagram cannot be sent. */
#define TS_SDNOTIFY_MAX 4096
int ts_sd_notify(const char *state);

/* "RELOADING=1\nMONOTONIC_USEC=<now>" as systemd 253+ wants for
 * Type=notify-reload (older versions ignore the second line). */
int ts_sd_notify_reloading(void);

#endif
