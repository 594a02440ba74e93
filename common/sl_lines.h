/*
 * sl_lines: lists of entries, one per line in a file (the gateway's token
 * file (gw_auth), CURVE allow-lists (sl_zap), CURVE secret key files
 * (sl_curve, which reads the first entry only)) or comma separated in an
 * option's value (--tokens, --allow-origins, --plugin).
 *
 * A line is trimmed of surrounding white space (so CRLF files read like
 * LF ones); an empty line, or one that then starts with '#', is skipped;
 * every other line is one entry, handed to the caller's function with its
 * line number. The last line needs no newline. A NUL byte ends a line's
 * text (what follows it on that line is ignored). Whatever the file held
 * is wiped from the reader's buffer before it returns: entries may be
 * secrets.
 *
 * No state; any thread (the caller's, while it reads).
 */
#ifndef SL_LINES_H
#define SL_LINES_H

#include <stddef.h>

/*
 * Called for each entry: entry is NUL-terminated, len bytes, trimmed, and
 * the caller may write into it (it is the reader's buffer, valid during the
 * call only). Return 0 to go on, SL_LINES_STOP to end the read there
 * without an error (a file that holds one entry), or an SL_E* code with
 * the reason in why (without file or line: the reader adds them).
 */
#define SL_LINES_STOP 1
typedef int (*sl_lines_fn)(
    void *arg, char *entry, size_t len, char *why, size_t whylen);

/*
 * Read path, calling fn(arg, ...) for every entry. A line longer than
 * max_len bytes (without its newline) stops the read. Returns 0 (also
 * after SL_LINES_STOP), or
 * SL_EINVAL / SL_ENOMEM / fn's code, with err set to one of
 *   "PATH: strerror"          the file cannot be opened,
 *   "PATH:N: line too long"   line N is over max_len,
 *   "PATH:N: WHY"             fn refused line N.
 */
int sl_lines_read(const char *path, size_t max_len, sl_lines_fn fn, void *arg,
    char *err, size_t errlen);

/*
 * The same for a comma separated list: every item, trimmed, empty ones
 * skipped, is handed to fn (no comments here: '#' may start an item). A
 * refusal's why is copied to err as it is. Returns 0 (also after
 * SL_LINES_STOP), SL_ENOMEM, or fn's code.
 */
int sl_lines_csv(
    const char *csv, sl_lines_fn fn, void *arg, char *err, size_t errlen);

#endif
