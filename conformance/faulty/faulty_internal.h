/*
 * faulty_internal.h - the faulty plugin's objects and what its two files
 * share: commands on a stream's in-order queue, and the helpers that
 * queue them.
 */
#ifndef XHAL_FAULTY_INTERNAL_H_
#define XHAL_FAULTY_INTERNAL_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <xhal/xhal_plugin.h>

enum { kFaultyDevices = 2, kFaultyMaxMaps = 16 };

/* ------------------------------------------------------------- objects */

struct xhal_plugin_context {
  xhal_host_services_t host;
  struct xhal_plugin_device {
    struct xhal_plugin_context* ctx;
    uint32_t index;
  } devices[kFaultyDevices];
  atomic_ullong used_bytes;
};

struct xhal_plugin_buffer {
  struct xhal_plugin_context* ctx;
  atomic_uint refs;
  uint8_t* data;
  uint64_t size;
  uint32_t flags;
  pthread_mutex_t map_mu;
  void* maps[kFaultyMaxMaps];
  uint32_t map_count;
};

struct xhal_plugin_event {
  struct xhal_plugin_context* ctx;
  atomic_uint refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t record_gen; /* latest record */
  uint64_t done_gen;   /* latest completed record */
  xhal_status_t status;
  uint64_t stamp_ns;
};

typedef enum cmd_kind {
  CMD_WRITE,
  CMD_READ,
  CMD_COPY,
  CMD_FILL,
  CMD_HOST_FUNC,
  CMD_RECORD,
  CMD_WAIT,
  CMD_OP,
} cmd_kind_t;

typedef struct cmd {
  struct cmd* next;
  cmd_kind_t kind;
  struct xhal_plugin_buffer* bufs[XHAL_MAX_OP_INPUTS + 1];
  uint32_t num_bufs;
  uint8_t* dst;
  const uint8_t* src;
  uint64_t size;
  uint8_t pattern[4];
  uint32_t pattern_size;
  xhal_host_func_t fn;
  void* user_data;
  struct xhal_plugin_event* event;
  uint64_t gen;
  xhal_status_t (*op)(const xhal_plugin_op_call_t* call);
  xhal_plugin_op_call_t call;
} cmd_t;

struct xhal_plugin_stream {
  struct xhal_plugin_context* ctx;
  uint32_t device_index;
  pthread_mutex_t mu;
  pthread_cond_t work_cv;
  pthread_cond_t idle_cv;
  pthread_t worker;
  cmd_t* head;
  cmd_t* tail;
  uint64_t submitted;
  uint64_t completed;
  xhal_status_t status;
  int stop;
};

/* Sets the host's error message and returns `s`. */
xhal_status_t faulty_fail(struct xhal_plugin_context* ctx, xhal_status_t s,
                          const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A zeroed command (NULL with an error set when out of memory). */
cmd_t* faulty_cmd_new(struct xhal_plugin_stream* s, cmd_kind_t kind);
/* The command keeps `b` alive until it ran. */
void faulty_cmd_hold(cmd_t* c, struct xhal_plugin_buffer* b);
/* Appends the command to the stream's queue. */
xhal_status_t faulty_submit(struct xhal_plugin_stream* s, cmd_t* c);
/* Registers add and matmul with the host (from init). */
xhal_status_t faulty_register_ops(struct xhal_plugin_context* ctx);

#endif /* XHAL_FAULTY_INTERNAL_H_ */
