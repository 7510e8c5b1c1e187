/*
 * instance.c - the instance (root of every object), object headers and
 * logging.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "abi_record.h"
#include "internal.h"

_Static_assert(XHAL_INSTANCE_OPTIONS_SIZE_1_0 <=
                   sizeof(xhal_instance_options_t),
               "instance options only grow");
_Static_assert(XHAL_PLUGIN_INFO_SIZE_1_0 <= sizeof(xhal_plugin_info_t),
               "plugin info only grows");

/* ------------------------------------------------------------ objects */

static unsigned type_slot(object_type_t type) { return (unsigned)type & 0xFFu; }

/* Devices and registry entries live exactly as long as their instance:
 * they hold no reference on it (that would be a cycle) and are freed with
 * it rather than parked. */
static int owned_by_instance(object_type_t type) {
  return type == OBJ_INSTANCE || type == OBJ_DEVICE || type == OBJ_OP_IMPL;
}

xhal_object_t* object_new(xhal_instance_t instance, object_type_t type,
                          size_t size) {
  xhal_object_t* obj = NULL;
  if (instance && !owned_by_instance(type) && !instance->validation) {
    pthread_mutex_lock(&instance->lock);
    xhal_object_t** head = &instance->free_lists[type_slot(type)];
    if (*head) {
      obj = *head;
      *head = obj->next_free;
    }
    pthread_mutex_unlock(&instance->lock);
  }
  if (obj) {
    memset((char*)obj + sizeof(xhal_object_t), 0, size - sizeof(xhal_object_t));
  } else {
    obj = calloc(1, size);
    if (!obj) return NULL;
  }
  obj->next_free = NULL;
  obj->instance = instance;
  atomic_store(&obj->refs, 1u);
  atomic_store(&obj->tag, (unsigned)type);
  if (instance && !owned_by_instance(type)) {
    object_retain(instance);
    if (validating(instance)) validation_track(obj);
  }
  return obj;
}

xhal_status_t object_check(const void* obj, object_type_t type,
                           const char* what) {
  if (!obj) return error_set(XHAL_ERROR_INVALID_HANDLE, "%s is NULL", what);
  unsigned tag = atomic_load_explicit(&((const xhal_object_t*)obj)->tag,
                                      memory_order_relaxed);
  if (tag == (unsigned)type) return XHAL_OK;
  return object_check_failed(obj, type, what, 0);
}

xhal_status_t object_check_release(const void* obj, object_type_t type,
                                   const char* what) {
  if (!obj) return error_set(XHAL_ERROR_INVALID_HANDLE, "%s is NULL", what);
  unsigned tag = atomic_load_explicit(&((const xhal_object_t*)obj)->tag,
                                      memory_order_relaxed);
  if (tag == (unsigned)type) return XHAL_OK;
  return object_check_failed(obj, type, what, 1);
}

void object_retain(void* obj) {
  atomic_fetch_add_explicit(&((xhal_object_t*)obj)->refs, 1u,
                            memory_order_relaxed);
}

int object_unref(void* obj) {
  return atomic_fetch_sub_explicit(&((xhal_object_t*)obj)->refs, 1u,
                                   memory_order_acq_rel) == 1u;
}

void object_free(void* ptr, object_type_t type) {
  xhal_object_t* obj = ptr;
  xhal_instance_t instance = obj->instance;
  atomic_store(&obj->tag, ~(unsigned)type);
  if (!instance || owned_by_instance(type)) {
    free(obj);
    return;
  }
  /* With validation on, parked memory is never reused (object_new): it
   * stays a quarantined, recognisably released object. */
  if (validating(instance)) validation_untrack(obj);
  pthread_mutex_lock(&instance->lock);
  obj->next_free = instance->free_lists[type_slot(type)];
  instance->free_lists[type_slot(type)] = obj;
  pthread_mutex_unlock(&instance->lock);
  instance_drop_hold(instance);
}

void object_free_lists_drain(xhal_instance_t instance) {
  for (unsigned i = 0; i < OBJ_TYPE_SLOTS; ++i) {
    xhal_object_t* obj = instance->free_lists[i];
    while (obj) {
      xhal_object_t* next = obj->next_free;
      free(obj);
      obj = next;
    }
    instance->free_lists[i] = NULL;
  }
}

/* ------------------------------------------------------------ logging */

static const char* level_name(xhal_log_level_t level) {
  switch (level) {
    case XHAL_LOG_ERROR:
      return "error";
    case XHAL_LOG_WARN:
      return "warn";
    case XHAL_LOG_INFO:
      return "info";
    default:
      return "debug";
  }
}

void hal_log(xhal_instance_t instance, xhal_log_level_t level, const char* fmt,
             ...) {
  if (!instance || level > instance->log_level) return;
  char line[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(stderr, "xhal [%s] %s\n", level_name(level), line);
}

const char* hal_env(xhal_instance_t instance,
                    const xhal_instance_options_t* options, const char* name) {
  const char* value = secure_getenv(name);
  if (!value || !*value) return NULL;
  if (options->ignore_environment) {
    hal_log(instance, XHAL_LOG_WARN,
            "%s is set but ignored: the program set "
            "options.ignore_environment",
            name);
    return NULL;
  }
  return value;
}

/* XHAL_LOG over options->log_level; a value it cannot honour is named in
 * a warning (shown at the options' level) and the level stays. */
static void apply_env_log_level(xhal_instance_t instance,
                                const xhal_instance_options_t* options) {
  instance->log_level = options->log_level;
  const char* value = hal_env(instance, options, "XHAL_LOG");
  if (!value) return;
  static const char* const names[] = {"error", "warn", "info", "debug"};
  for (unsigned i = 0; i < 4; ++i) {
    if (strcasecmp(value, names[i]) == 0) {
      instance->log_level = (xhal_log_level_t)i;
      return;
    }
  }
  hal_log(instance, XHAL_LOG_WARN,
          "XHAL_LOG='%.64s' is not error, warn, info or debug: the log level "
          "stays %s",
          value, level_name(instance->log_level));
}

/* XHAL_VALIDATION=1 turns the layer on; 0 leaves options->validation. */
static void apply_env_validation(xhal_instance_t instance,
                                 const xhal_instance_options_t* options) {
  instance->validation = options->validation != 0;
  const char* value = hal_env(instance, options, "XHAL_VALIDATION");
  if (!value || strcmp(value, "0") == 0) return;
  if (strcmp(value, "1") == 0) {
    instance->validation = 1;
    return;
  }
  hal_log(instance, XHAL_LOG_WARN,
          "XHAL_VALIDATION='%.64s' is not 0 or 1: the validation layer "
          "stays %s",
          value, instance->validation ? "on" : "off");
}

/* ----------------------------------------------------------- instance */

/* A released instance has no instance to park its memory on, so its
 * memory is parked here, process-wide, poisoned like any released handle:
 * one release too many reads a poisoned tag, not freed memory. The next
 * instance reuses a parked shell; a shell of an instance that ran the
 * validation layer is never reused, so a stale handle to it is always
 * recognised. Memory only: no setting lives here. */
static pthread_mutex_t g_shell_lock = PTHREAD_MUTEX_INITIALIZER;
static xhal_object_t* g_free_shells;
static xhal_object_t* g_quarantined_shells;

static xhal_instance_t instance_shell_new(void) {
  pthread_mutex_lock(&g_shell_lock);
  xhal_object_t* obj = g_free_shells;
  if (obj) g_free_shells = obj->next_free;
  pthread_mutex_unlock(&g_shell_lock);
  if (obj) {
    memset(obj, 0, sizeof(struct xhal_instance));
  } else {
    obj = calloc(1, sizeof(struct xhal_instance));
    if (!obj) return NULL;
  }
  xhal_instance_t instance = (xhal_instance_t)obj;
  atomic_store(&obj->refs, 1u);
  atomic_store(&instance->app_refs, 1u);
  atomic_store(&obj->tag, (unsigned)OBJ_INSTANCE);
  return instance;
}

static void instance_shell_park(xhal_instance_t instance, int quarantine) {
  xhal_object_t* obj = &instance->obj;
  atomic_store(&obj->tag, ~(unsigned)OBJ_INSTANCE);
  pthread_mutex_lock(&g_shell_lock);
  xhal_object_t** head = quarantine ? &g_quarantined_shells : &g_free_shells;
  obj->next_free = *head;
  *head = obj;
  pthread_mutex_unlock(&g_shell_lock);
}

XHAL_API void xhal_abi_version(uint32_t* out_major, uint32_t* out_minor) {
  if (out_major) *out_major = XHAL_ABI_VERSION_MAJOR;
  if (out_minor) *out_minor = XHAL_ABI_VERSION_MINOR;
}

XHAL_API void xhal_instance_options_default(xhal_instance_options_t* options) {
  if (!options) return;
  memset(options, 0, sizeof(*options));
  options->struct_size = (uint32_t)sizeof(*options);
  options->log_level = XHAL_LOG_WARN;
}

static xhal_status_t check_options(const xhal_instance_options_t* o) {
  if (o->plugin_path_count && !o->plugin_paths) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "options->plugin_paths is NULL with a count of %u",
                     o->plugin_path_count);
  }
  if (o->search_dir_count && !o->search_dirs) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "options->search_dirs is NULL with a count of %u",
                     o->search_dir_count);
  }
  if (o->plugin_path_count && o->search_dir_count) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "options name both plugin_paths (%u) and search_dirs "
                     "(%u): plugin_paths are the only plugins considered, "
                     "so name one or the other",
                     o->plugin_path_count, o->search_dir_count);
  }
  for (uint32_t i = 0; i < o->plugin_path_count; ++i) {
    if (!o->plugin_paths[i] || !o->plugin_paths[i][0]) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "options->plugin_paths[%u] is %s", i,
                       o->plugin_paths[i] ? "empty" : "NULL");
    }
  }
  for (uint32_t i = 0; i < o->search_dir_count; ++i) {
    if (!o->search_dirs[i] || !o->search_dirs[i][0]) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "options->search_dirs[%u] is %s", i,
                       o->search_dirs[i] ? "empty" : "NULL");
    }
  }
  if (o->log_level > XHAL_LOG_DEBUG) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "options->log_level %u is not a XHAL_LOG_* value",
                     o->log_level);
  }
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_instance_create(
    const xhal_instance_options_t* options, xhal_instance_t* out_instance) {
  xhal_instance_options_t defaults;
  if (!out_instance) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_instance is NULL");
  }
  *out_instance = NULL;
  /* An older header's shorter options read with defaults past their
   * struct_size (abi_record.h). */
  xhal_instance_options_default(&defaults);
  if (options) {
    const xhal_instance_options_t* given = options;
    options = record_read_in(given, &defaults, XHAL_INSTANCE_OPTIONS_SIZE_1_0,
                             (uint32_t)sizeof(defaults));
    if (!options) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "options->struct_size is %u, below the ABI 1.0 size "
                       "%u (call xhal_instance_options_default)",
                       given->struct_size, XHAL_INSTANCE_OPTIONS_SIZE_1_0);
    }
  } else {
    options = &defaults;
  }
  xhal_status_t status = check_options(options);
  if (status != XHAL_OK) return status;

  xhal_instance_t instance = instance_shell_new();
  if (!instance) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "instance allocation failed");
  }
  pthread_mutex_init(&instance->lock, NULL);
  validation_init(instance);
  registry_init(&instance->registry);
  apply_env_log_level(instance, options);
  apply_env_validation(instance, options);

  /* The program's own trace file must open; XHAL_TRACE is a diagnostics
   * setting: when it cannot be honoured the program runs untraced. */
  if (options->trace_file && *options->trace_file) {
    instance->tracer = tracer_open(options->trace_file);
    if (!instance->tracer) {
      status = error_set(XHAL_ERROR_INVALID_ARGUMENT,
                         "cannot open trace file '%s': %s", options->trace_file,
                         strerror(errno));
      xhal_instance_release(instance);
      return status;
    }
  } else {
    const char* trace_env = hal_env(instance, options, "XHAL_TRACE");
    if (trace_env) {
      instance->tracer = tracer_open(trace_env);
      if (!instance->tracer) {
        hal_log(instance, XHAL_LOG_WARN,
                "XHAL_TRACE='%s' cannot be opened for writing (%s): tracing "
                "is off",
                trace_env, strerror(errno));
      }
    }
  }
  status = loader_load_all(instance, options);
  if (status != XHAL_OK) {
    xhal_instance_release(instance);
    return status;
  }
  *out_instance = instance;
  return XHAL_OK;
}

XHAL_API void xhal_instance_retain(xhal_instance_t instance) {
  if (object_check(instance, OBJ_INSTANCE, "instance") == XHAL_OK) {
    atomic_fetch_add_explicit(&instance->app_refs, 1u, memory_order_relaxed);
    object_retain(instance);
  }
}

/* Drops one reference (the program's or an object's hold); the last one
 * destroys the instance. */
static void instance_unref(xhal_instance_t instance) {
  if (!object_unref(instance)) {
    if (validating(instance)) validation_instance_released(instance);
    return;
  }
  int quarantine = validating(instance);
  loader_unload_all(instance);
  tracer_close(instance->tracer);
  registry_destroy(&instance->registry);
  object_free_lists_drain(instance);
  validation_destroy(instance);
  pthread_mutex_destroy(&instance->lock);
  instance_shell_park(instance, quarantine);
}

void instance_drop_hold(xhal_instance_t instance) { instance_unref(instance); }

XHAL_API void xhal_instance_release(xhal_instance_t instance) {
  if (!instance) return;
  if (object_check_release(instance, OBJ_INSTANCE, "instance") != XHAL_OK) {
    return;
  }
  if (validating(instance) && validation_instance_overreleased(instance)) {
    return;
  }
  /* The program's references are counted apart from the objects' holds,
   * so one release too many is refused instead of dropping a hold an
   * object still relies on. */
  unsigned held =
      atomic_load_explicit(&instance->app_refs, memory_order_relaxed);
  do {
    if (held == 0) {
      (void)error_set(XHAL_ERROR_INVALID_HANDLE,
                      "instance %p released more often than it was created "
                      "and retained (only its objects still hold it)",
                      (void*)instance);
      return;
    }
  } while (!atomic_compare_exchange_weak_explicit(
      &instance->app_refs, &held, held - 1u, memory_order_relaxed,
      memory_order_relaxed));
  instance_unref(instance);
}

XHAL_API xhal_status_t xhal_instance_plugin_count(xhal_instance_t instance,
                                                  uint32_t* out_count) {
  xhal_status_t status = object_check(instance, OBJ_INSTANCE, "instance");
  if (status != XHAL_OK) return status;
  if (!out_count) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_count is NULL");
  }
  *out_count = instance->plugin_count;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_instance_plugin_info(xhal_instance_t instance,
                                                 uint32_t index,
                                                 xhal_plugin_info_t* out_info) {
  xhal_status_t status = object_check(instance, OBJ_INSTANCE, "instance");
  if (status != XHAL_OK) return status;
  if (!out_info) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_info is NULL");
  }
  if (index >= instance->plugin_count) {
    return error_set(XHAL_ERROR_OUT_OF_RANGE,
                     "plugin index %u is past the plugin count %u", index,
                     instance->plugin_count);
  }
  record_copy_out(out_info, &instance->plugins[index]->info,
                  XHAL_PLUGIN_INFO_SIZE_1_0, (uint32_t)sizeof(*out_info));
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_instance_device_count(xhal_instance_t instance,
                                                  uint32_t* out_count) {
  xhal_status_t status = object_check(instance, OBJ_INSTANCE, "instance");
  if (status != XHAL_OK) return status;
  if (!out_count) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_count is NULL");
  }
  *out_count = instance->device_count;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_instance_device(xhal_instance_t instance,
                                            uint32_t index,
                                            xhal_device_t* out_device) {
  xhal_status_t status = object_check(instance, OBJ_INSTANCE, "instance");
  if (status != XHAL_OK) return status;
  if (!out_device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_device is NULL");
  }
  if (index >= instance->device_count) {
    return error_set(XHAL_ERROR_OUT_OF_RANGE,
                     "device index %u is past the device count %u", index,
                     instance->device_count);
  }
  *out_device = instance->devices[index];
  return XHAL_OK;
}
