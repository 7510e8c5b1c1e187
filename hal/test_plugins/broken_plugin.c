/*
 * broken_plugin.c - plugins that must be rejected by the loader, one defect
 * per build (BROKEN_* define), for hal/src/loader_test.c:
 *   BROKEN_NO_SYMBOL     exports no xhal_plugin_query
 *   BROKEN_REFUSES_ABI   query answers XHAL_ERROR_ABI_MISMATCH
 *   BROKEN_WRONG_MAJOR   table claims ABI major 99
 *   BROKEN_SHORT_TABLE   table struct_size smaller than ABI 1.0's
 *   BROKEN_NULL_ENTRY    a required entry (event_query) is NULL
 *   BROKEN_INIT_FAILS    init returns XHAL_ERROR_DEVICE_LOST with a message
 *   BROKEN_BAD_SIGNATURE init registers add as (f32, i8) -> f32, which the
 *                        catalog does not have, and fails with the status
 *                        the host answered
 * Entries that a rejected plugin never reaches are stubs.
 */
#include <stddef.h>
#include <xhal/xhal_plugin.h>

static xhal_status_t stub_status(void) { return XHAL_ERROR_UNSUPPORTED; }

#ifdef BROKEN_BAD_SIGNATURE
static xhal_status_t bad_enqueue(void* user_data, xhal_plugin_stream_t stream,
                                 const xhal_plugin_op_call_t* call) {
  (void)user_data, (void)stream, (void)call;
  return XHAL_ERROR_UNSUPPORTED;
}
#endif

static xhal_status_t init(const xhal_host_services_t* host,
                          xhal_plugin_context_t* out_context) {
  *out_context = NULL;
#ifdef BROKEN_INIT_FAILS
  host->set_error(host->host_context, XHAL_ERROR_DEVICE_LOST,
                  "no device answered the probe");
  return XHAL_ERROR_DEVICE_LOST;
#elif defined(BROKEN_BAD_SIGNATURE)
  xhal_plugin_op_impl_t impl = {0};
  impl.struct_size = (uint32_t)sizeof(impl);
  impl.op = XHAL_OP_ADD;
  impl.device_index = XHAL_PLUGIN_ALL_DEVICES;
  impl.num_dtypes = 3;
  impl.dtypes[0] = XHAL_DTYPE_F32;
  impl.dtypes[1] = XHAL_DTYPE_I8;
  impl.dtypes[2] = XHAL_DTYPE_F32;
  impl.name = "broken.add.f32_i8";
  impl.enqueue = bad_enqueue;
  xhal_status_t status = host->register_op_impl(host->host_context, &impl);
  return status == XHAL_OK ? XHAL_ERROR_INTERNAL : status;
#else
  (void)host;
  return stub_status();
#endif
}
static void shutdown(xhal_plugin_context_t context) { (void)context; }
static xhal_status_t device_count(xhal_plugin_context_t c, uint32_t* n) {
  (void)c;
  *n = 0;
  return XHAL_OK;
}
static xhal_status_t device_properties(xhal_plugin_context_t c, uint32_t i,
                                       xhal_device_properties_t* p) {
  (void)c, (void)i, (void)p;
  return stub_status();
}
static xhal_status_t device_open(xhal_plugin_context_t c, uint32_t i,
                                 xhal_plugin_device_t* d) {
  (void)c, (void)i, (void)d;
  return stub_status();
}
static void device_close(xhal_plugin_device_t d) { (void)d; }
static xhal_status_t buffer_alloc(xhal_plugin_device_t d, uint64_t s,
                                  uint32_t f, xhal_plugin_buffer_t* b) {
  (void)d, (void)s, (void)f, (void)b;
  return stub_status();
}
static void buffer_free(xhal_plugin_device_t d, xhal_plugin_buffer_t b) {
  (void)d, (void)b;
}
static xhal_status_t stream_create(xhal_plugin_device_t d, uint32_t f,
                                   xhal_plugin_stream_t* s) {
  (void)d, (void)f, (void)s;
  return stub_status();
}
static void stream_destroy(xhal_plugin_stream_t s) { (void)s; }
static xhal_status_t stream_synchronize(xhal_plugin_stream_t s) {
  (void)s;
  return stub_status();
}
static xhal_status_t enqueue_write(xhal_plugin_stream_t s,
                                   xhal_plugin_buffer_t b, uint64_t o,
                                   const void* p, uint64_t n) {
  (void)s, (void)b, (void)o, (void)p, (void)n;
  return stub_status();
}
static xhal_status_t enqueue_read(xhal_plugin_stream_t s,
                                  xhal_plugin_buffer_t b, uint64_t o, void* p,
                                  uint64_t n) {
  (void)s, (void)b, (void)o, (void)p, (void)n;
  return stub_status();
}
static xhal_status_t enqueue_copy(xhal_plugin_stream_t s,
                                  xhal_plugin_buffer_t a, uint64_t ao,
                                  xhal_plugin_buffer_t b, uint64_t bo,
                                  uint64_t n) {
  (void)s, (void)a, (void)ao, (void)b, (void)bo, (void)n;
  return stub_status();
}
static xhal_status_t enqueue_fill(xhal_plugin_stream_t s,
                                  xhal_plugin_buffer_t b, uint64_t o,
                                  uint64_t n, const void* p, uint32_t ps) {
  (void)s, (void)b, (void)o, (void)n, (void)p, (void)ps;
  return stub_status();
}
static xhal_status_t event_create(xhal_plugin_device_t d,
                                  xhal_plugin_event_t* e) {
  (void)d, (void)e;
  return stub_status();
}
static void event_destroy(xhal_plugin_event_t e) { (void)e; }
static xhal_status_t event_record(xhal_plugin_event_t e,
                                  xhal_plugin_stream_t s) {
  (void)e, (void)s;
  return stub_status();
}
static xhal_status_t event_wait(xhal_plugin_event_t e, uint64_t t) {
  (void)e, (void)t;
  return stub_status();
}
#ifndef BROKEN_NULL_ENTRY
static xhal_status_t event_query(xhal_plugin_event_t e) {
  (void)e;
  return stub_status();
}
#endif

static const xhal_plugin_dispatch_t kTable = {
#ifdef BROKEN_SHORT_TABLE
    .struct_size = 64,
#else
    .struct_size = sizeof(xhal_plugin_dispatch_t),
#endif
#ifdef BROKEN_WRONG_MAJOR
    .abi_major = 99,
#else
    .abi_major = XHAL_ABI_VERSION_MAJOR,
#endif
    .abi_minor = XHAL_ABI_VERSION_MINOR,
    .name = BROKEN_NAME,
    .version = "0",
    .init = init,
    .shutdown = shutdown,
    .device_count = device_count,
    .device_properties = device_properties,
    .device_open = device_open,
    .device_close = device_close,
    .buffer_alloc = buffer_alloc,
    .buffer_free = buffer_free,
    .stream_create = stream_create,
    .stream_destroy = stream_destroy,
    .stream_synchronize = stream_synchronize,
    .enqueue_write = enqueue_write,
    .enqueue_read = enqueue_read,
    .enqueue_copy = enqueue_copy,
    .enqueue_fill = enqueue_fill,
    .event_create = event_create,
    .event_destroy = event_destroy,
    .event_record = event_record,
    .event_wait = event_wait,
#ifndef BROKEN_NULL_ENTRY
    .event_query = event_query,
#endif
};

#ifdef BROKEN_NO_SYMBOL
/* Exported under the wrong name: the loader must not find an entry. */
XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query_v0(uint32_t host_major, uint32_t host_minor,
                     const xhal_plugin_dispatch_t** out_table);
XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query_v0(uint32_t host_major, uint32_t host_minor,
                     const xhal_plugin_dispatch_t** out_table) {
  (void)host_major, (void)host_minor;
  *out_table = &kTable;
  return XHAL_OK;
}
#else
XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  (void)host_minor;
#ifdef BROKEN_REFUSES_ABI
  (void)host_major;
  (void)&kTable;
  *out_table = NULL;
  return XHAL_ERROR_ABI_MISMATCH;
#else
  if (host_major != XHAL_ABI_VERSION_MAJOR) return XHAL_ERROR_ABI_MISMATCH;
  *out_table = &kTable;
  return XHAL_OK;
#endif
}
#endif
