/*
 * loader_test.c - plugin discovery and rejection: each broken plugin is
 * skipped with the right status and reason while the CPU plugin beside it
 * still loads and works.
 */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_stderr.h"
#include "test_util.h"

#define BROKEN(name) XHAL_BROKEN_PLUGIN_DIR "/libxhal_broken_" name ".so"

/* Finds the plugin record whose path ends with `suffix`. */
static xhal_plugin_info_t find_plugin(xhal_instance_t instance,
                                      const char* suffix) {
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  for (uint32_t i = 0; i < count; ++i) {
    xhal_plugin_info_t info;
    ck_assert_int_eq(xhal_instance_plugin_info(instance, i, &info), XHAL_OK);
    size_t n = strlen(info.path), m = strlen(suffix);
    if (n >= m && strcmp(info.path + n - m, suffix) == 0) return info;
  }
  ck_abort_msg("no plugin record for %s", suffix);
  xhal_plugin_info_t none = {0};
  return none;
}

/* The CPU plugin beside `broken` loads, `broken` is rejected with
 * `status` and a reason containing `reason`. */
static void check_rejected(const char* broken, xhal_status_t status,
                           const char* reason) {
  const char* paths[] = {broken, XHAL_CPU_PLUGIN_PATH};
  xhal_instance_t instance = test_instance_on(paths, 2);
  xhal_plugin_info_t bad = find_plugin(instance, strrchr(broken, '/'));
  ck_assert_uint_eq(bad.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_msg(bad.status == status, "status %s, expected %s (%s)",
                xhal_status_name(bad.status), xhal_status_name(status),
                bad.reason);
  ck_assert_msg(strstr(bad.reason, reason), "reason '%s' lacks '%s'",
                bad.reason, reason);
  xhal_plugin_info_t cpu = find_plugin(instance, "/libxhal_cpu.so");
  ck_assert_uint_eq(cpu.state, XHAL_PLUGIN_STATE_LOADED);
  ck_assert_uint_eq(cpu.device_count, 1);
  /* ...and the good plugin works. */
  xhal_device_t device;
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_instance_release(instance);
}

START_TEST(test_missing_symbol) {
  check_rejected(BROKEN("no_symbol"), XHAL_ERROR_PLUGIN_LOAD,
                 "missing entry symbol xhal_plugin_query");
}
END_TEST

START_TEST(test_query_refuses_abi) {
  char want[64];
  snprintf(want, sizeof(want), "refused host ABI %u.%u", XHAL_ABI_VERSION_MAJOR,
           XHAL_ABI_VERSION_MINOR);
  check_rejected(BROKEN("refuses_abi"), XHAL_ERROR_ABI_MISMATCH, want);
}
END_TEST

START_TEST(test_wrong_major) {
  check_rejected(BROKEN("wrong_major"), XHAL_ERROR_ABI_MISMATCH,
                 "plugin speaks ABI major 99, host speaks 1");
}
END_TEST

START_TEST(test_short_table) {
  check_rejected(BROKEN("short_table"), XHAL_ERROR_PLUGIN_LOAD,
                 "dispatch table too small: struct_size 64");
}
END_TEST

START_TEST(test_null_required_entry) {
  check_rejected(BROKEN("null_entry"), XHAL_ERROR_PLUGIN_LOAD,
                 "required entry 'event_query' is NULL");
}
END_TEST

START_TEST(test_init_fails) {
  check_rejected(BROKEN("init_fails"), XHAL_ERROR_DEVICE_LOST,
                 "no device answered the probe");
}
END_TEST

START_TEST(test_not_a_library) {
  check_rejected(BROKEN("notalib"), XHAL_ERROR_PLUGIN_LOAD, "dlopen failed");
}
END_TEST

START_TEST(test_missing_file) {
  check_rejected(XHAL_BROKEN_PLUGIN_DIR "/libxhal_absent.so",
                 XHAL_ERROR_PLUGIN_LOAD,
                 "cannot read plugin file: No such file or directory");
}
END_TEST

START_TEST(test_relative_path_refused) {
  const char* paths[] = {"libxhal_cpu.so"};
  xhal_instance_t instance = test_instance_on(paths, 1);
  xhal_plugin_info_t info = find_plugin(instance, "libxhal_cpu.so");
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_ptr_nonnull(strstr(info.reason, "relative plugin path refused"));
  uint32_t devices = 1;
  ck_assert_int_eq(xhal_instance_device_count(instance, &devices), XHAL_OK);
  ck_assert_uint_eq(devices, 0);
  xhal_instance_release(instance);
}
END_TEST

START_TEST(test_duplicate_name_rejected) {
  /* The same plugin through two paths (a symlink) loads once. */
  char dir[] = "/tmp/xhal-loader-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char link_path[256];
  snprintf(link_path, sizeof(link_path), "%s/libxhal_cpu.so", dir);
  ck_assert_int_eq(symlink(XHAL_CPU_PLUGIN_PATH, link_path), 0);
  const char* paths[] = {XHAL_CPU_PLUGIN_PATH, link_path};
  xhal_instance_t instance = test_instance_on(paths, 2);
  uint32_t devices = 0;
  ck_assert_int_eq(xhal_instance_device_count(instance, &devices), XHAL_OK);
  ck_assert_uint_eq(devices, 1);
  xhal_plugin_info_t dup;
  ck_assert_int_eq(xhal_instance_plugin_info(instance, 1, &dup), XHAL_OK);
  ck_assert_uint_eq(dup.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_ptr_nonnull(strstr(dup.reason, "duplicate of plugin 'cpu'"));
  xhal_instance_release(instance);
  unlink(link_path);
  rmdir(dir);
}
END_TEST

/* Copies the CPU plugin into a fresh dir with the given mode. */
static void copy_plugin_to(const char* dir, mode_t dir_mode, char* out_path,
                           size_t out_size) {
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  snprintf(out_path, out_size, "%s/libxhal_cpu.so", dir);
  FILE* in = fopen(XHAL_CPU_PLUGIN_PATH, "rb");
  FILE* out = fopen(out_path, "wb");
  ck_assert_ptr_nonnull(in);
  ck_assert_ptr_nonnull(out);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
    ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
  }
  fclose(in);
  fclose(out);
  ck_assert_int_eq(chmod(dir, dir_mode), 0);
}

START_TEST(test_world_writable_dir_rejected) {
  char base[] = "/tmp/xhal-ww-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(base));
  char dir[128], path[256];
  snprintf(dir, sizeof(dir), "%s/plugins", base);
  copy_plugin_to(dir, 0777, path, sizeof(path));
  const char* dirs[] = {dir};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.search_dirs = dirs;
  options.search_dir_count = 1;
  options.ignore_environment = 1;
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  xhal_plugin_info_t info = find_plugin(instance, "/libxhal_cpu.so");
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_ptr_nonnull(
      strstr(info.reason, "plugin directory is writable by other users"));
  xhal_instance_release(instance);
  /* The same dir, once private, is accepted. */
  ck_assert_int_eq(chmod(dir, 0755), 0);
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  info = find_plugin(instance, "/libxhal_cpu.so");
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_LOADED);
  xhal_instance_release(instance);
  unlink(path);
  rmdir(dir);
  rmdir(base);
}
END_TEST

START_TEST(test_world_writable_file_rejected) {
  char base[] = "/tmp/xhal-wf-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(base));
  char dir[128], path[256];
  snprintf(dir, sizeof(dir), "%s/plugins", base);
  copy_plugin_to(dir, 0755, path, sizeof(path));
  ck_assert_int_eq(chmod(path, 0666), 0);
  const char* paths[] = {path};
  xhal_instance_t instance = test_instance_on(paths, 1);
  xhal_plugin_info_t info = find_plugin(instance, "/libxhal_cpu.so");
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_ptr_nonnull(
      strstr(info.reason, "plugin file is writable by other users"));
  xhal_instance_release(instance);
  unlink(path);
  rmdir(dir);
  rmdir(base);
}
END_TEST

START_TEST(test_env_plugins_replaces_discovery) {
  setenv("XHAL_PLUGINS", BROKEN("wrong_major") ":" XHAL_CPU_PLUGIN_PATH, 1);
  setenv("XHAL_PLUGIN_PATH", XHAL_BROKEN_PLUGIN_DIR, 1);
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(NULL, &instance), XHAL_OK);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 2); /* XHAL_PLUGIN_PATH was not searched */
  ck_assert_uint_eq(find_plugin(instance, "/libxhal_cpu.so").state,
                    XHAL_PLUGIN_STATE_LOADED);
  ck_assert_uint_eq(find_plugin(instance, "_wrong_major.so").state,
                    XHAL_PLUGIN_STATE_REJECTED);
  xhal_instance_release(instance);
}
END_TEST

START_TEST(test_env_plugin_path_searched) {
  unsetenv("XHAL_PLUGINS");
  setenv("XHAL_PLUGIN_PATH", "relative/dir:" XHAL_BROKEN_PLUGIN_DIR, 1);
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(NULL, &instance), XHAL_OK);
  /* Every broken plugin in the dir was considered and rejected. */
  ck_assert_uint_eq(find_plugin(instance, "_init_fails.so").state,
                    XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_uint_eq(find_plugin(instance, "_notalib.so").state,
                    XHAL_PLUGIN_STATE_REJECTED);
  xhal_instance_release(instance);
}
END_TEST

START_TEST(test_ignore_environment) {
  setenv("XHAL_PLUGINS", XHAL_CPU_PLUGIN_PATH, 1);
  xhal_instance_t instance = test_instance_on(NULL, 0);
  uint32_t count = 1;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 0);
  xhal_instance_release(instance);
}
END_TEST

START_TEST(test_instance_bad_arguments) {
  xhal_instance_t instance = (xhal_instance_t)0x1;
  ck_assert_status_msg(xhal_instance_create(NULL, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_instance");
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.struct_size = 8;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT, "struct_size");
  ck_assert_ptr_null(instance);
  xhal_instance_options_default(&options);
  options.plugin_path_count = 2;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT, "plugin_paths is NULL");
  xhal_instance_options_default(&options);
  options.log_level = 42;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT, "log_level");
  instance = test_instance_on(NULL, 0);
  xhal_plugin_info_t info;
  ck_assert_status_msg(xhal_instance_plugin_info(instance, 0, &info),
                       XHAL_ERROR_OUT_OF_RANGE, "plugin index 0");
  xhal_device_t device;
  ck_assert_status_msg(xhal_instance_device(instance, 3, &device),
                       XHAL_ERROR_OUT_OF_RANGE, "device index 3");
  ck_assert_status_msg(xhal_instance_device_count(NULL, NULL),
                       XHAL_ERROR_INVALID_HANDLE, "instance is NULL");
  xhal_instance_release(instance);
  xhal_instance_release(NULL); /* no-op */
}
END_TEST

START_TEST(test_debug_log_prints_discovery) {
  /* XHAL_LOG=debug narrates discovery on stderr. */
  char path[] = "/tmp/xhal-log-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_ge(dup2(fd, 2), 0);
  setenv("XHAL_LOG", "debug", 1);
  setenv("XHAL_PLUGINS", XHAL_CPU_PLUGIN_PATH ":" BROKEN("short_table"), 1);
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(NULL, &instance), XHAL_OK);
  xhal_instance_release(instance);
  fflush(stderr);
  FILE* f = fopen(path, "r");
  char text[8192] = {0};
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  unlink(path);
  ck_assert_uint_gt(n, 0);
  ck_assert_ptr_nonnull(strstr(text, "replaces discovery"));
  ck_assert_ptr_nonnull(strstr(text, "loaded plugin 'cpu'"));
  ck_assert_ptr_nonnull(strstr(text, "rejected plugin"));
}
END_TEST

/* ------------------------------------------------ non-regular files */

/* A directory holding, under plugin names, every kind of file that is
 * not a regular file, plus a copy of nothing else: a FIFO (opening it
 * for reading blocks until a writer comes), a socket, links to two
 * device nodes, a directory and a link to the FIFO. */
typedef struct odd_dir {
  char dir[64];
  char fifo[128], sock[128], null_link[128], zero_link[128], subdir[128],
      fifo_link[128];
} odd_dir_t;

static void odd_dir_make(odd_dir_t* d) {
  snprintf(d->dir, sizeof(d->dir), "/tmp/xhal-odd-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(d->dir));
  snprintf(d->fifo, sizeof(d->fifo), "%s/libxhal_fifo.so", d->dir);
  snprintf(d->sock, sizeof(d->sock), "%s/libxhal_sock.so", d->dir);
  snprintf(d->null_link, sizeof(d->null_link), "%s/libxhal_null.so", d->dir);
  snprintf(d->zero_link, sizeof(d->zero_link), "%s/libxhal_zero.so", d->dir);
  snprintf(d->subdir, sizeof(d->subdir), "%s/libxhal_dir.so", d->dir);
  snprintf(d->fifo_link, sizeof(d->fifo_link), "%s/libxhal_fifolink.so",
           d->dir);
  ck_assert_int_eq(mkfifo(d->fifo, 0600), 0);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  ck_assert_int_ge(s, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  ck_assert_uint_lt(strlen(d->sock), sizeof(addr.sun_path));
  memcpy(addr.sun_path, d->sock, strlen(d->sock) + 1);
  ck_assert_int_eq(bind(s, (struct sockaddr*)&addr, sizeof(addr)), 0);
  close(s);
  ck_assert_int_eq(symlink("/dev/null", d->null_link), 0);
  ck_assert_int_eq(symlink("/dev/zero", d->zero_link), 0);
  ck_assert_int_eq(mkdir(d->subdir, 0700), 0);
  ck_assert_int_eq(symlink(d->fifo, d->fifo_link), 0);
}

static void odd_dir_remove(const odd_dir_t* d) {
  unlink(d->fifo);
  unlink(d->sock);
  unlink(d->null_link);
  unlink(d->zero_link);
  rmdir(d->subdir);
  unlink(d->fifo_link);
  rmdir(d->dir);
}

/* The record for `path` is rejected as not a regular file, naming `kind`. */
static void check_not_regular(xhal_instance_t instance, const char* path,
                              const char* kind) {
  xhal_plugin_info_t info = find_plugin(instance, path);
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_int_eq(info.status, XHAL_ERROR_PLUGIN_LOAD);
  ck_assert_msg(
      strstr(info.reason, "not a regular file") && strstr(info.reason, kind),
      "%s: reason '%s' lacks 'not a regular file' or '%s'", path, info.reason,
      kind);
}

/* Checks every odd file of `d`, named explicitly, got its record, and the
 * CPU plugin named after them loaded and works. */
static void check_odd_records(xhal_instance_t instance, const odd_dir_t* d) {
  check_not_regular(instance, d->fifo, "FIFO");
  check_not_regular(instance, d->sock, "socket");
  check_not_regular(instance, d->null_link, "character device");
  check_not_regular(instance, d->zero_link, "character device");
  check_not_regular(instance, "/dev/zero", "character device");
  check_not_regular(instance, d->subdir, "directory");
  check_not_regular(instance, d->fifo_link, "FIFO");
  ck_assert_uint_eq(find_plugin(instance, "/libxhal_cpu.so").state,
                    XHAL_PLUGIN_STATE_LOADED);
  uint32_t devices = 0;
  ck_assert_int_eq(xhal_instance_device_count(instance, &devices), XHAL_OK);
  ck_assert_uint_eq(devices, 1);
}

/* Regression: a FIFO named like a plugin in a plugin directory blocked
 * xhal_instance_create forever (the loader opened it for reading). A
 * directory scan skips every entry that is not a regular file. */
START_TEST(test_odd_files_in_plugin_dir_skipped) {
  odd_dir_t d;
  odd_dir_make(&d);
  char cpu_link[128];
  snprintf(cpu_link, sizeof(cpu_link), "%s/libxhal_cpu.so", d.dir);
  ck_assert_int_eq(symlink(XHAL_CPU_PLUGIN_PATH, cpu_link), 0);
  const char* dirs[] = {d.dir};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.search_dirs = dirs;
  options.search_dir_count = 1;
  options.ignore_environment = 1;
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1); /* only the regular file was a candidate */
  ck_assert_uint_eq(find_plugin(instance, "/libxhal_cpu.so").state,
                    XHAL_PLUGIN_STATE_LOADED);
  xhal_instance_release(instance);
  /* The same directory through XHAL_PLUGIN_PATH, with a FIFO as one of
   * the directories. */
  unsetenv("XHAL_PLUGINS");
  char list[512];
  snprintf(list, sizeof(list), "%s:%s", d.fifo, d.dir);
  setenv("XHAL_PLUGIN_PATH", list, 1);
  ck_assert_int_eq(xhal_instance_create(NULL, &instance), XHAL_OK);
  ck_assert_uint_eq(find_plugin(instance, "/libxhal_cpu.so").state,
                    XHAL_PLUGIN_STATE_LOADED);
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  for (uint32_t i = 0; i < count; ++i) {
    xhal_plugin_info_t info;
    ck_assert_int_eq(xhal_instance_plugin_info(instance, i, &info), XHAL_OK);
    ck_assert_msg(strncmp(info.path, d.dir, strlen(d.dir)) != 0 ||
                      strcmp(info.path, cpu_link) == 0,
                  "scan recorded %s", info.path);
  }
  xhal_instance_release(instance);
  unsetenv("XHAL_PLUGIN_PATH");
  unlink(cpu_link);
  odd_dir_remove(&d);
}
END_TEST

/* Regression: a FIFO named in XHAL_PLUGINS blocked xhal_instance_create
 * forever. A non-regular file named explicitly gets a rejected record. */
START_TEST(test_odd_files_in_env_plugins_rejected) {
  odd_dir_t d;
  odd_dir_make(&d);
  char list[1024];
  snprintf(list, sizeof(list), "%s:%s:%s:%s:/dev/zero:%s:%s:%s", d.fifo, d.sock,
           d.null_link, d.zero_link, d.subdir, d.fifo_link,
           XHAL_CPU_PLUGIN_PATH);
  setenv("XHAL_PLUGINS", list, 1);
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(NULL, &instance), XHAL_OK);
  check_odd_records(instance, &d);
  xhal_instance_release(instance);
  unsetenv("XHAL_PLUGINS");
  odd_dir_remove(&d);
}
END_TEST

/* The same files through options.plugin_paths. */
START_TEST(test_odd_files_in_plugin_paths_rejected) {
  odd_dir_t d;
  odd_dir_make(&d);
  const char* paths[] = {
      d.fifo,      d.sock,   d.null_link, d.zero_link,
      "/dev/zero", d.subdir, d.fifo_link, XHAL_CPU_PLUGIN_PATH};
  xhal_instance_t instance = test_instance_on(paths, 8);
  check_odd_records(instance, &d);
  xhal_instance_release(instance);
  odd_dir_remove(&d);
}
END_TEST

/* ------------------------------------------------ instance references */

/* Regression: one release too many of an instance its objects still held
 * dropped one of their holds: the instance was destroyed under a live
 * buffer and the next use of the device crashed. It is refused. */
START_TEST(test_instance_overrelease_refused) {
  xhal_device_t device;
  xhal_instance_t instance = test_cpu_instance(&device);
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  xhal_instance_release(instance); /* the program's reference */
  xhal_instance_release(instance); /* one too many */
  ck_assert_msg(strstr(xhal_last_error(), "XHAL_ERROR_INVALID_HANDLE") &&
                    strstr(xhal_last_error(), "released more often"),
                "last error '%s'", xhal_last_error());
  /* The buffer's hold kept the instance, its plugin and device alive. */
  xhal_stream_t stream;
  ck_assert_int_eq(xhal_stream_create(device, &stream), XHAL_OK);
  uint8_t in[64], out[64] = {0};
  for (int i = 0; i < 64; ++i) in[i] = (uint8_t)(i * 7 + 1);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 0, in, 64),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(stream, buffer, 0, out, 64),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  ck_assert_mem_eq(in, out, 64);
  xhal_stream_release(stream);
  xhal_buffer_release(buffer); /* the last hold: the instance goes */
  xhal_instance_release(instance);
  ck_assert_str_eq(xhal_last_error(),
                   "XHAL_ERROR_INVALID_HANDLE: instance was already released");
}
END_TEST

/* Regression: releasing a destroyed instance read freed memory. Its
 * memory is parked poisoned, so the handle is answered as released, with
 * and without the validation layer; retain and queries too. */
START_TEST(test_instance_double_release_refused) {
  for (int validate = 0; validate < 2; ++validate) {
    xhal_instance_options_t options;
    xhal_instance_options_default(&options);
    options.ignore_environment = 1;
    options.validation = (uint32_t)validate;
    xhal_instance_t instance;
    ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
    xhal_instance_release(instance);
    xhal_instance_release(instance);
    ck_assert_str_eq(
        xhal_last_error(),
        "XHAL_ERROR_INVALID_HANDLE: instance was already released");
    xhal_instance_retain(instance);
    ck_assert_str_eq(
        xhal_last_error(),
        "XHAL_ERROR_INVALID_HANDLE: instance was already released");
    uint32_t count;
    ck_assert_status_msg(xhal_instance_plugin_count(instance, &count),
                         XHAL_ERROR_INVALID_HANDLE, "already released");
  }
  /* Instances made afterwards work, retains balance releases. */
  xhal_device_t device;
  xhal_instance_t instance = test_cpu_instance(&device);
  xhal_instance_retain(instance);
  xhal_instance_release(instance);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_device_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  xhal_instance_release(instance);
}
END_TEST

/* Instances made and destroyed from several threads at once share the
 * process-wide list of parked instance memory; each thread's instances
 * keep working and their references balance. */
static void* instance_churn(void* arg) {
  (void)arg;
  for (int i = 0; i < 200; ++i) {
    xhal_instance_options_t options;
    xhal_instance_options_default(&options);
    options.ignore_environment = 1;
    options.validation = (uint32_t)(i % 5 == 0);
    xhal_instance_t instance;
    if (xhal_instance_create(&options, &instance) != XHAL_OK) return arg;
    xhal_instance_retain(instance);
    xhal_instance_release(instance);
    uint32_t count = 1;
    if (xhal_instance_plugin_count(instance, &count) != XHAL_OK || count)
      return instance;
    xhal_instance_release(instance);
  }
  return NULL;
}

START_TEST(test_instances_churn_across_threads) {
  pthread_t threads[4];
  for (int i = 0; i < 4; ++i) {
    ck_assert_int_eq(pthread_create(&threads[i], NULL, instance_churn, NULL),
                     0);
  }
  for (int i = 0; i < 4; ++i) {
    void* result = (void*)1;
    ck_assert_int_eq(pthread_join(threads[i], &result), 0);
    ck_assert_ptr_null(result);
  }
}
END_TEST

/* ------------------------------------------------ options contract */

/* options.plugin_paths, when non-empty, are the only plugins considered:
 * neither XHAL_PLUGIN_PATH nor the default directories are searched,
 * without ignore_environment (whose absence keeps XHAL_VALIDATION). */
START_TEST(test_plugin_paths_are_the_only_plugins) {
  unsetenv("XHAL_PLUGINS");
  setenv("XHAL_PLUGIN_PATH", XHAL_BROKEN_PLUGIN_DIR, 1);
  setenv("XHAL_VALIDATION", "1", 1);
  const char* paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  ck_assert_uint_eq(find_plugin(instance, "/libxhal_cpu.so").state,
                    XHAL_PLUGIN_STATE_LOADED);
  /* XHAL_VALIDATION still applies. */
  xhal_device_t device;
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_buffer_release(buffer);
  ck_assert_ptr_nonnull(strstr(xhal_last_error(), "XHAL_ERROR_VALIDATION"));
  xhal_instance_release(instance);
  /* XHAL_PLUGINS, the user's explicit list, replaces the program's. */
  setenv("XHAL_PLUGINS", BROKEN("wrong_major"), 1);
  unsetenv("XHAL_VALIDATION");
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  ck_assert_uint_eq(find_plugin(instance, "_wrong_major.so").state,
                    XHAL_PLUGIN_STATE_REJECTED);
  xhal_instance_release(instance);
  unsetenv("XHAL_PLUGINS");
  unsetenv("XHAL_PLUGIN_PATH");
}
END_TEST

/* search_dirs are searched first, then XHAL_PLUGIN_PATH, then the default
 * directories (framework-guide.md, "Discovery order"). */
START_TEST(test_search_dirs_before_env_and_defaults) {
  unsetenv("XHAL_PLUGINS");
  setenv("XHAL_PLUGIN_PATH", XHAL_BROKEN_PLUGIN_DIR, 1);
  char base[] = "/tmp/xhal-sd-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(base));
  char dir[128], path[256];
  snprintf(dir, sizeof(dir), "%s/plugins", base);
  copy_plugin_to(dir, 0755, path, sizeof(path));
  const char* dirs[] = {dir};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.search_dirs = dirs;
  options.search_dir_count = 1;
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  xhal_plugin_info_t first;
  ck_assert_int_eq(xhal_instance_plugin_info(instance, 0, &first), XHAL_OK);
  ck_assert_str_eq(first.path, path); /* the search dir's copy won */
  ck_assert_uint_eq(first.state, XHAL_PLUGIN_STATE_LOADED);
  xhal_plugin_info_t second;
  ck_assert_int_eq(xhal_instance_plugin_info(instance, 1, &second), XHAL_OK);
  ck_assert_msg(strncmp(second.path, XHAL_BROKEN_PLUGIN_DIR,
                        strlen(XHAL_BROKEN_PLUGIN_DIR)) == 0,
                "second record %s is not from XHAL_PLUGIN_PATH", second.path);
  /* The build tree's own cpu plugin came later, a rejected duplicate. */
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  int build_cpu = 0;
  for (uint32_t i = 0; i < count; ++i) {
    xhal_plugin_info_t info;
    ck_assert_int_eq(xhal_instance_plugin_info(instance, i, &info), XHAL_OK);
    if (strcmp(info.path, XHAL_CPU_PLUGIN_PATH) == 0) {
      build_cpu = 1;
      ck_assert_ptr_nonnull(strstr(info.reason, "duplicate of plugin 'cpu'"));
    }
  }
  ck_assert_msg(build_cpu, "the default directory was not searched");
  xhal_instance_release(instance);
  unsetenv("XHAL_PLUGIN_PATH");
  unlink(path);
  rmdir(dir);
  rmdir(base);
}
END_TEST

START_TEST(test_options_bad_entries_refused) {
  xhal_instance_options_t options;
  xhal_instance_t instance = (xhal_instance_t)0x1;
  const char* with_null[] = {XHAL_CPU_PLUGIN_PATH, NULL};
  xhal_instance_options_default(&options);
  options.plugin_paths = with_null;
  options.plugin_path_count = 2;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT,
                       "options->plugin_paths[1] is NULL");
  ck_assert_ptr_null(instance);
  const char* with_empty[] = {""};
  options.plugin_paths = with_empty;
  options.plugin_path_count = 1;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT,
                       "options->plugin_paths[0] is empty");
  xhal_instance_options_default(&options);
  options.search_dirs = with_null;
  options.search_dir_count = 2;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT,
                       "options->search_dirs[1] is NULL");
  const char* paths[] = {XHAL_CPU_PLUGIN_PATH};
  const char* dirs[] = {XHAL_BROKEN_PLUGIN_DIR};
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.search_dirs = dirs;
  options.search_dir_count = 1;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT,
                       "both plugin_paths (1) and search_dirs (1)");
}
END_TEST

/* Regression: ignore_environment dropped XHAL_VALIDATION and the other
 * variables without a word. It still ignores them, and says so. */
START_TEST(test_ignore_environment_says_what_it_ignores) {
  static const char* const vars[] = {
      "XHAL_PLUGINS",    "XHAL_PLUGIN_PATH", "XHAL_LOG",
      "XHAL_VALIDATION", "XHAL_TRACE",       "XHAL_ALLOW_INSECURE_PLUGINS"};
  setenv("XHAL_PLUGINS", XHAL_CPU_PLUGIN_PATH, 1);
  setenv("XHAL_PLUGIN_PATH", XHAL_BROKEN_PLUGIN_DIR, 1);
  setenv("XHAL_LOG", "debug", 1);
  setenv("XHAL_VALIDATION", "1", 1);
  setenv("XHAL_TRACE", "/nonexistent-dir/t.json", 1);
  setenv("XHAL_ALLOW_INSECURE_PLUGINS", "1", 1);
  char log[64];
  int saved = test_stderr_begin(log, sizeof(log));
  xhal_instance_t instance = test_instance_on(NULL, 0);
  char* text = test_stderr_end(saved, log);
  uint32_t count = 1;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 0);
  xhal_instance_release(instance);
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); ++i) {
    char want[128];
    snprintf(want, sizeof(want),
             "xhal [warn] %s is set but ignored: the program set "
             "options.ignore_environment",
             vars[i]);
    ck_assert_msg(strstr(text, want), "stderr lacks '%s': '%s'", want, text);
    unsetenv(vars[i]);
  }
  free(text);
}
END_TEST

/* ------------------------------------------------ environment values */

/* Runs xhal_instance_create(NULL) and returns its stderr; the instance
 * goes to *out (or is released when out is NULL). */
static char* create_default(xhal_instance_t* out) {
  char log[64];
  int saved = test_stderr_begin(log, sizeof(log));
  xhal_instance_t instance = NULL;
  xhal_status_t status = xhal_instance_create(NULL, &instance);
  char* text = test_stderr_end(saved, log);
  ck_assert_msg(status == XHAL_OK, "create: %s", xhal_last_error());
  if (out) {
    *out = instance;
  } else {
    xhal_instance_release(instance);
  }
  return text;
}

static int has_loaded_cpu(xhal_instance_t instance) {
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  for (uint32_t i = 0; i < count; ++i) {
    xhal_plugin_info_t info;
    ck_assert_int_eq(xhal_instance_plugin_info(instance, i, &info), XHAL_OK);
    if (info.state == XHAL_PLUGIN_STATE_LOADED && strcmp(info.name, "cpu") == 0)
      return 1;
  }
  return 0;
}

/* XHAL_PLUGINS="" and XHAL_PLUGINS=":::" both mean unset (discovery
 * runs); the second says so, as it is likely a mistake. Before, ":::"
 * silently meant "no plugins". */
START_TEST(test_env_plugins_empty_means_unset) {
  unsetenv("XHAL_PLUGIN_PATH");
  unsetenv("XHAL_LOG");
  setenv("XHAL_PLUGINS", "", 1);
  xhal_instance_t instance;
  char* text = create_default(&instance);
  ck_assert_msg(has_loaded_cpu(instance), "XHAL_PLUGINS='' stopped discovery");
  ck_assert_msg(strstr(text, "[warn]") == NULL, "stderr: '%s'", text);
  xhal_instance_release(instance);
  free(text);
  setenv("XHAL_PLUGINS", ":::", 1);
  text = create_default(&instance);
  ck_assert_msg(has_loaded_cpu(instance),
                "XHAL_PLUGINS=':::' stopped discovery");
  ck_assert_msg(strstr(text,
                       "xhal [warn] XHAL_PLUGINS=':::' holds no entry, "
                       "only separators: treated as unset"),
                "stderr: '%s'", text);
  xhal_instance_release(instance);
  free(text);
  /* Empty entries between others are skipped without a record. */
  setenv("XHAL_PLUGINS", "::" XHAL_CPU_PLUGIN_PATH "::", 1);
  text = create_default(&instance);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  xhal_instance_release(instance);
  free(text);
  unsetenv("XHAL_PLUGINS");
}
END_TEST

/* Regression: an XHAL_PLUGINS entry of 4096 bytes or more was dropped
 * without a record. */
START_TEST(test_env_plugins_long_entry_recorded) {
  size_t len = 5000;
  char* list = malloc(len + 64 + sizeof(XHAL_CPU_PLUGIN_PATH));
  ck_assert_ptr_nonnull(list);
  list[0] = '/';
  memset(list + 1, 'a', len - 4);
  memcpy(list + len - 3, ".so", 3);
  snprintf(list + len, 64 + sizeof(XHAL_CPU_PLUGIN_PATH), ":%s",
           XHAL_CPU_PLUGIN_PATH);
  setenv("XHAL_PLUGINS", list, 1);
  xhal_instance_t instance;
  free(create_default(&instance));
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 2);
  xhal_plugin_info_t info;
  ck_assert_int_eq(xhal_instance_plugin_info(instance, 0, &info), XHAL_OK);
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_int_eq(info.status, XHAL_ERROR_PLUGIN_LOAD);
  ck_assert_str_eq(info.reason,
                   "path of 5000 bytes is longer than the limit of 4095 bytes");
  ck_assert_uint_eq(strlen(info.path), sizeof(info.path) - 1);
  ck_assert_int_eq(strncmp(info.path, list, sizeof(info.path) - 1), 0);
  ck_assert_uint_eq(find_plugin(instance, "/libxhal_cpu.so").state,
                    XHAL_PLUGIN_STATE_LOADED);
  xhal_instance_release(instance);
  unsetenv("XHAL_PLUGINS");
  free(list);
}
END_TEST

/* Regression: XHAL_PLUGINS of many entries took time quadratic in their
 * number (100 000 entries: far past this case's 10 s timeout). At most
 * 256 entries are considered; the first one past the bound gets a record
 * that counts the rest. */
START_TEST(test_env_plugins_entry_bound) {
  size_t entries = 100000;
  char* list = malloc(entries * 32);
  ck_assert_ptr_nonnull(list);
  size_t used = 0;
  for (size_t i = 0; i < entries; ++i) {
    used += (size_t)snprintf(list + used, 32, "%s/nonexistent-xhal/%zu.so",
                             i ? ":" : "", i);
  }
  setenv("XHAL_PLUGINS", list, 1);
  xhal_instance_t instance;
  free(create_default(&instance));
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 257);
  xhal_plugin_info_t info;
  ck_assert_int_eq(xhal_instance_plugin_info(instance, 255, &info), XHAL_OK);
  ck_assert_str_eq(info.path, "/nonexistent-xhal/255.so");
  ck_assert_int_eq(xhal_instance_plugin_info(instance, 256, &info), XHAL_OK);
  ck_assert_str_eq(info.path, "/nonexistent-xhal/256.so");
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_str_eq(info.reason,
                   "XHAL_PLUGINS names more than 256 files: this entry and "
                   "the 99743 after it are ignored");
  xhal_instance_release(instance);
  unsetenv("XHAL_PLUGINS");
  free(list);
}
END_TEST

/* XHAL_PLUGIN_PATH past its bounds (64 directories, 4095 bytes each) and
 * of only separators: each is named in a warning. */
START_TEST(test_env_plugin_path_bounds_warn) {
  unsetenv("XHAL_PLUGINS");
  unsetenv("XHAL_LOG");
  char* list = malloc(70 * 32 + 5000);
  ck_assert_ptr_nonnull(list);
  size_t used = 0;
  list[0] = '/';
  memset(list + 1, 'd', 4999);
  list[5000] = ':';
  used = 5001;
  for (int i = 0; i < 70; ++i) {
    used += (size_t)snprintf(list + used, 32, "%s/nonexistent-xhal/d%d",
                             i ? ":" : "", i);
  }
  setenv("XHAL_PLUGIN_PATH", list, 1);
  char* text = create_default(NULL);
  ck_assert_msg(strstr(text,
                       "of 5000 bytes is longer than the limit of 4095 "
                       "bytes: ignored"),
                "stderr: '%.2000s'", text);
  ck_assert_msg(strstr(text,
                       "XHAL_PLUGIN_PATH names more than 64 "
                       "directories: '/nonexistent-xhal/d63' and the 6 "
                       "after it are ignored"),
                "stderr: '%.2000s'", text);
  free(text);
  setenv("XHAL_PLUGIN_PATH", "::", 1);
  text = create_default(NULL);
  ck_assert_msg(strstr(text, "XHAL_PLUGIN_PATH='::' holds no entry"),
                "stderr: '%s'", text);
  free(text);
  unsetenv("XHAL_PLUGIN_PATH");
  free(list);
}
END_TEST

/* Regression: XHAL_LOG=garbage was ignored without a word. Values other
 * than error/warn/info/debug (any case) are named in a warning; so are
 * XHAL_VALIDATION and XHAL_ALLOW_INSECURE_PLUGINS values other than 0/1. */
START_TEST(test_env_bad_values_warn) {
  setenv("XHAL_PLUGINS", XHAL_CPU_PLUGIN_PATH, 1);
  setenv("XHAL_LOG", "garbage", 1);
  char* text = create_default(NULL);
  ck_assert_msg(strstr(text,
                       "xhal [warn] XHAL_LOG='garbage' is not error, "
                       "warn, info or debug: the log level stays warn"),
                "stderr: '%s'", text);
  free(text);
  setenv("XHAL_LOG", "DEBUG", 1);
  text = create_default(NULL);
  ck_assert_msg(strstr(text, "xhal [debug] considering plugin"),
                "XHAL_LOG=DEBUG: '%s'", text);
  free(text);
  unsetenv("XHAL_LOG");
  setenv("XHAL_VALIDATION", "yes", 1);
  setenv("XHAL_ALLOW_INSECURE_PLUGINS", "true", 1);
  xhal_instance_t instance;
  text = create_default(&instance);
  ck_assert_msg(strstr(text,
                       "xhal [warn] XHAL_VALIDATION='yes' is not 0 or "
                       "1: the validation layer stays off"),
                "stderr: '%s'", text);
  ck_assert_msg(strstr(text,
                       "xhal [warn] XHAL_ALLOW_INSECURE_PLUGINS='true' "
                       "is not 0 or 1"),
                "stderr: '%s'", text);
  /* ...and the layer is indeed off: a double release is a plain error. */
  xhal_device_t device;
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_buffer_release(buffer);
  ck_assert_str_eq(xhal_last_error(),
                   "XHAL_ERROR_INVALID_HANDLE: buffer was already released");
  xhal_instance_release(instance);
  free(text);
  setenv("XHAL_VALIDATION", "0", 1);
  setenv("XHAL_ALLOW_INSECURE_PLUGINS", "0", 1);
  text = create_default(NULL);
  ck_assert_msg(strstr(text, "[warn]") == NULL, "stderr: '%s'", text);
  free(text);
  unsetenv("XHAL_VALIDATION");
  unsetenv("XHAL_ALLOW_INSECURE_PLUGINS");
  unsetenv("XHAL_PLUGINS");
}
END_TEST

int main(void) {
  Suite* s = suite_create("loader");
  TCase* tc = tcase_create("loader");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_missing_symbol);
  tcase_add_test(tc, test_query_refuses_abi);
  tcase_add_test(tc, test_wrong_major);
  tcase_add_test(tc, test_short_table);
  tcase_add_test(tc, test_null_required_entry);
  tcase_add_test(tc, test_init_fails);
  tcase_add_test(tc, test_not_a_library);
  tcase_add_test(tc, test_missing_file);
  tcase_add_test(tc, test_relative_path_refused);
  tcase_add_test(tc, test_duplicate_name_rejected);
  tcase_add_test(tc, test_world_writable_dir_rejected);
  tcase_add_test(tc, test_world_writable_file_rejected);
  tcase_add_test(tc, test_env_plugins_replaces_discovery);
  tcase_add_test(tc, test_env_plugin_path_searched);
  tcase_add_test(tc, test_ignore_environment);
  tcase_add_test(tc, test_instance_bad_arguments);
  tcase_add_test(tc, test_debug_log_prints_discovery);
  tcase_add_test(tc, test_instance_overrelease_refused);
  tcase_add_test(tc, test_instance_double_release_refused);
  tcase_add_test(tc, test_instances_churn_across_threads);
  tcase_add_test(tc, test_plugin_paths_are_the_only_plugins);
  tcase_add_test(tc, test_search_dirs_before_env_and_defaults);
  tcase_add_test(tc, test_options_bad_entries_refused);
  tcase_add_test(tc, test_ignore_environment_says_what_it_ignores);
  tcase_add_test(tc, test_env_plugins_empty_means_unset);
  tcase_add_test(tc, test_env_plugins_long_entry_recorded);
  tcase_add_test(tc, test_env_plugin_path_bounds_warn);
  tcase_add_test(tc, test_env_bad_values_warn);
  suite_add_tcase(s, tc);
  /* Cases that hung before their fix: a short timeout fails them fast. */
  TCase* hang = tcase_create("no_hang");
  tcase_set_timeout(hang, 10);
  tcase_add_test(hang, test_odd_files_in_plugin_dir_skipped);
  tcase_add_test(hang, test_odd_files_in_env_plugins_rejected);
  tcase_add_test(hang, test_odd_files_in_plugin_paths_rejected);
  tcase_add_test(hang, test_env_plugins_entry_bound);
  suite_add_tcase(s, hang);
  SRunner* sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
