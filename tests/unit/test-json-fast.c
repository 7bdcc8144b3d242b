/*
 * test-json-fast.c: the fast request decoder gives exactly what jansson gives for what it
 * takes, declines everything else, and takes the requests clients send.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json-fast.h"
#include "test.h"

/* The request decoder agrees with jansson: where it takes text, jansson gives an object of
 * exactly those members, "jsonrpc" "2.0", the same method, id and params. */
static bool agree_request(const char *text, size_t len)
{
	struct json_fast_request r;
	if (!json_fast_request(text, len, &r))
		return false;
	json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	bool same = json_is_object(m);
	const char *key;
	json_t *v;
	size_t n = 0;
	json_object_foreach(m, key, v) {
		n++;
		same &= !strcmp(key, "jsonrpc") || !strcmp(key, "id") || !strcmp(key, "method") ||
			!strcmp(key, "params");
	}
	same = same && n == 2u + (r.id != NULL) + (r.params != NULL);
	json_t *ver = json_object_get(m, "jsonrpc"), *meth = json_object_get(m, "method");
	same = same && json_is_string(ver) && strcmp(json_string_value(ver), "2.0") == 0;
	same = same && json_is_string(meth) && strcmp(json_string_value(meth), r.method) == 0;
	json_t *id = json_object_get(m, "id"), *params = json_object_get(m, "params");
	same = same && (r.id ? id && json_equal(id, r.id) : !id);
	same = same && (r.params ? params && json_equal(params, r.params) : !params);
	if (!same)
		fprintf(stderr, "# request disagree on: %.*s\n", (int)len, text);
	CHECK(same);
	json_decref(m);
	json_decref(r.id);
	json_decref(r.params);
	return true;
}

/* Fast and jansson agree on text: fast declines, or both give equal values. Returns whether
 * fast took it. */
static bool agree(const char *text, size_t len)
{
	agree_request(text, len);
	json_t *fast = json_fast_parse(text, len);
	if (!fast)
		return false;
	json_t *slow = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	bool same = slow && json_equal(fast, slow);
	if (!same)
		fprintf(stderr, "# disagree on: %.*s\n", (int)len, text);
	CHECK(same);
	json_decref(slow);
	json_decref(fast);
	return true;
}

static bool takes(const char *text)
{
	return agree(text, strlen(text));
}

static const char *const requests[] = {
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.info\",\"params\":{\"name\":\"g00000\"}}",
	"{\"jsonrpc\": \"2.0\", \"id\": \"c-17\", \"method\": \"vm.list\", \"params\": {\"all\": true}}",
	"{\"jsonrpc\":\"2.0\",\"method\":\"vm.start\",\"params\":{\"name\":\"web1\"}}",
	"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"daemon.version\"}",
	("{\"jsonrpc\":\"2.0\",\"id\":-42,\"method\":\"vm.shutdown\",\"params\":{\"name\":\"a\","
	 "\"wait\":true,\"timeout\":60}}"),
	"\t{ \"jsonrpc\" : \"2.0\" ,\r\n \"id\" : 0 , \"method\" : \"x\" , \"params\" : { } }\n",
	"{\"id\":999999999999999999,\"a\":{\"b\":{}},\"e\":false,\"\":\"\"}",
	"{}",
};

static void takes_what_clients_send(void)
{
	for (size_t i = 0; i < sizeof requests / sizeof *requests; i++)
		CHECK(takes(requests[i]));
	/* the envelope decoder: the requests (not the last two, no request objects) */
	for (size_t i = 0; i + 2 < sizeof requests / sizeof *requests; i++)
		CHECK(agree_request(requests[i], strlen(requests[i])));
	static const char *const not_requests[] = {
		"{\"jsonrpc\":\"1.0\",\"method\":\"x\"}", "{\"method\":\"x\"}",
		"{\"jsonrpc\":\"2.0\"}", "{\"jsonrpc\":\"2.0\",\"method\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":true}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":{}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"extra\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"method\":\"y\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"x\"} x",
	};
	for (size_t i = 0; i < sizeof not_requests / sizeof *not_requests; i++) {
		struct json_fast_request r;
		CHECK(json_fast_request(not_requests[i], strlen(not_requests[i]), &r) == 0);
		CHECK(r.id == NULL && r.params == NULL);
	}
}

static void declines_the_rest(void)
{
	static const char *const declined[] = {
		"", " ", "[]", "[{\"id\":1}]", "42", "\"s\"", "null", "true",
		"{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":-0.0}", "{\"a\":[1]}",
		"{\"a\":\"\\u00e9\"}", "{\"a\\\"\":1}", "{\"a\":\"\xc3\xa9\"}", "{\"\xff\":1}",
		"{\"a\":1,\"a\":2}", "{\"a\":{\"b\":{\"c\":{}}}}", "{\"a\":1}x", "{\"a\":1}{}",
		"{\"a\":01}", "{\"a\":-}", "{\"a\":1234567890123456789}", "{\"a\":tru}",
		"{\"a\":truex}", "{\"a\" 1}", "{\"a\":1,}", "{,}", "{\"a\":1", "{\"a\":\"x",
		"{\"a\":\"x\ty\"}", "{'a':1}", "{\"a\":+1}", "{\"a\":NaN}",
	};
	for (size_t i = 0; i < sizeof declined / sizeof *declined; i++) {
		json_t *v = json_fast_parse(declined[i], strlen(declined[i]));
		if (v)
			fprintf(stderr, "# took: %s\n", declined[i]);
		CHECK(v == NULL);
		json_decref(v);
	}
	/* a NUL inside is declined (jansson refuses it too) */
	CHECK(json_fast_parse("{\"a\":\"x\0y\"}", 11) == NULL);
}

/* Mutations of the requests (bytes changed, inserted, removed, cut): wherever fast takes
 * one, jansson gives the same value. */
static void agrees_with_jansson_on_mutations(void)
{
	static const char alphabet[] = "{}[]\":,. \t\n\\-+0123456789eEtrufalsn\x01\x7f\xc3\xa9";
	unsigned seed = 1;
	unsigned taken = 0, tried = 0;
	char buf[512];
	for (int round = 0; round < 200000; round++) {
		const char *base = requests[round % (sizeof requests / sizeof *requests)];
		size_t len = strlen(base);
		memcpy(buf, base, len);
		int edits = 1 + round % 3;
		for (int e = 0; e < edits && len > 0 && len < sizeof buf - 2; e++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % len;
			char c = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
			switch ((seed >> 4) % 4) {
			case 0:
				buf[at] = c;
				break;
			case 1:
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = c;
				len++;
				break;
			case 2:
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			default:
				len = at;
			}
		}
		tried++;
		taken += agree(buf, len);
	}
	/* not vacuous: many mutants stay in the subset */
	fprintf(stderr, "# %u of %u mutants taken\n", taken, tried);
	CHECK(taken > tried / 20);
}

int main(void)
{
	RUN(takes_what_clients_send);
	RUN(declines_the_rest);
	RUN(agrees_with_jansson_on_mutations);
	TEST_DONE();
}
