/*
 * err.h: the one error type of the daemon, from the backend up to the reply: a stable code
 * (VMD_ERR_* of vmd-proto.h), a message for humans and, optionally, structured data (the
 * error object's "data" of proto/). Every layer fills the same struct, so a failure deep in
 * a worker reaches the client as it was described where it happened, with nothing copied
 * into buffers of other shapes on the way.
 *
 * Conventions: a function that can fail takes `struct err *err` last (NULL: the caller does
 * not want the details) and returns -1 (or NULL) with it filled. Messages are one line and
 * always valid UTF-8: err_set mends a format that quoted client text and cut it inside a
 * character (a reply that jansson cannot encode would never reach the client). data is
 * owned by the err; err_clear frees it.
 */
#ifndef VMD_ERR_H
#define VMD_ERR_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>

#define ERR_MSG_MAX 512

struct err {
	int code;              /* VMD_ERR_*; 0 while nothing failed */
	char msg[ERR_MSG_MAX];
	json_t *data;          /* an object, or NULL */
};

/* Sets code and message (data is kept). NULL-safe; errno is left as it was, so the format
 * may use strerror(errno) and the caller still returns with the failure's errno. */
void err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void err_setv(struct err *e, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* The same, only when no error is recorded yet: the first failure wins. */
void err_first(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* data[key] = v (v stolen; NULL-safe on both sides: a NULL v or e only frees/ignores). */
void err_add(struct err *e, const char *key, json_t *v);
void err_add_str(struct err *e, const char *key, const char *s); /* s NULL: nothing added */
/* A string of data, or NULL. */
const char *err_data_str(const struct err *e, const char *key);
bool err_is_set(const struct err *e);
/* Frees data and resets e to "no error". NULL-safe. */
void err_clear(struct err *e);
/* dst takes src's error (dst's own is cleared first); src is left cleared. */
void err_move(struct err *dst, struct err *src);
/* A deep copy (data copied). */
void err_copy(struct err *dst, const struct err *src);
/* Takes data away from e (the caller owns the result, never NULL: {} when e had none). */
json_t *err_take_data(struct err *e);

#endif
