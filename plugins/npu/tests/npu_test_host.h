/*
 * npu_test_host.h - a minimal host for driving libxhal_npu.so through its
 * dispatch table in tests: loads the plugin, provides host services,
 * keeps the operator implementations it registers, and writes per-test
 * config files (fault injection goes through XHAL_NPU_CONFIG, as a
 * framework's would).
 */
#ifndef NPU_TEST_HOST_H_
#define NPU_TEST_HOST_H_

#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal_plugin.h>

#define TH_MAX_IMPLS 128

typedef struct test_host {
  void* so;
  const xhal_plugin_dispatch_t* d;
  xhal_host_services_t services;
  xhal_plugin_context_t ctx;
  xhal_plugin_device_t dev;
  xhal_plugin_op_impl_t impls[TH_MAX_IMPLS];
  int num_impls;
  int lost_reports;
  char last_error[512];
} test_host_t;

static test_host_t g_host;

static void th_log(void* hc, xhal_log_level_t level, const char* msg) {
  (void)hc;
  if (getenv("NPU_TEST_VERBOSE") || level == XHAL_LOG_ERROR) {
    fprintf(stderr, "[npu %u] %s\n", level, msg);
  }
}
static void* th_alloc(void* hc, uint64_t size, uint64_t align) {
  (void)hc;
  return aligned_alloc((size_t)align,
                       (size_t)((size + align - 1) / align * align));
}
static void th_free(void* hc, void* p) {
  (void)hc;
  free(p);
}
static xhal_status_t th_register(void* hc, const xhal_plugin_op_impl_t* impl) {
  test_host_t* h = hc;
  if (h->num_impls == TH_MAX_IMPLS) return XHAL_ERROR_OUT_OF_MEMORY;
  h->impls[h->num_impls++] = *impl;
  return XHAL_OK;
}
static void th_lost(void* hc, uint32_t index, const char* reason) {
  test_host_t* h = hc;
  (void)index;
  (void)reason;
  h->lost_reports++;
}
static void th_set_error(void* hc, xhal_status_t st, const char* msg) {
  test_host_t* h = hc;
  (void)st;
  snprintf(h->last_error, sizeof(h->last_error), "%s", msg);
}

/* Writes `text` as this test's config and points XHAL_NPU_CONFIG at it
 * (each Check test runs in its own forked process). */
static void th_config(const char* name, const char* text) {
  const char* dir = getenv("NPU_TEST_CONFIG_DIR");
  char path[1024];
  FILE* f;
  snprintf(path, sizeof(path), "%s/%s.cfg", dir ? dir : "/tmp", name);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  setenv("XHAL_NPU_CONFIG", path, 1);
}

static void th_open(void) {
  const char* path = getenv("NPU_PLUGIN_PATH");
  xhal_plugin_query_fn q;
  memset(&g_host, 0, sizeof(g_host));
  ck_assert_ptr_nonnull(path);
  g_host.so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(g_host.so != NULL, "dlopen: %s", dlerror());
  *(void**)&q = dlsym(g_host.so, XHAL_PLUGIN_QUERY_SYMBOL);
  ck_assert_ptr_nonnull(q);
  ck_assert_int_eq(q(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &g_host.d),
                   XHAL_OK);
  g_host.services.struct_size = (uint32_t)sizeof(g_host.services);
  g_host.services.abi_minor = XHAL_ABI_VERSION_MINOR;
  g_host.services.host_context = &g_host;
  g_host.services.log = th_log;
  g_host.services.alloc_aligned = th_alloc;
  g_host.services.free_aligned = th_free;
  g_host.services.register_op_impl = th_register;
  g_host.services.report_device_lost = th_lost;
  g_host.services.set_error = th_set_error;
  ck_assert_int_eq(g_host.d->init(&g_host.services, &g_host.ctx), XHAL_OK);
  ck_assert_int_eq(g_host.d->device_open(g_host.ctx, 0, &g_host.dev), XHAL_OK);
}

static void th_close(void) {
  if (g_host.dev) g_host.d->device_close(g_host.dev);
  if (g_host.ctx) g_host.d->shutdown(g_host.ctx);
  if (g_host.so) dlclose(g_host.so);
  memset(&g_host, 0, sizeof(g_host));
}

/* The registered implementation for `call` (dtype signature + supports),
 * or NULL. */
static const xhal_plugin_op_impl_t* th_find(const xhal_plugin_op_call_t* c) {
  int i;
  for (i = 0; i < g_host.num_impls; ++i) {
    const xhal_plugin_op_impl_t* im = &g_host.impls[i];
    uint32_t k, ok = im->op == c->op;
    for (k = 0; ok && k < c->num_inputs; ++k) {
      ok = im->dtypes[k] == c->inputs[k].desc.dtype;
    }
    if (ok) {
      /* The output dtype is the signature's last entry. */
      ok = im->dtypes[im->num_dtypes - 1] == c->outputs[0].desc.dtype;
    }
    if (ok && (!im->supports ||
               im->supports(im->user_data, g_host.dev, c) == XHAL_OK)) {
      return im;
    }
  }
  return NULL;
}

#endif /* NPU_TEST_HOST_H_ */
