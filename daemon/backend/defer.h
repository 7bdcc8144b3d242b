/*
 * defer.h: the hand-off queue of the backends. backend.h promises that every callback into
 * the core (a done function, a domain event) comes from the event loop and never from inside
 * the call that started the work, nor from inside a libxl callback (libxl's locks are held
 * there). So a backend queues what it has to tell, and the queue delivers it from a fresh
 * loop iteration, in order, one call into the core per iteration: that call may do anything,
 * close the backend included, so the queue touches nothing after it.
 *
 * A note is any struct of the backend's whose first member is a struct defer_note; the queue
 * links notes and hands each back to deliver, which owns it from then on.
 */
#ifndef VMD_BACKEND_DEFER_H
#define VMD_BACKEND_DEFER_H

#include <stdbool.h>

struct event_base;

struct defer_note {
	struct defer_note *next;
};

/* Takes n (frees it). Returns true when it called into the core (the queue then stops for
 * this loop iteration: the core may have closed the backend), false when it only did
 * backend work or dropped the note. */
typedef bool defer_deliver_fn(void *owner, struct defer_note *n);
/* Frees a note that was never delivered (defer_free). */
typedef void defer_drop_fn(void *owner, struct defer_note *n);

struct defer;

/* NULL when libevent cannot make the event. */
struct defer *defer_new(struct event_base *base, defer_deliver_fn *deliver, void *owner);
/* Queues n (taken) and arms the queue. */
void defer_push(struct defer *q, struct defer_note *n);
/* Frees q and, through drop (NULL: free()), the notes still in it. NULL-safe. */
void defer_free(struct defer *q, defer_drop_fn *drop);

#endif
