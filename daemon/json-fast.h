/*
 * json-fast.h: the request lines clients send most (a flat object, a params object of
 * names and numbers) parsed without jansson's general decoder, which costs most of a
 * small request's time.
 *
 * It takes only a strict subset of JSON: an object at the top, objects inside (at most
 * three levels), strings without escapes and of ASCII only, integers of at most 18 digits,
 * true, false, null, and JSON's whitespace. For such a text it gives the value jansson gives
 * (json_loadb with JSON_REJECT_DUPLICATES); for anything else (arrays, reals, escapes,
 * non-ASCII, duplicate keys, any error) it gives NULL and the caller decodes with jansson,
 * which then also words the error. tests/unit/test-json-fast.c and the request fuzzer hold
 * it to that.
 */
#ifndef VMD_JSON_FAST_H
#define VMD_JSON_FAST_H

#include <jansson.h>
#include <stddef.h>

json_t *json_fast_parse(const char *text, size_t len);

/* A request's envelope decoded straight into fields, only params built as JSON: for a line of
 * the subset that is a request object with nothing but a "jsonrpc" of "2.0", a string
 * "method", an "id" (integer, ASCII string, null) and an object "params", each at most once.
 * 1 when taken (id and params are new references, NULL when absent), 0 when declined (the
 * caller decodes with jansson, which also words whatever is wrong). */
struct json_fast_request {
	json_t *id;
	json_t *params;
	char method[128];
};
int json_fast_request(const char *text, size_t len, struct json_fast_request *out);

#endif
