/*
 * defer.c: see defer.h.
 */
#include "defer.h"

#include <event2/event.h>
#include <stdlib.h>

#include "util.h"

struct defer {
	struct event *kick;
	struct defer_note *head, **tail;
	defer_deliver_fn *deliver;
	void *owner;
};

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct defer *q = arg;
	struct defer_note *n;
	while ((n = q->head)) {
		q->head = n->next;
		if (!q->head)
			q->tail = &q->head;
		n->next = NULL;
		/* Re-armed before the call: after a call into the core, q may be gone. */
		if (q->head)
			event_active(q->kick, EV_TIMEOUT, 1);
		if (q->deliver(q->owner, n))
			return;
	}
}

struct defer *defer_new(struct event_base *base, defer_deliver_fn *deliver, void *owner)
{
	struct defer *q = xcalloc(1, sizeof *q);
	q->kick = event_new(base, -1, 0, kick_cb, q);
	if (!q->kick) {
		free(q);
		return NULL;
	}
	q->tail = &q->head;
	q->deliver = deliver;
	q->owner = owner;
	return q;
}

void defer_push(struct defer *q, struct defer_note *n)
{
	n->next = NULL;
	*q->tail = n;
	q->tail = &n->next;
	event_active(q->kick, EV_TIMEOUT, 1);
}

void defer_free(struct defer *q, defer_drop_fn *drop)
{
	if (!q)
		return;
	struct defer_note *n;
	while ((n = q->head)) {
		q->head = n->next;
		if (drop)
			drop(q->owner, n);
		else
			free(n);
	}
	event_free(q->kick);
	free(q);
}
