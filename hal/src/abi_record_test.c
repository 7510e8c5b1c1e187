/*
 * abi_record_test.c - struct_size both ways (abi_record.h) on records
 * that have grown: a "1.0" record, the "current" record libxhal was built
 * with (two fields appended), and a "future" caller's record (one more
 * field). The framework API's records are still at their 1.0 size, so the
 * growth the helpers exist for is modelled here with these three layouts.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi_record.h"

typedef struct rec_1_0 {
  uint32_t struct_size;
  uint32_t a;
  uint64_t b;
} rec_1_0_t;

typedef struct rec_now {
  uint32_t struct_size;
  uint32_t a;
  uint64_t b;
  uint64_t c; /* appended after 1.0 */
  uint32_t d; /* appended after 1.0 */
  uint32_t e; /* appended after 1.0 */
} rec_now_t;

typedef struct rec_future {
  uint32_t struct_size;
  uint32_t a;
  uint64_t b;
  uint64_t c;
  uint32_t d;
  uint32_t e;
  uint64_t f; /* unknown to libxhal */
} rec_future_t;

enum { kCanary = 32 };

static const rec_now_t kFull = {sizeof(rec_now_t), 1, 2, 3, 4, 5};

static unsigned char* canaried(size_t size) {
  unsigned char* p = malloc(size + kCanary);
  ck_assert_ptr_nonnull(p);
  memset(p, 0xEE, size + kCanary);
  return p;
}

static void expect_untouched(const unsigned char* p, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    ck_assert_msg(p[i] == 0xEE,
                  "byte %zu written (only %zu were the "
                  "caller's to fill)",
                  i, from);
  }
}

START_TEST(out_older_caller_gets_its_size_only) {
  unsigned char* p = canaried(sizeof(rec_1_0_t));
  rec_1_0_t* r = (rec_1_0_t*)p;
  r->struct_size = sizeof(rec_1_0_t);
  record_copy_out(r, &kFull, sizeof(rec_1_0_t), sizeof(rec_now_t));
  ck_assert_uint_eq(r->struct_size, sizeof(rec_1_0_t));
  ck_assert_uint_eq(r->a, 1);
  ck_assert_uint_eq(r->b, 2);
  expect_untouched(p, sizeof(rec_1_0_t), sizeof(rec_1_0_t) + kCanary);
  free(p);
}
END_TEST

START_TEST(out_unset_size_counts_as_1_0) {
  /* A caller of the 1.0 headers need not set struct_size: 0 and anything
   * below the 1.0 size fill exactly the 1.0 record. */
  const uint32_t sizes[] = {0, 3, 8};
  for (unsigned i = 0; i < 3; ++i) {
    unsigned char* p = canaried(sizeof(rec_1_0_t));
    rec_1_0_t* r = (rec_1_0_t*)p;
    r->struct_size = sizes[i];
    record_copy_out(r, &kFull, sizeof(rec_1_0_t), sizeof(rec_now_t));
    ck_assert_uint_eq(r->struct_size, sizeof(rec_1_0_t));
    ck_assert_uint_eq(r->b, 2);
    expect_untouched(p, sizeof(rec_1_0_t), sizeof(rec_1_0_t) + kCanary);
    free(p);
  }
}
END_TEST

START_TEST(out_current_and_newer_callers) {
  unsigned char* p = canaried(sizeof(rec_future_t));
  rec_future_t* r = (rec_future_t*)p;
  r->struct_size = sizeof(rec_future_t);
  record_copy_out(r, &kFull, sizeof(rec_1_0_t), sizeof(rec_now_t));
  /* libxhal fills what it knows and says so; the rest stays the
   * caller's. */
  ck_assert_uint_eq(r->struct_size, sizeof(rec_now_t));
  ck_assert_uint_eq(r->e, 5);
  expect_untouched(p, sizeof(rec_now_t), sizeof(rec_future_t) + kCanary);
  free(p);

  p = canaried(sizeof(rec_now_t));
  rec_now_t* n = (rec_now_t*)p;
  n->struct_size = sizeof(rec_now_t);
  record_copy_out(n, &kFull, sizeof(rec_1_0_t), sizeof(rec_now_t));
  ck_assert_mem_eq(n, &kFull, sizeof(kFull));
  expect_untouched(p, sizeof(rec_now_t), sizeof(rec_now_t) + kCanary);
  free(p);
}
END_TEST

START_TEST(in_older_record_reads_defaults_past_it) {
  /* Exactly the 1.0 bytes on the heap: ASan reports a read past them. */
  rec_1_0_t* old = malloc(sizeof(*old));
  ck_assert_ptr_nonnull(old);
  *old = (rec_1_0_t){sizeof(rec_1_0_t), 7, 8};
  rec_now_t local = {0, 0, 0, 30, 40, 50}; /* the defaults */
  const rec_now_t* r =
      record_read_in(old, &local, sizeof(rec_1_0_t), sizeof(rec_now_t));
  ck_assert_ptr_eq(r, &local);
  ck_assert_uint_eq(r->struct_size, sizeof(rec_now_t));
  ck_assert_uint_eq(r->a, 7);
  ck_assert_uint_eq(r->b, 8);
  ck_assert_uint_eq(r->c, 30);
  ck_assert_uint_eq(r->d, 40);
  ck_assert_uint_eq(r->e, 50);
  free(old);
}
END_TEST

START_TEST(in_current_or_newer_record_is_used_as_is) {
  rec_future_t future = {sizeof(rec_future_t), 1, 2, 3, 4, 5, 6};
  rec_now_t local;
  ck_assert_ptr_eq(
      record_read_in(&future, &local, sizeof(rec_1_0_t), sizeof(rec_now_t)),
      &future);
  rec_now_t now = kFull;
  ck_assert_ptr_eq(
      record_read_in(&now, &local, sizeof(rec_1_0_t), sizeof(rec_now_t)), &now);
}
END_TEST

START_TEST(in_record_below_1_0_is_refused) {
  rec_1_0_t old = {sizeof(rec_1_0_t) - 1, 7, 8};
  rec_now_t local;
  ck_assert_ptr_null(
      record_read_in(&old, &local, sizeof(rec_1_0_t), sizeof(rec_now_t)));
  old.struct_size = 0;
  ck_assert_ptr_null(
      record_read_in(&old, &local, sizeof(rec_1_0_t), sizeof(rec_now_t)));
}
END_TEST

int main(void) {
  Suite* s = suite_create("abi_record");
  TCase* tc = tcase_create("records");
  tcase_add_test(tc, out_older_caller_gets_its_size_only);
  tcase_add_test(tc, out_unset_size_counts_as_1_0);
  tcase_add_test(tc, out_current_and_newer_callers);
  tcase_add_test(tc, in_older_record_reads_defaults_past_it);
  tcase_add_test(tc, in_current_or_newer_record_is_used_as_is);
  tcase_add_test(tc, in_record_below_1_0_is_refused);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
