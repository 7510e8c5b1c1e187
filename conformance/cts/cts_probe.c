/*
 * cts_probe.c - what the parent learns about a plugin before planning,
 * and plugin discovery, each in a forked child so that a plugin which
 * crashes or hangs while loading cannot take the suite down.
 *
 * The child writes its findings into a shared anonymous mapping; the
 * parent reads them once the child exited or was killed at the timeout.
 */
#define _GNU_SOURCE

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cts_run.h"

/* Runs fn(arg, shared) in a child; returns 1 if the child exited by
 * itself within timeout_s. */
static int run_in_child(void (*fn)(const void*, void*), const void* arg,
                        void* shared, double timeout_s) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    fn(arg, shared);
    /* _exit: the child must not run the parent's atexit handlers or
     * flush its stdio buffers a second time. */
    _exit(0);
  }
  uint64_t waited_ms = 0;
  uint64_t limit_ms = (uint64_t)(timeout_s * 1000.0);
  for (;;) {
    int wstatus = 0;
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (r < 0) return 0;
    if (waited_ms >= limit_ms) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      return 0;
    }
    cts_sleep_ms(5);
    waited_ms += 5;
  }
}

/* ---------------------------------------------------------------- probe */

static void copy_str(char* dst, size_t size, const char* src) {
  snprintf(dst, size, "%s", src ? src : "");
}

static void probe_direct(const char* path, cts_probe_t* out) {
  cts_direct_t* direct = NULL;
  char why[512] = "";
  xhal_status_t status = cts_direct_load(path, &direct, why, sizeof(why));
  if (status != XHAL_OK) {
    copy_str(out->direct_error, sizeof(out->direct_error), why);
    return;
  }
  const xhal_plugin_dispatch_t* t = &direct->table;
  if (direct->raw->name) copy_str(out->name, sizeof(out->name), t->name);
  copy_str(out->version, sizeof(out->version), t->version);
  out->table_size = direct->raw->struct_size;
  out->abi_major = direct->raw->abi_major;
  out->abi_minor = direct->raw->abi_minor;
  out->has_map = t->buffer_map != NULL && t->buffer_unmap != NULL;
  out->has_flush = t->stream_flush != NULL;
  out->has_host_func = t->enqueue_host_func != NULL;
  out->has_elapsed = t->event_elapsed != NULL;
  out->has_wait_event = t->stream_wait_event != NULL;
  out->has_program = t->program_build != NULL && t->kernel_create != NULL &&
                     t->enqueue_kernel != NULL;
  out->null_optional = !t->buffer_map || !t->buffer_unmap || !t->stream_flush ||
                       !t->enqueue_host_func || !t->event_elapsed ||
                       !t->stream_wait_event || !t->program_build ||
                       !t->enqueue_kernel || !t->host_alloc;
  status = cts_direct_init(direct, 0, why, sizeof(why));
  if (status != XHAL_OK) {
    copy_str(out->direct_error, sizeof(out->direct_error), why);
    cts_direct_close(direct);
    return;
  }
  out->device_count = direct->device_count;
  uint32_t shown = direct->device_count < CTS_MAX_DEVICES ? direct->device_count
                                                          : CTS_MAX_DEVICES;
  for (uint32_t i = 0; i < shown; ++i) {
    xhal_device_properties_t* p = &out->props[i];
    memset(p, 0, sizeof(*p));
    p->struct_size = (uint32_t)sizeof(*p);
    if (t->device_properties(direct->context, i, p) != XHAL_OK) {
      memset(p, 0, sizeof(*p));
    }
  }
  uint32_t count = atomic_load(&direct->impl_count);
  out->impls_truncated =
      count > CTS_MAX_IMPLS || atomic_load(&direct->impls_dropped) > 0;
  if (count > CTS_MAX_IMPLS) count = CTS_MAX_IMPLS;
  for (uint32_t i = 0; i < count; ++i) {
    const xhal_plugin_op_impl_t* r = &direct->impls[i];
    cts_probe_impl_t* o = &out->impls[i];
    o->op = r->op;
    o->device_index = r->device_index;
    o->priority = r->priority;
    o->num_dtypes = r->num_dtypes;
    memcpy(o->dtypes, r->dtypes, sizeof(o->dtypes));
    o->struct_size = r->struct_size;
    o->has_supports = r->supports != NULL;
    o->has_enqueue = r->enqueue != NULL;
    /* The name pointer is the plugin's; only the probe child may read
     * it, so it is copied here. */
    copy_str(o->name, sizeof(o->name), r->name ? r->name : "(unnamed)");
  }
  out->impl_count = count;
  out->direct_ok = 1;
  /* Open each device, so that the teardown below closes each: a
   * device_close or a shutdown that hangs is found here, once, and named
   * (the tests then skip teardown instead of each hanging in it). */
  for (uint32_t i = 0; i < shown && i < CTS_DIRECT_MAX_DEVICES; ++i) {
    xhal_plugin_device_t dev = NULL;
    (void)cts_direct_device(direct, i, &dev);
  }
  cts_direct_close(direct);
}

static void probe_libxhal(const char* path, cts_probe_t* out) {
  const char* paths[1] = {path};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  options.log_level = XHAL_LOG_ERROR;
  xhal_instance_t instance = NULL;
  if (xhal_instance_create(&options, &instance) != XHAL_OK) {
    copy_str(out->libxhal_reason, sizeof(out->libxhal_reason),
             xhal_last_error());
    return;
  }
  xhal_plugin_info_t info;
  memset(&info, 0, sizeof(info));
  if (xhal_instance_plugin_info(instance, 0, &info) == XHAL_OK) {
    out->libxhal_loaded = info.state == XHAL_PLUGIN_STATE_LOADED;
    out->libxhal_devices = info.device_count;
    snprintf(out->libxhal_reason, sizeof(out->libxhal_reason), "%.400s (%s)",
             info.reason, xhal_status_name(info.status));
    if (!out->name[0]) copy_str(out->name, sizeof(out->name), info.name);
  } else {
    copy_str(out->libxhal_reason, sizeof(out->libxhal_reason),
             "libxhal did not record the plugin file");
  }
  cts_direct_note_running(
      "xhal_instance_release (libxhal closes the devices, calls shutdown)");
  xhal_instance_release(instance);
  cts_direct_note_running(NULL);
}

static void probe_child(const void* arg, void* shared) {
  const char* path = arg;
  cts_probe_t* out = shared;
  cts_direct_attach_running(out->running, sizeof(out->running));
  probe_direct(path, out);
  probe_libxhal(path, out);
  out->completed = 1;
}

void cts_probe(const char* path, double timeout_s, cts_probe_t* out) {
  memset(out, 0, sizeof(*out));
  cts_probe_t* shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    copy_str(out->direct_error, sizeof(out->direct_error),
             "cannot map memory for the probe");
    return;
  }
  memset(shared, 0, sizeof(*shared));
  int exited = run_in_child(probe_child, path, shared, timeout_s);
  memcpy(out, shared, sizeof(*out));
  munmap(shared, sizeof(*shared));
  if (!exited && cts_is_teardown_call(out->running)) {
    snprintf(out->teardown_hang, sizeof(out->teardown_hang),
             "%.200s hung in the probe", out->running);
  }
  if (!exited && !out->direct_error[0]) {
    snprintf(out->direct_error, sizeof(out->direct_error),
             "the plugin crashed or hung while loading (the probe process "
             "did not finish%s%.200s)",
             out->running[0] ? "; it was in " : "", out->running);
  }
  if (!out->name[0]) {
    const char* base = strrchr(path, '/');
    copy_str(out->name, sizeof(out->name), base ? base + 1 : path);
  }
}

/* ------------------------------------------------------------ discovery */

typedef struct discovered {
  uint32_t count;
  char paths[CTS_MAX_PLUGINS][1024];
} discovered_t;

static void discover_child(const void* arg, void* shared) {
  (void)arg;
  discovered_t* out = shared;
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.log_level = XHAL_LOG_ERROR;
  xhal_instance_t instance = NULL;
  if (xhal_instance_create(&options, &instance) != XHAL_OK) return;
  uint32_t count = 0;
  if (xhal_instance_plugin_count(instance, &count) == XHAL_OK) {
    for (uint32_t i = 0; i < count && out->count < CTS_MAX_PLUGINS; ++i) {
      xhal_plugin_info_t info;
      if (xhal_instance_plugin_info(instance, i, &info) != XHAL_OK) continue;
      copy_str(out->paths[out->count], sizeof(out->paths[0]), info.path);
      out->count++;
    }
  }
  xhal_instance_release(instance);
}

uint32_t cts_discover(char (*paths)[1024], uint32_t max_paths) {
  discovered_t* shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 0;
  memset(shared, 0, sizeof(*shared));
  run_in_child(discover_child, NULL, shared, 60.0);
  uint32_t n = 0;
  for (uint32_t i = 0; i < shared->count && n < max_paths; ++i) {
    copy_str(paths[n], sizeof(paths[0]), shared->paths[i]);
    ++n;
  }
  munmap(shared, sizeof(*shared));
  return n;
}
