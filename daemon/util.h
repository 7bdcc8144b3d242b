/*
 * util.h: small helpers shared by the daemon: UUIDs, MACs, allocation that cannot fail
 * silently, and durable file writes.
 */
#ifndef VMD_UTIL_H
#define VMD_UTIL_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 + NUL */
#define MAC_STR_LEN 18  /* 17 + NUL */

/* Aborts on out-of-memory: the daemon cannot do anything sensible without memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);      /* NULL-safe: returns NULL for NULL */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Random bytes from getrandom(2); 0 / -1. */
int random_bytes(void *buf, size_t n);

void uuid_generate_v4(uint8_t uuid[16]);
void uuid_format(const uint8_t uuid[16], char out[UUID_STR_LEN]); /* lowercase, dashed */
int uuid_parse(const char *s, uint8_t uuid[16]);                 /* 0 / -1; dashed form only */
bool uuid_is_null(const uint8_t uuid[16]);

/* MACs as 6 bytes; text "xx:xx:xx:xx:xx:xx" (case-insensitive on input, lowercase out). */
int mac_parse(const char *s, uint8_t mac[6]);
void mac_format(const uint8_t mac[6], char out[MAC_STR_LEN]);
/* A random MAC with Xen's OUI 00:16:3e. */
void mac_generate_xen(uint8_t mac[6]);

/* Writes data to path atomically and durably: temp file in the same directory, fsync,
 * rename over path, fsync of the directory. 0 / -1 with errno; no temp file left on failure. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
struct stat;
/* fsync of the directory that holds path (after a rename or unlink in it). 0 / -1 errno. */
int fsync_parent_dir(const char *path);
/* Reads a whole regular file of at most max bytes; malloc'ed, NUL-terminated. NULL + errno. */
char *read_file(const char *path, size_t max, size_t *len_out);
/* The same for path relative to the directory dfd (AT_FDCWD: as read_file), st_out (may be
 * NULL) receiving the file's status. */
char *read_file_at(int dfd, const char *path, size_t max, size_t *len_out, struct stat *st_out);
/* mkdir -p with mode for each created level. 0 / -1 with errno. */
int mkdir_p(const char *path, unsigned mode);

/* Runs prog with argv (search: prog looked up in PATH) in a process group of its own (kill
 * -pid stops what it runs too), with no signal blocked and every one at its default (the
 * daemon's workers block them all, and the daemon ignores SIGPIPE), fds 0, 1, 2 being
 * fds[0..2] (-1: /dev/null). 0 with *pid, or an errno value. */
int spawn_child(const char *prog, char *const argv[], bool search, const int fds[3],
		pid_t *pid);

/* Monotonic and wall clocks in seconds. */
double now_monotonic(void);
double now_wall(void);

/* Makes s valid UTF-8 in place: a sequence cut short (a "%.64s" that ended inside a
 * character) is dropped, any other invalid byte becomes '?'. Returns s. */
char *utf8_mend(char *s);
/* The length of the longest prefix of s, at most max bytes, that ends on a character
 * boundary (for cutting client text: "%.*s" with this length). */
int utf8_prefix(const char *s, size_t max);

#endif
