/*
 * sl_list: an intrusive, circular doubly linked list (the Linux/lws dll
 * idea, small enough to read in one go). Embed an sl_list_t in a struct,
 * get the struct back with sl_container_of(). The caller owns locking.
 */
#ifndef SL_LIST_H
#define SL_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sl_list {
	struct sl_list *prev, *next;
} sl_list_t;

#define sl_container_of(ptr, type, member)                                    \
	((type *) (void *) ((char *) (ptr) -offsetof(type, member)))

/* Initialise a list head, or an element so that sl_list_linked() works. */
static inline void
sl_list_init(sl_list_t *l)
{
	l->prev = l->next = l;
}

static inline bool
sl_list_empty(const sl_list_t *head)
{
	return head->next == head;
}

/* True if an initialised element is currently on some list. */
static inline bool
sl_list_linked(const sl_list_t *e)
{
	return e->next != e;
}

static inline void
sl_list_insert_after(sl_list_t *at, sl_list_t *e)
{
	e->prev = at;
	e->next = at->next;
	at->next->prev = e;
	at->next = e;
}

static inline void
sl_list_push_back(sl_list_t *head, sl_list_t *e)
{
	sl_list_insert_after(head->prev, e);
}

static inline void
sl_list_push_front(sl_list_t *head, sl_list_t *e)
{
	sl_list_insert_after(head, e);
}

/* Unlink e and leave it initialised (not linked). */
static inline void
sl_list_remove(sl_list_t *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	sl_list_init(e);
}

/* First element, or NULL if the list is empty. */
static inline sl_list_t *
sl_list_first(const sl_list_t *head)
{
	return sl_list_empty(head) ? NULL : head->next;
}

/* Last element, or NULL if the list is empty. */
static inline sl_list_t *
sl_list_last(const sl_list_t *head)
{
	return sl_list_empty(head) ? NULL : head->prev;
}

#endif
