/*
 * cp_results: frames from the compute threads to the I/O thread (see
 * cp_results.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cp_results.h"

struct cp_results {
	pthread_mutex_t lock;
	pthread_cond_t room;   /* {lock} the list was taken, or stop */
	cp_result_list_t list; /* {lock} waiting for the I/O thread */
	bool signalled;        /* {lock} the eventfd was written since the
	                          last take */
	bool stop;             /* {lock} appenders give up */
	unsigned waiting;      /* {lock} appenders blocked on room */
	uint64_t signals;      /* {lock} eventfd writes */
	uint64_t blocked;      /* {lock} appends that had to wait */
	size_t max_bytes;
	int efd;
};

cp_result_t *
cp_result_new(uint64_t gen, bool stream, const void *data, size_t len)
{
	cp_result_t *r = malloc(sizeof *r + len);

	if (!r)
		return NULL;
	r->next = NULL;
	r->gen = gen;
	r->stream = stream;
	r->len = len;
	memcpy(r->data, data, len);
	return r;
}

void
cp_result_free_all(cp_result_t *head)
{
	while (head) {
		cp_result_t *next = head->next;

		free(head);
		head = next;
	}
}

void
cp_result_list_push(cp_result_list_t *list, cp_result_t *r)
{
	r->next = NULL;
	if (list->tail)
		list->tail->next = r;
	else
		list->head = r;
	list->tail = r;
	list->n++;
	list->bytes += r->len;
}

cp_results_t *
cp_results_new(size_t max_bytes)
{
	cp_results_t *self = calloc(1, sizeof *self);

	if (!self)
		return NULL;
	self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (self->efd < 0) {
		int saved = errno;

		free(self);
		errno = saved;
		return NULL;
	}
	pthread_mutex_init(&self->lock, NULL);
	pthread_cond_init(&self->room, NULL);
	self->max_bytes = max_bytes;
	return self;
}

void
cp_results_destroy(cp_results_t **self_p)
{
	cp_results_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	cp_result_free_all(self->list.head);
	close(self->efd);
	pthread_cond_destroy(&self->room);
	pthread_mutex_destroy(&self->lock);
	free(self);
	*self_p = NULL;
}

int
cp_results_fd(const cp_results_t *self)
{
	return self->efd;
}

int
cp_results_append(cp_results_t *self, cp_result_list_t *list)
{
	bool wake = false;

	if (!list->head)
		return 0;
	pthread_mutex_lock(&self->lock);
	if (self->list.head && self->list.bytes >= self->max_bytes
	    && !self->stop)
		self->blocked++;
	/* Over the bound: wait for the I/O thread to take the list (it
	 * takes all of it, so one wait is usually enough). */
	while (self->list.head && self->list.bytes >= self->max_bytes
	    && !self->stop) {
		self->waiting++;
		pthread_cond_wait(&self->room, &self->lock);
		self->waiting--;
	}
	if (self->stop) {
		pthread_mutex_unlock(&self->lock);
		cp_result_free_all(list->head);
		*list = (cp_result_list_t) { 0 };
		return -1;
	}
	if (self->list.tail)
		self->list.tail->next = list->head;
	else
		self->list.head = list->head;
	self->list.tail = list->tail;
	self->list.n += list->n;
	self->list.bytes += list->bytes;
	if (!self->signalled) {
		self->signalled = true;
		self->signals++;
		wake = true;
	}
	pthread_mutex_unlock(&self->lock);
	*list = (cp_result_list_t) { 0 };
	/* Outside the lock: the I/O thread may run at once. A write that
	 * lands after the take it was for only costs an empty take. */
	if (wake) {
		uint64_t one = 1;

		while (
		    write(self->efd, &one, sizeof one) < 0 && errno == EINTR)
			;
	}
	return 0;
}

cp_result_t *
cp_results_take(cp_results_t *self)
{
	cp_result_t *head;
	uint64_t count;

	/* Read first: an append after this read writes again. */
	while (read(self->efd, &count, sizeof count) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&self->lock);
	head = self->list.head;
	self->list = (cp_result_list_t) { 0 };
	self->signalled = false;
	if (self->waiting)
		pthread_cond_broadcast(&self->room);
	pthread_mutex_unlock(&self->lock);
	return head;
}

void
cp_results_stop(cp_results_t *self)
{
	pthread_mutex_lock(&self->lock);
	self->stop = true;
	pthread_cond_broadcast(&self->room);
	pthread_mutex_unlock(&self->lock);
}

void
cp_results_stats(cp_results_t *self, cp_results_stats_t *out)
{
	pthread_mutex_lock(&self->lock);
	out->queued = self->list.n;
	out->bytes = self->list.bytes;
	out->signals = self->signals;
	out->blocked = self->blocked;
	pthread_mutex_unlock(&self->lock);
}
