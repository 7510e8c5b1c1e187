/*
 * counts_test.c - the thread and descriptor counters the abi suite's
 * leak checks rest on (cts_util.c). A count must be exact: a joined
 * thread is never counted, a live one always is, the listing's own
 * descriptor is left out, and a descriptor held for a moment is told
 * apart from one that stays open.
 */
#define _GNU_SOURCE

#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cts.h"

static void* idle_main(void* unused) { return unused; }

static atomic_int g_release;

static void* blocked_main(void* unused) {
  while (!atomic_load(&g_release)) usleep(1000);
  return unused;
}

/* A joined thread stays listed in /proc/self/task for a moment after
 * pthread_join returns; on a loaded machine the old count saw it. Every
 * one of these counts must equal the baseline. */
START_TEST(test_joined_threads_not_counted) {
  cts_thread_warmup();
  const uint32_t base = cts_thread_count();
  ck_assert_uint_ge(base, 1);
  uint32_t wrong = 0;
  uint32_t worst = base;
  for (int i = 0; i < 3000; ++i) {
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, idle_main, NULL), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    const uint32_t n = cts_thread_count();
    if (n != base) {
      ++wrong;
      worst = n;
    }
  }
  ck_assert_msg(wrong == 0, "%u of 3000 counts after a join were off (%u, %u)",
                wrong, worst, base);
}
END_TEST

START_TEST(test_live_threads_counted) {
  cts_thread_warmup();
  const uint32_t base = cts_thread_count();
  atomic_store(&g_release, 0);
  pthread_t t[3];
  for (int i = 0; i < 3; ++i) {
    ck_assert_int_eq(pthread_create(&t[i], NULL, blocked_main, NULL), 0);
    ck_assert_uint_eq(cts_thread_count(), base + (uint32_t)i + 1u);
  }
  atomic_store(&g_release, 1);
  for (int i = 0; i < 3; ++i) pthread_join(t[i], NULL);
  ck_assert_uint_eq(cts_thread_count(), base);
}
END_TEST

START_TEST(test_fd_count_exact) {
  const uint32_t base = cts_fd_count();
  /* stdin, stdout, stderr at least; never the listing's own. */
  ck_assert_uint_ge(base, 3);
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ck_assert_int_ge(fd, 0);
  ck_assert_uint_eq(cts_fd_count(), base + 1);
  close(fd);
  ck_assert_uint_eq(cts_fd_count(), base);
}
END_TEST

static void* close_later_main(void* arg) {
  usleep(50 * 1000);
  close(*(int*)arg);
  return NULL;
}

START_TEST(test_fd_settled) {
  const uint32_t base = cts_fd_count();
  /* Held for 50 ms by another thread: not a leak. */
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ck_assert_int_ge(fd, 0);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, close_later_main, &fd), 0);
  ck_assert_uint_eq(cts_fd_count_settled(base, 2000), base);
  pthread_join(t, NULL);
  /* Left open: still counted once the bound has passed. */
  int kept = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ck_assert_int_ge(kept, 0);
  ck_assert_uint_eq(cts_fd_count_settled(base, 50), base + 1);
  close(kept);
}
END_TEST

int main(void) {
  Suite* s = suite_create("cts_counts");
  TCase* tc = tcase_create("counts");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_joined_threads_not_counted);
  tcase_add_test(tc, test_live_threads_counted);
  tcase_add_test(tc, test_fd_count_exact);
  tcase_add_test(tc, test_fd_settled);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
