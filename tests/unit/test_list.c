/*
 * test_list: the intrusive list (common/sl_list.h).
 *
 * Elements are structs with an embedded sl_list_t; the order a list holds
 * is read back through sl_container_of, forwards and backwards, after
 * every kind of insert and removal. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "sl_list.h"

typedef struct item {
	char name;      /* what the order checks read */
	sl_list_t link; /* deliberately not the first member */
} item_t;

/* The names on head, first to last, checked against the walk backwards. */
static void
s_assert_order(const sl_list_t *head, const char *want)
{
	char fwd[16] = "", back[16] = "";
	size_t n = 0;

	for (sl_list_t *l = head->next; l != head; l = l->next) {
		assert_true(n < sizeof fwd - 1);
		fwd[n++] = sl_container_of(l, item_t, link)->name;
	}
	assert_string_equal(fwd, want);
	for (sl_list_t *l = head->prev; l != head; l = l->prev) {
		assert_true(n > 0);
		back[--n] = sl_container_of(l, item_t, link)->name;
	}
	assert_int_equal(n, 0);
	back[strlen(want)] = '\0';
	assert_string_equal(back, want);
}

static void
test_list_empty_list_has_no_first_or_last(void **state)
{
	sl_list_t head;
	item_t a = { 'a', { NULL, NULL } };

	(void) state;
	sl_list_init(&head);
	assert_true(sl_list_empty(&head));
	assert_null(sl_list_first(&head));
	assert_null(sl_list_last(&head));
	sl_list_init(&a.link);
	assert_false(sl_list_linked(&a.link));
	s_assert_order(&head, "");
}

static void
test_list_pushes_and_inserts_keep_their_order(void **state)
{
	item_t a = { 'a', { NULL, NULL } }, b = { 'b', { NULL, NULL } };
	item_t c = { 'c', { NULL, NULL } }, d = { 'd', { NULL, NULL } };
	sl_list_t head;

	(void) state;
	sl_list_init(&head);
	sl_list_push_back(&head, &b.link);
	sl_list_push_back(&head, &d.link);
	sl_list_push_front(&head, &a.link);
	sl_list_insert_after(&b.link, &c.link);
	s_assert_order(&head, "abcd");
	assert_false(sl_list_empty(&head));
	assert_ptr_equal(sl_list_first(&head), &a.link);
	assert_ptr_equal(sl_list_last(&head), &d.link);
	assert_ptr_equal(
	    sl_container_of(sl_list_last(&head), item_t, link), &d);
	assert_true(sl_list_linked(&c.link));
}

static void
test_list_remove_unlinks_and_leaves_the_rest(void **state)
{
	item_t a = { 'a', { NULL, NULL } }, b = { 'b', { NULL, NULL } };
	item_t c = { 'c', { NULL, NULL } };
	sl_list_t head;

	(void) state;
	sl_list_init(&head);
	sl_list_push_back(&head, &a.link);
	sl_list_push_back(&head, &b.link);
	sl_list_push_back(&head, &c.link);
	sl_list_remove(&b.link);
	assert_false(sl_list_linked(&b.link));
	s_assert_order(&head, "ac");
	sl_list_remove(&a.link);
	s_assert_order(&head, "c");
	assert_ptr_equal(sl_list_first(&head), sl_list_last(&head));
	sl_list_remove(&c.link);
	assert_true(sl_list_empty(&head));
	s_assert_order(&head, "");
	/* A removed element can go back on a list. */
	sl_list_push_front(&head, &b.link);
	s_assert_order(&head, "b");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_empty_list_has_no_first_or_last),
		cmocka_unit_test(
		    test_list_pushes_and_inserts_keep_their_order),
		cmocka_unit_test(test_list_remove_unlinks_and_leaves_the_rest),
	};

	return cmocka_run_group_tests_name("list", tests, NULL, NULL);
}
