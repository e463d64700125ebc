/*
 * passphrase.h — reading a passphrase the way an operator expects: on a
 * terminal, prompted on stderr and typed without echo (termios); from a pipe
 * or file, the first line of standard input, no prompt.
 */
#ifndef TS_PASSPHRASE_H
#define TS_PASSPHRASE_H

#include <stddef.h>

/* Reads one line into buf (without the line end). prompt (borrowed) is shown
 * only on a terminal. TS_ENOTFOUND at end of input, TS_ELIMIT when the line
 * does not fit (the rest of the line is drained), 0 otherwise. Echo is
 * restored before returning, also on errors. The caller cleanses buf. */
int ts_read_passphrase(const char *prompt, char *buf, size_t cap);

#endif
