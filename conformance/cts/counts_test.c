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
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
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
 * one of these counts must equal the baseline. The moment is short: this
 * loop seldom catches the old count (test_zombie_leader_not_counted
 * does, every time). */
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

/* The moment a joined thread stays listed is too short to catch on
 * demand, so the filter is proven on a state that lasts: the main
 * thread of a process that called pthread_exit stays in
 * /proc/self/task as a zombie while another thread runs. A forked child
 * counts its threads from such a second thread and exits with the
 * verdict. */
static uint32_t g_zombie_base;

static char leader_state(void) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)getpid());
  FILE* f = fopen(path, "re");
  if (!f) return 0;
  char buf[512];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* close_paren = strrchr(buf, ')');
  return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

static void* zombie_check_main(void* unused) {
  for (int i = 0; i < 5000 && leader_state() != 'Z'; ++i) usleep(1000);
  if (leader_state() != 'Z') _exit(2); /* the leader never became one */
  /* This thread replaced the leader: the count is the one before. */
  _exit(cts_thread_count() == g_zombie_base ? 0 : 1);
  return unused;
}

START_TEST(test_zombie_leader_not_counted) {
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    g_zombie_base = cts_thread_count();
    pthread_t t;
    if (pthread_create(&t, NULL, zombie_check_main, NULL) != 0) _exit(3);
    pthread_exit(NULL);
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status), "the counting child died (status 0x%x)",
                (unsigned)status);
  ck_assert_msg(WEXITSTATUS(status) != 2,
                "the main thread did not become a zombie");
  ck_assert_msg(WEXITSTATUS(status) == 0,
                "a zombie thread was counted (child exit %d)",
                WEXITSTATUS(status));
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
  tcase_add_test(tc, test_zombie_leader_not_counted);
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
