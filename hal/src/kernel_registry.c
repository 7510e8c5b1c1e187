/*
 * kernel_registry.c - the kernel registry: (operator, dtype signature,
 * device) -> implementation, lookup, selection over a device preference
 * list with CPU fallback, and operator enqueue.
 *
 * Order: higher priority first; among equal priorities the most recently
 * registered wins, so a framework can override a plugin's kernel at the
 * same priority. Lookups take a read lock; registration a write lock.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi_record.h"
#include "internal.h"

_Static_assert(XHAL_OP_CALL_SIZE_1_0 <= sizeof(xhal_op_call_t),
               "operator calls only grow");
_Static_assert(XHAL_OP_IMPL_DESC_SIZE_1_0 <= sizeof(xhal_op_impl_desc_t),
               "implementation descriptions only grow");
_Static_assert(XHAL_OP_IMPL_INFO_SIZE_1_0 <= sizeof(xhal_op_impl_info_t),
               "implementation infos only grow");
#include "op_catalog.h"

void registry_init(registry_t* registry) {
  memset(registry, 0, sizeof(*registry));
  pthread_rwlock_init(&registry->lock, NULL);
}

void registry_destroy(registry_t* registry) {
  for (uint32_t i = 0; i < registry->count; ++i) {
    object_free(registry->impls[i], OBJ_OP_IMPL);
  }
  free(registry->impls);
  pthread_rwlock_destroy(&registry->lock);
  memset(registry, 0, sizeof(*registry));
}

void registry_remove_plugin(registry_t* registry, const plugin_t* plugin) {
  pthread_rwlock_wrlock(&registry->lock);
  uint32_t kept = 0;
  for (uint32_t i = 0; i < registry->count; ++i) {
    struct xhal_op_impl* impl = registry->impls[i];
    if (impl->plugin == plugin) {
      object_free(impl, OBJ_OP_IMPL);
    } else {
      registry->impls[kept++] = impl;
    }
  }
  registry->count = kept;
  pthread_rwlock_unlock(&registry->lock);
}

/* 1 if a sorts before b. */
static int ranks_before(const struct xhal_op_impl* a,
                        const struct xhal_op_impl* b) {
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->sequence > b->sequence;
}

static xhal_status_t insert(registry_t* registry, struct xhal_op_impl* impl) {
  pthread_rwlock_wrlock(&registry->lock);
  if (registry->count == registry->capacity) {
    uint32_t capacity = registry->capacity ? registry->capacity * 2u : 64u;
    struct xhal_op_impl** grown =
        realloc(registry->impls, capacity * sizeof(*grown));
    if (!grown) {
      pthread_rwlock_unlock(&registry->lock);
      return error_set(XHAL_ERROR_OUT_OF_MEMORY, "registry growth failed");
    }
    registry->impls = grown;
    registry->capacity = capacity;
  }
  impl->sequence = registry->next_sequence++;
  uint32_t at = registry->count;
  while (at > 0 && ranks_before(impl, registry->impls[at - 1])) {
    registry->impls[at] = registry->impls[at - 1];
    --at;
  }
  registry->impls[at] = impl;
  registry->count++;
  pthread_rwlock_unlock(&registry->lock);
  return XHAL_OK;
}

/* "(f32, i8) -> f32": a registration's dtypes, the last one the output. */
static void format_signature(uint32_t num_dtypes, const xhal_dtype_t* dtypes,
                             char* buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < num_dtypes && used < size; ++i) {
    int n;
    if (i + 1 == num_dtypes) {
      n = snprintf(buf + used, size - used, "%s) -> %s", i ? "" : "(",
                   op_catalog_dtype_name(dtypes[i]));
    } else {
      n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "(",
                   op_catalog_dtype_name(dtypes[i]));
    }
    if (n < 0) break;
    used += (size_t)n;
  }
}

/* The registration's op, dtype count and dtypes; for a catalog op the
 * signature must be one of the catalog's (docs/ops.md, "Signatures"),
 * checked by the same rules xhal_op_validate applies to a call. */
static xhal_status_t check_signature(xhal_op_t op, uint32_t num_dtypes,
                                     const xhal_dtype_t* dtypes) {
  if (!op_catalog_known(op) && op < XHAL_OP_CUSTOM_BASE) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "op %u is neither a catalog op nor a custom id (>= "
                     "XHAL_OP_CUSTOM_BASE)",
                     op);
  }
  if (num_dtypes < 1 || num_dtypes > XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "num_dtypes %u is not 1..%d",
                     num_dtypes, XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS);
  }
  for (uint32_t i = 0; i < num_dtypes; ++i) {
    if (dtypes[i] == XHAL_DTYPE_INVALID || dtypes[i] >= XHAL_DTYPE_COUNT) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "dtypes[%u] = %u is not a known dtype", i, dtypes[i]);
    }
  }
  char why[256];
  xhal_status_t status =
      op_catalog_check_signature(op, num_dtypes, dtypes, why, sizeof(why));
  if (status != XHAL_OK) {
    char sig[96];
    format_signature(num_dtypes, dtypes, sig, sizeof(sig));
    return error_set(status, "signature %s is not one of the catalog's: %s",
                     sig, why);
  }
  return XHAL_OK;
}

/* Which limits an operator can have: 1 if `flag` means something for
 * `op`. Rank, dims and PARTIAL apply to every operator. */
static int limit_applies(xhal_op_t op, uint32_t flag) {
  int binary = op >= XHAL_OP_ADD && op <= XHAL_OP_MIN;
  int axis = op == XHAL_OP_SOFTMAX || op == XHAL_OP_REDUCE_SUM ||
             op == XHAL_OP_REDUCE_MAX;
  switch (flag) {
    case XHAL_OP_LIMIT_BROADCASTS:
      return binary;
    case XHAL_OP_LIMIT_AXES:
      return axis;
    case XHAL_OP_LIMIT_ROW:
      return binary || axis || op == XHAL_OP_LAYER_NORM;
    default:
      return 1;
  }
}

/* Checks a declared limits record and copies it to `out` (zeroed when
 * `in` is NULL). The record must make sense for `op`: a limit that
 * cannot apply, an unknown bit or an empty class mask would tell a
 * framework something false. */
static xhal_status_t copy_limits(xhal_op_t op, const xhal_op_limits_t* in,
                                 xhal_op_limits_t* out) {
  memset(out, 0, sizeof(*out));
  if (!in) return XHAL_OK;
  if (in->struct_size < sizeof(*in)) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "limits->struct_size %u is below the ABI 1.4 size %zu",
                     in->struct_size, sizeof(*in));
  }
  if (in->flags & ~(uint32_t)XHAL_OP_LIMIT_FLAGS_ALL) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "limits->flags 0x%x has unknown bits", in->flags);
  }
  for (uint32_t bit = 1; bit && bit < XHAL_OP_LIMIT_PARTIAL; bit <<= 1) {
    if ((in->flags & bit) && !limit_applies(op, bit)) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "limits->flags: limit 0x%x does not apply to op %u", bit,
                       op);
    }
  }
  if ((in->flags & XHAL_OP_LIMIT_BROADCASTS) &&
      (in->broadcasts == 0 ||
       (in->broadcasts & ~(uint32_t)XHAL_BROADCAST_ALL))) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "limits->broadcasts 0x%x is empty or has unknown bits",
                     in->broadcasts);
  }
  if ((in->flags & XHAL_OP_LIMIT_AXES) &&
      (in->axes == 0 || (in->axes & ~(uint32_t)XHAL_AXIS_ALL))) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "limits->axes 0x%x is empty or has unknown bits",
                     in->axes);
  }
  if ((in->flags & XHAL_OP_LIMIT_RANK) && in->max_rank > XHAL_MAX_RANK) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "limits->max_rank %u is above XHAL_MAX_RANK",
                     in->max_rank);
  }
  if (in->reserved != 0) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "limits->reserved is %u, not 0", in->reserved);
  }
  *out = *in;
  out->struct_size = (uint32_t)sizeof(*out);
  /* Fields whose bit is clear mean nothing: keep them 0 for readers. */
  if (!(in->flags & XHAL_OP_LIMIT_BROADCASTS)) out->broadcasts = 0;
  if (!(in->flags & XHAL_OP_LIMIT_AXES)) out->axes = 0;
  if (!(in->flags & XHAL_OP_LIMIT_RANK)) out->max_rank = 0;
  if (!(in->flags & XHAL_OP_LIMIT_DIM)) out->max_dim = 0;
  if (!(in->flags & XHAL_OP_LIMIT_ROW)) out->max_row = 0;
  return XHAL_OK;
}

/* Refuses a plugin's registration with the message of the check that
 * failed. The log says which implementation of which plugin was refused
 * and why; the message is also the plugin's own, so a plugin that fails
 * its init with this status is rejected with it as the reason. */
static xhal_status_t refuse_plugin_impl(plugin_t* plugin, const char* name,
                                        xhal_status_t status) {
  char why[640];
  const char* msg = xhal_last_error();
  size_t skip = strlen(xhal_status_name(status)) + 2; /* "STATUS: " */
  snprintf(why, sizeof(why), "registration of '%s' refused: %s",
           name ? name : "unnamed", strlen(msg) >= skip ? msg + skip : msg);
  hal_log(plugin->instance, XHAL_LOG_WARN, "plugin '%s': %s",
          plugin->info.name, why);
  error_set_from_plugin(plugin->info.name, status, why);
  return status;
}

xhal_status_t registry_add_plugin_impl(plugin_t* plugin,
                                       const xhal_plugin_op_impl_t* desc) {
  if (!desc || desc->struct_size < XHAL_PLUGIN_OP_IMPL_SIZE_1_0 ||
      !desc->enqueue) {
    error_set_from_plugin(plugin->info.name, XHAL_ERROR_INVALID_ARGUMENT,
                          "register_op_impl: NULL record, short struct_size "
                          "or NULL enqueue");
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  xhal_status_t status =
      check_signature(desc->op, desc->num_dtypes, desc->dtypes);
  if (status != XHAL_OK) return refuse_plugin_impl(plugin, desc->name, status);
  /* A record from an older plugin ends early: the fields it lacks are
   * zero (ABI rule: past struct_size means absent). */
  xhal_plugin_op_impl_t record;
  memset(&record, 0, sizeof(record));
  memcpy(
      &record, desc,
      desc->struct_size < sizeof(record) ? desc->struct_size : sizeof(record));
  xhal_op_limits_t limits;
  status = copy_limits(record.op, record.limits, &limits);
  if (status != XHAL_OK) return refuse_plugin_impl(plugin, desc->name, status);
  record.limits = NULL;
  desc = &record;
  struct xhal_op_impl* impl = (struct xhal_op_impl*)object_new(
      plugin->instance, OBJ_OP_IMPL, sizeof(struct xhal_op_impl));
  if (!impl) return error_set(XHAL_ERROR_OUT_OF_MEMORY, "registry entry");
  impl->limits = limits;
  impl->op = desc->op;
  impl->priority = desc->priority;
  impl->num_dtypes = desc->num_dtypes;
  memcpy(impl->dtypes, desc->dtypes, sizeof(impl->dtypes));
  snprintf(impl->name, sizeof(impl->name), "%s",
           desc->name ? desc->name : "unnamed");
  impl->user_data = desc->user_data;
  impl->plugin = plugin;
  impl->plugin_device_index = desc->device_index;
  impl->pimpl = *desc;
  status = insert(&plugin->instance->registry, impl);
  if (status != XHAL_OK) object_free(impl, OBJ_OP_IMPL);
  return status;
}

XHAL_API xhal_status_t xhal_registry_register(xhal_instance_t instance,
                                              const xhal_op_impl_desc_t* desc,
                                              xhal_op_impl_t* out_impl) {
  xhal_status_t status = object_check(instance, OBJ_INSTANCE, "instance");
  if (status != XHAL_OK) return status;
  if (out_impl) *out_impl = NULL;
  if (!desc) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "desc is NULL");
  xhal_op_impl_desc_t local;
  memset(&local, 0, sizeof(local));
  const xhal_op_impl_desc_t* given = desc;
  desc = record_read_in(given, &local, XHAL_OP_IMPL_DESC_SIZE_1_0,
                        (uint32_t)sizeof(local));
  if (!desc) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "desc->struct_size is %u, below the ABI 1.0 size %u",
                     given->struct_size, XHAL_OP_IMPL_DESC_SIZE_1_0);
  }
  /* A desc built against 1.0-1.3 ends before `limits`: read as NULL. */
  const xhal_op_limits_t* declared = desc->limits;
  if (!desc->enqueue || !desc->name) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "desc->%s is NULL",
                     !desc->enqueue ? "enqueue" : "name");
  }
  if (desc->device) {
    status = object_check(desc->device, OBJ_DEVICE, "desc->device");
    if (status != XHAL_OK) return status;
    if (desc->device->obj.instance != instance) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "desc->device belongs to another instance");
    }
  }
  status = check_signature(desc->op, desc->num_dtypes, desc->dtypes);
  if (status != XHAL_OK) return status;
  xhal_op_limits_t limits;
  status = copy_limits(desc->op, declared, &limits);
  if (status != XHAL_OK) return status;
  struct xhal_op_impl* impl = (struct xhal_op_impl*)object_new(
      instance, OBJ_OP_IMPL, sizeof(struct xhal_op_impl));
  if (!impl) return error_set(XHAL_ERROR_OUT_OF_MEMORY, "registry entry");
  impl->limits = limits;
  impl->op = desc->op;
  impl->priority = desc->priority;
  impl->num_dtypes = desc->num_dtypes;
  memcpy(impl->dtypes, desc->dtypes, sizeof(impl->dtypes));
  snprintf(impl->name, sizeof(impl->name), "%s", desc->name);
  impl->user_data = desc->user_data;
  impl->device = desc->device;
  impl->fimpl = *desc; /* read in whole: record_read_in above */
  impl->fimpl.name = impl->name;
  impl->fimpl.limits = NULL;
  status = insert(&instance->registry, impl);
  if (status != XHAL_OK) {
    object_free(impl, OBJ_OP_IMPL);
    return status;
  }
  if (out_impl) *out_impl = impl;
  return XHAL_OK;
}

/* ------------------------------------------------------------ calls */

XHAL_API void xhal_op_call_init(xhal_op_call_t* call, xhal_op_t op) {
  if (!call) return;
  memset(call, 0, sizeof(*call));
  call->struct_size = (uint32_t)sizeof(*call);
  call->op = op;
  call->num_outputs = 1;
  xhal_op_attrs_default(&call->attrs);
}

/* Reads `*call` per abi_record.h (an older header's shorter record into
 * `scratch`, with xhal_op_call_init's defaults past it) and checks it
 * against the catalog. On success `*call` is the record to use. */
static xhal_status_t check_call(const xhal_op_call_t** call_io,
                                xhal_op_call_t* scratch) {
  const xhal_op_call_t* call = *call_io;
  if (!call) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "call is NULL");
  if (call->struct_size < sizeof(*call)) {
    xhal_op_call_init(scratch, call->op);
    call = record_read_in(call, scratch, XHAL_OP_CALL_SIZE_1_0,
                          (uint32_t)sizeof(*scratch));
    if (!call) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "call->struct_size is %u, below the ABI 1.0 size %u "
                       "(call xhal_op_call_init)",
                       (*call_io)->struct_size, XHAL_OP_CALL_SIZE_1_0);
    }
    *call_io = call;
  }
  if (call->num_inputs > XHAL_MAX_OP_INPUTS ||
      call->num_outputs > XHAL_MAX_OP_OUTPUTS) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "call has %u inputs and %u outputs (at most %d and %d)",
                     call->num_inputs, call->num_outputs, XHAL_MAX_OP_INPUTS,
                     XHAL_MAX_OP_OUTPUTS);
  }
  xhal_tensor_desc_t inputs[XHAL_MAX_OP_INPUTS];
  xhal_tensor_desc_t outputs[XHAL_MAX_OP_OUTPUTS];
  for (uint32_t i = 0; i < call->num_inputs; ++i) {
    inputs[i] = call->inputs[i].desc;
  }
  for (uint32_t i = 0; i < call->num_outputs; ++i) {
    outputs[i] = call->outputs[i].desc;
  }
  char msg[512];
  xhal_status_t status =
      op_catalog_check(call->op, call->num_inputs, inputs, call->num_outputs,
                       outputs, &call->attrs, msg, sizeof(msg));
  if (status != XHAL_OK) return error_set(status, "%s", msg);
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_op_validate(const xhal_op_call_t* call) {
  xhal_op_call_t scratch;
  return check_call(&call, &scratch);
}

/* Translates a call for a plugin; buffers may be NULL (lookups). */
static void to_plugin_call(const xhal_op_call_t* call,
                           xhal_plugin_op_call_t* out) {
  out->struct_size = (uint32_t)sizeof(*out);
  out->op = call->op;
  out->num_inputs = call->num_inputs;
  out->num_outputs = call->num_outputs;
  out->attrs = call->attrs;
  for (uint32_t i = 0; i < XHAL_MAX_OP_INPUTS; ++i) {
    const xhal_tensor_t* t = &call->inputs[i];
    out->inputs[i].desc = t->desc;
    out->inputs[i].buffer = t->buffer ? t->buffer->handle : NULL;
    out->inputs[i].offset = t->offset + (t->buffer ? t->buffer->offset : 0);
  }
  for (uint32_t i = 0; i < XHAL_MAX_OP_OUTPUTS; ++i) {
    const xhal_tensor_t* t = &call->outputs[i];
    out->outputs[i].desc = t->desc;
    out->outputs[i].buffer = t->buffer ? t->buffer->handle : NULL;
    out->outputs[i].offset = t->offset + (t->buffer ? t->buffer->offset : 0);
  }
}

static int dtypes_match(const struct xhal_op_impl* impl,
                        const xhal_op_call_t* call) {
  uint32_t sig_inputs = impl->num_dtypes - call->num_outputs;
  if (impl->num_dtypes < call->num_outputs || call->num_inputs > sig_inputs) {
    return 0;
  }
  for (uint32_t i = 0; i < call->num_inputs; ++i) {
    if (impl->dtypes[i] != call->inputs[i].desc.dtype) return 0;
  }
  for (uint32_t i = 0; i < call->num_outputs; ++i) {
    if (impl->dtypes[sig_inputs + i] != call->outputs[i].desc.dtype) return 0;
  }
  return 1;
}

static int bound_to(const struct xhal_op_impl* impl, xhal_device_t device) {
  if (impl->plugin) {
    return impl->plugin == device->plugin &&
           (impl->plugin_device_index == XHAL_PLUGIN_ALL_DEVICES ||
            impl->plugin_device_index == device->plugin_device_index);
  }
  return impl->device == NULL || impl->device == device;
}

/* 1 if `impl` can run `call` on `device`. */
static int impl_takes(const struct xhal_op_impl* impl, xhal_device_t device,
                      const xhal_op_call_t* call) {
  if (impl->op != call->op || !bound_to(impl, device) ||
      !dtypes_match(impl, call)) {
    return 0;
  }
  if (impl->plugin) {
    if (!impl->pimpl.supports) return 1;
    xhal_plugin_op_call_t pcall;
    to_plugin_call(call, &pcall);
    return impl->pimpl.supports(impl->user_data, device->handle, &pcall) ==
           XHAL_OK;
  }
  if (!impl->fimpl.supports) return 1;
  return impl->fimpl.supports(impl->user_data, device, call) == XHAL_OK;
}

static struct xhal_op_impl* find(xhal_device_t device,
                                 const xhal_op_call_t* call) {
  registry_t* registry = &device->obj.instance->registry;
  struct xhal_op_impl* found = NULL;
  pthread_rwlock_rdlock(&registry->lock);
  for (uint32_t i = 0; i < registry->count && !found; ++i) {
    if (impl_takes(registry->impls[i], device, call)) {
      found = registry->impls[i];
    }
  }
  pthread_rwlock_unlock(&registry->lock);
  return found;
}

XHAL_API xhal_status_t xhal_registry_lookup(xhal_device_t device,
                                            const xhal_op_call_t* call,
                                            xhal_op_impl_t* out_impl) {
  xhal_status_t status = device_check(device, "device");
  if (status != XHAL_OK) return status;
  if (!out_impl)
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_impl is NULL");
  *out_impl = NULL;
  xhal_op_call_t scratch;
  status = check_call(&call, &scratch);
  if (status != XHAL_OK) return status;
  struct xhal_op_impl* impl = find(device, call);
  if (!impl) {
    const char* name = op_catalog_name(call->op);
    return error_set(XHAL_ERROR_NOT_FOUND,
                     "no implementation of %s (op %u) for this call on "
                     "device '%s'",
                     name ? name : "custom op", call->op, device->props.name);
  }
  *out_impl = impl;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_registry_select(xhal_instance_t instance,
                                            const xhal_op_call_t* call,
                                            const xhal_device_t* preference,
                                            uint32_t preference_count,
                                            xhal_device_t* out_device,
                                            xhal_op_impl_t* out_impl) {
  xhal_status_t status = object_check(instance, OBJ_INSTANCE, "instance");
  if (status != XHAL_OK) return status;
  if (!out_device || !out_impl) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "%s is NULL",
                     !out_device ? "out_device" : "out_impl");
  }
  *out_device = NULL;
  *out_impl = NULL;
  if (preference_count && !preference) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "preference is NULL with a count of %u", preference_count);
  }
  xhal_op_call_t scratch;
  status = check_call(&call, &scratch);
  if (status != XHAL_OK) return status;
  for (uint32_t i = 0; i < preference_count; ++i) {
    xhal_device_t device = preference[i];
    status = object_check(device, OBJ_DEVICE, "preference entry");
    if (status != XHAL_OK) return status;
    if (device->obj.instance != instance) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "preference[%u] belongs to another instance", i);
    }
    if (atomic_load(&device->lost)) continue;
    struct xhal_op_impl* impl = find(device, call);
    if (impl) {
      *out_device = device;
      *out_impl = impl;
      return XHAL_OK;
    }
  }
  /* The fallback: the first CPU device that takes the call. */
  for (uint32_t i = 0; i < instance->device_count; ++i) {
    xhal_device_t device = instance->devices[i];
    if (device->props.kind != XHAL_DEVICE_KIND_CPU ||
        atomic_load(&device->lost))
      continue;
    struct xhal_op_impl* impl = find(device, call);
    if (impl) {
      *out_device = device;
      *out_impl = impl;
      return XHAL_OK;
    }
  }
  const char* name = op_catalog_name(call->op);
  return error_set(XHAL_ERROR_NOT_FOUND,
                   "no preferred device and no CPU device can run %s (op %u)",
                   name ? name : "custom op", call->op);
}

XHAL_API xhal_status_t xhal_op_impl_info(xhal_op_impl_t impl,
                                         xhal_op_impl_info_t* out_info) {
  xhal_status_t status = object_check(impl, OBJ_OP_IMPL, "impl");
  if (status != XHAL_OK) return status;
  if (!out_info)
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_info is NULL");
  xhal_op_impl_info_t info;
  memset(&info, 0, sizeof(info));
  info.struct_size = (uint32_t)sizeof(info);
  info.op = impl->op;
  info.priority = impl->priority;
  info.from_plugin = impl->plugin != NULL;
  info.device = impl->device;
  if (impl->plugin && impl->plugin_device_index != XHAL_PLUGIN_ALL_DEVICES) {
    xhal_instance_t instance = impl->obj.instance;
    for (uint32_t i = 0; i < instance->device_count; ++i) {
      if (bound_to(impl, instance->devices[i])) {
        info.device = instance->devices[i];
        break;
      }
    }
  }
  snprintf(info.name, sizeof(info.name), "%s", impl->name);
  record_copy_out(out_info, &info, XHAL_OP_IMPL_INFO_SIZE_1_0,
                  (uint32_t)sizeof(info));
  return XHAL_OK;
}

/* Checks one tensor operand's buffer for an enqueue on `stream`. */
static xhal_status_t tensor_check(xhal_stream_t stream, const xhal_tensor_t* t,
                                  const char* what, uint32_t index) {
  xhal_status_t checked = object_check(t->buffer, OBJ_BUFFER, "tensor buffer");
  if (checked == XHAL_ERROR_VALIDATION) return checked;
  if (checked != XHAL_OK) {
    return error_set(XHAL_ERROR_INVALID_HANDLE,
                     "%s %u: buffer is NULL or not a live buffer", what, index);
  }
  if (validating(stream->obj.instance)) {
    checked = validation_same_instance(stream, t->buffer, what);
    if (checked != XHAL_OK) return checked;
  }
  if (t->buffer->device != stream->device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "%s %u: buffer lives on device '%s', the stream on '%s'",
                     what, index, t->buffer->device->props.name,
                     stream->device->props.name);
  }
  uint32_t elem = xhal_dtype_size(t->desc.dtype);
  uint64_t bytes = elem;
  for (uint32_t d = 0; d < t->desc.rank && d < XHAL_MAX_RANK; ++d) {
    if (__builtin_mul_overflow(bytes, t->desc.dims[d], &bytes)) {
      return error_set(XHAL_ERROR_OUT_OF_RANGE,
                       "%s %u: tensor byte size overflows", what, index);
    }
  }
  if (elem && t->offset % elem) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "%s %u: offset %llu is not a multiple of the element "
                     "size %u",
                     what, index, (unsigned long long)t->offset, elem);
  }
  xhal_status_t status =
      buffer_check_range(t->buffer, t->offset, bytes, what, 1);
  if (status != XHAL_OK) {
    return error_set(status,
                     "%s %u: %llu bytes at offset %llu do not fit "
                     "in the buffer's %llu bytes",
                     what, index, (unsigned long long)bytes,
                     (unsigned long long)t->offset,
                     (unsigned long long)t->buffer->size);
  }
  return XHAL_OK;
}

static uint64_t numel(const xhal_tensor_desc_t* desc) {
  uint64_t n = 1;
  for (uint32_t d = 0; d < desc->rank; ++d) n *= desc->dims[d];
  return n;
}

/* Validation layer: inputs are read, outputs written, in stream order. */
static xhal_status_t validate_op_order(xhal_stream_t stream,
                                       const xhal_op_call_t* call) {
  xhal_buffer_t reads[XHAL_MAX_OP_INPUTS];
  xhal_buffer_t writes[XHAL_MAX_OP_OUTPUTS];
  for (uint32_t i = 0; i < call->num_inputs; ++i) {
    reads[i] = call->inputs[i].buffer;
  }
  for (uint32_t i = 0; i < call->num_outputs; ++i) {
    writes[i] = call->outputs[i].buffer;
  }
  return validation_enqueue_buffers(stream, "xhal_stream_enqueue_op", reads,
                                    call->num_inputs, writes,
                                    call->num_outputs);
}

XHAL_API xhal_status_t xhal_stream_enqueue_op(xhal_stream_t stream,
                                              xhal_op_impl_t impl,
                                              const xhal_op_call_t* call) {
  xhal_status_t status = object_check(stream, OBJ_STREAM, "stream");
  if (status != XHAL_OK) return status;
  xhal_device_t device = stream->device;
  status = device_check(device, "stream's device");
  if (status != XHAL_OK) return status;
  xhal_op_call_t scratch;
  status = check_call(&call, &scratch);
  if (status != XHAL_OK) return status;
  for (uint32_t i = 0; i < call->num_inputs; ++i) {
    status = tensor_check(stream, &call->inputs[i], "input", i);
    if (status != XHAL_OK) return status;
  }
  for (uint32_t i = 0; i < call->num_outputs; ++i) {
    status = tensor_check(stream, &call->outputs[i], "output", i);
    if (status != XHAL_OK) return status;
  }
  if (impl) {
    status = object_check(impl, OBJ_OP_IMPL, "impl");
    if (status != XHAL_OK) return status;
    if (!impl_takes(impl, device, call)) {
      return error_set(XHAL_ERROR_UNSUPPORTED,
                       "implementation '%s' does not take this call on "
                       "device '%s'",
                       impl->name, device->props.name);
    }
  } else {
    impl = find(device, call);
    if (!impl) {
      const char* name = op_catalog_name(call->op);
      return error_set(XHAL_ERROR_NOT_FOUND,
                       "no implementation of %s (op %u) for this call on "
                       "device '%s'",
                       name ? name : "custom op", call->op, device->props.name);
    }
  }
  /* Nothing to compute: implementations never see empty outputs. */
  if (call->num_outputs && numel(&call->outputs[0].desc) == 0) return XHAL_OK;
  if (validating(stream->obj.instance)) {
    status = validate_op_order(stream, call);
    if (status != XHAL_OK) return status;
  }
  if (!impl->plugin) {
    /* It enqueues through the public API, which takes the stream lock. */
    uint64_t t0 = trace_begin(stream->obj.instance);
    status = impl->fimpl.enqueue(impl->user_data, stream, call);
    trace_end(stream->obj.instance, "xhal_stream_enqueue_op", t0);
    return status;
  }
  xhal_plugin_op_call_t pcall;
  to_plugin_call(call, &pcall);
  uint64_t t0 = trace_begin(stream->obj.instance);
  int locked = stream_lock(stream);
  struct op_span* span = stream_trace_begin(stream, impl->name);
  status = impl->pimpl.enqueue(impl->user_data, stream->handle, &pcall);
  stream_trace_end(stream, span);
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_enqueue_op", t0);
  return plugin_result(impl->plugin, impl->name, status);
}

/* ------------------------------------------- what a device supports */

XHAL_API const char* xhal_op_name(xhal_op_t op) { return op_catalog_name(op); }

XHAL_API xhal_status_t xhal_registry_list(xhal_device_t device,
                                          uint32_t capacity,
                                          xhal_op_impl_t* out_impls,
                                          uint32_t* out_count) {
  xhal_status_t status = object_check(device, OBJ_DEVICE, "device");
  if (status != XHAL_OK) return status;
  if (!out_count) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_count is NULL");
  }
  if (capacity && !out_impls) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "out_impls is NULL with a capacity of %u", capacity);
  }
  registry_t* registry = &device->obj.instance->registry;
  pthread_rwlock_rdlock(&registry->lock);
  uint32_t total = 0;
  for (uint32_t i = 0; i < registry->count; ++i) {
    total += (uint32_t)bound_to(registry->impls[i], device);
  }
  struct xhal_op_impl** all = NULL;
  if (capacity && total) {
    all = malloc(total * sizeof(*all));
    if (!all) {
      pthread_rwlock_unlock(&registry->lock);
      return error_set(XHAL_ERROR_OUT_OF_MEMORY, "registry listing");
    }
    /* The registry is in lookup order; a stable insertion sort by op id
     * keeps that order within each op. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < registry->count; ++i) {
      struct xhal_op_impl* impl = registry->impls[i];
      if (!bound_to(impl, device)) continue;
      uint32_t at = n++;
      while (at > 0 && all[at - 1]->op > impl->op) {
        all[at] = all[at - 1];
        --at;
      }
      all[at] = impl;
    }
    for (uint32_t i = 0; i < total && i < capacity; ++i) out_impls[i] = all[i];
  }
  pthread_rwlock_unlock(&registry->lock);
  free(all);
  *out_count = total;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_op_impl_support(xhal_op_impl_t impl,
                                            xhal_op_support_t* out_support) {
  xhal_status_t status = object_check(impl, OBJ_OP_IMPL, "impl");
  if (status != XHAL_OK) return status;
  if (!out_support) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_support is NULL");
  }
  uint32_t size = out_support->struct_size;
  if (size < sizeof(xhal_op_support_t)) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "out_support->struct_size %u is below %zu (set it to "
                     "sizeof(xhal_op_support_t))",
                     size, sizeof(xhal_op_support_t));
  }
  xhal_op_support_t s;
  memset(&s, 0, sizeof(s));
  s.struct_size = (uint32_t)sizeof(s);
  s.op = impl->op;
  s.priority = impl->priority;
  s.from_plugin = impl->plugin != NULL;
  s.num_dtypes = impl->num_dtypes;
  memcpy(s.dtypes, impl->dtypes, sizeof(s.dtypes));
  s.has_supports = impl->plugin ? impl->pimpl.supports != NULL
                                : impl->fimpl.supports != NULL;
  s.has_limits = impl->limits.struct_size != 0;
  s.limits = impl->limits;
  snprintf(s.name, sizeof(s.name), "%s", impl->name);
  /* A newer caller's larger record: what this version knows, the rest
   * left as the caller had it. */
  memcpy(out_support, &s, sizeof(s));
  return XHAL_OK;
}
