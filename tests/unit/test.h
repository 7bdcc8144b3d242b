/*
 * test.h: the whole unit-test framework. A test file defines test functions, lists them in
 * main() with RUN(), and exits non-zero when any CHECK failed. Output is TAP-like so a failure
 * names the file, line and expression.
 */
#ifndef VMD_TEST_H
#define VMD_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_count;

#define CHECK(expr)                                                                          \
	do {                                                                                 \
		if (!(expr)) {                                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
			test_failures++;                                                     \
		}                                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                                      \
	do {                                                                                 \
		const char *a_ = (a), *b_ = (b);                                             \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                     \
			fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      %s\n  expected: %s\n", \
				__FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
			test_failures++;                                                     \
		}                                                                            \
	} while (0)

#define RUN(fn)                                                                              \
	do {                                                                                 \
		int before_ = test_failures;                                                 \
		test_count++;                                                                \
		fn();                                                                        \
		printf("%s %d - %s\n", test_failures == before_ ? "ok" : "not ok", test_count, #fn); \
	} while (0)

#define TEST_DONE()                                                                          \
	do {                                                                                 \
		printf("1..%d\n", test_count);                                               \
		return test_failures ? EXIT_FAILURE : EXIT_SUCCESS;                          \
	} while (0)

/* Runs a shell command made with printf formatting; returns system()'s status. */
__attribute__((format(printf, 1, 2), unused)) static int sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	int r = system(cmd);
	free(cmd);
	return r;
}

/* A guest config from xl.cfg text (printf formatting), as every definition is made: the
 * test fails (and cfg stays empty) when the text does not parse. Include config.h first. */
#ifdef VMD_CONFIG_H
__attribute__((format(printf, 2, 3), unused)) static int cfg_text(struct vm_config *cfg,
								  const char *fmt, ...)
{
	va_list ap;
	char *text;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	struct err err = {0};
	int r = config_parse(text, strlen(text), "test.cfg", NULL, cfg, &err);
	if (r < 0) {
		fprintf(stderr, "cfg_text: %s\n  in: %s\n", err.msg, text);
		test_failures++;
		vm_config_init(cfg);
	}
	err_clear(&err);
	free(text);
	return r;
}
#endif

#endif
