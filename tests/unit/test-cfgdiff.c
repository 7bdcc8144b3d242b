/*
 * test-cfgdiff.c: what vm.update and vm.info's pending see as a change between two xl.cfg
 * texts, and the item edits that keep the running domain's config in step.
 */
#include <stdlib.h>
#include <string.h>

#include "cfgdiff.h"
#include "test.h"
#include "xlcfg.h"

#define A "name = \"g\"\nmemory = 128\nvcpus = 1\n" \
	  "disk = [ \"format=raw, vdev=xvda, access=rw, target=/srv/a.img\" ]\n" \
	  "vif = [ \"mac=00:16:3e:00:00:01, bridge=xenbr0\" ]\n"

static char *dumps(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static void same_meaning_is_no_change(void)
{
	/* comments, layout, quoting, key order, option order, MAC case: no difference */
	const char *b = "# by hand\nvif = [ 'bridge=xenbr0,mac=00:16:3E:00:00:01' ]\nvcpus=1\n"
			"name='g'\nmemory=128\n"
			"disk=[ '/srv/a.img,raw,xvda,rw' ]\n";
	char *s = dumps(cfgdiff(A, b));
	CHECK_STR(s, "[]");
	free(s);
}

static void keys_and_items(void)
{
	const char *b = "name = \"g\"\nmemory = 256\n"
			"disk = [ \"format=raw, vdev=xvda, access=rw, target=/srv/a.img\",\n"
			"\"format=raw, vdev=xvdb, access=ro, target=/srv/b.img\" ]\n"
			"vif = [ \"mac=00:16:3e:00:00:02\" ]\nmaxmem = 512\n";
	char *s = dumps(cfgdiff(A, b));
	CHECK_STR(s, "[{\"key\":\"memory\",\"live\":\"128\",\"config\":\"256\"},"
		     "{\"key\":\"disk\",\"id\":\"xvdb\",\"live\":null,"
		     "\"config\":\"format=raw, vdev=xvdb, access=ro, target=/srv/b.img\"},"
		     "{\"key\":\"vif\",\"id\":\"00:16:3e:00:00:02\",\"live\":null,"
		     "\"config\":\"mac=00:16:3e:00:00:02\"},"
		     "{\"key\":\"vif\",\"id\":\"00:16:3e:00:00:01\","
		     "\"live\":\"mac=00:16:3e:00:00:01, bridge=xenbr0\",\"config\":null},"
		     "{\"key\":\"maxmem\",\"live\":null,\"config\":\"512\"},"
		     "{\"key\":\"vcpus\",\"live\":\"1\",\"config\":null}]");
	free(s);
}

static void changed_item_and_rate(void)
{
	const char *b = "name = \"g\"\nmemory = 128\nvcpus = 1\n"
			"disk = [ \"format=raw, vdev=xvda, access=ro, target=/srv/a.img\" ]\n"
			"vif = [ \"mac=00:16:3e:00:00:01, bridge=xenbr0, rate=10Mb/s\" ]\n";
	char *s = dumps(cfgdiff(A, b));
	CHECK(strstr(s, "\"id\":\"xvda\"") && strstr(s, "\"id\":\"00:16:3e:00:00:01\""));
	free(s);
	CHECK(cfgdiff_same_but("vif", "mac=00:16:3e:00:00:01, bridge=xenbr0",
			       "bridge=xenbr0, rate=10Mb/s, mac=00:16:3e:00:00:01", "rate"));
	CHECK(!cfgdiff_same_but("vif", "mac=00:16:3e:00:00:01, bridge=xenbr0",
				"mac=00:16:3e:00:00:01, bridge=xenbr1, rate=1Mb/s", "rate"));
}

static void item_ids(void)
{
	char *id = cfgdiff_item_id("vif", "bridge=xenbr0, mac=00:16:3E:AA:00:01");
	CHECK_STR(id, "00:16:3e:aa:00:01");
	free(id);
	CHECK(cfgdiff_item_id("vif", "bridge=xenbr0") == NULL);
	id = cfgdiff_item_id("disk", "/srv/a.img,raw,xvdc,rw");
	CHECK_STR(id, "xvdc");
	free(id);
	CHECK(cfgdiff_item_id("disk", "target=/srv/a.img") == NULL); /* no vdev */
}

static void edits(void)
{
	char *t = cfgdiff_edit_item(A, "disk", "xvdb",
				    "format=raw, vdev=xvdb, access=rw, target=/srv/b.img");
	char *s = dumps(cfgdiff(A, t));
	CHECK(strstr(s, "\"id\":\"xvdb\",\"live\":null") != NULL);
	free(s);
	char *u = cfgdiff_edit_item(t, "disk", "xvdb", NULL);
	s = dumps(cfgdiff(A, u));
	CHECK_STR(s, "[]");
	free(s);
	free(u);
	/* the last item removed: the key goes */
	u = cfgdiff_edit_item(A, "vif", "00:16:3e:00:00:01", NULL);
	CHECK(strstr(u, "vif") == NULL);
	free(u);
	/* a spec replaced where it was */
	u = cfgdiff_edit_item(A, "vif", "00:16:3e:00:00:01", "mac=00:16:3e:00:00:01, rate=1Mb/s");
	CHECK(strstr(u, "rate=1Mb/s") && strstr(u, "bridge=") == NULL);
	free(u);
	free(t);
	/* a list that is not one of strings is not edited */
	CHECK(cfgdiff_edit_item("name = \"g\"\ndisk = [ [ \"x\" ] ]\n", "disk", "xvda", NULL) ==
	      NULL);
	char *o = xlcfg_spec_set("mac=00:16:3e:00:00:01, rate=1Mb/s, bridge=b", "rate", "2Mb/s");
	CHECK_STR(o, "mac=00:16:3e:00:00:01, rate=2Mb/s, bridge=b");
	free(o);
	o = xlcfg_spec_set("mac=00:16:3e:00:00:01, rate=1Mb/s", "rate", NULL);
	CHECK_STR(o, "mac=00:16:3e:00:00:01");
	free(o);
	o = xlcfg_spec_set("bridge=b", "rate", "1Mb/s");
	CHECK_STR(o, "bridge=b, rate=1Mb/s");
	free(o);
}

int main(void)
{
	RUN(same_meaning_is_no_change);
	RUN(keys_and_items);
	RUN(changed_item_and_rate);
	RUN(item_ids);
	RUN(edits);
	TEST_DONE();
}
