/*
 * plugin_loader.c - plugin discovery, loading, validation and the host
 * services handed to plugins.
 *
 * Discovery order (docs/framework-guide.md):
 *   1. XHAL_PLUGINS: colon-separated plugin files; when set, nothing else
 *      is considered.
 *   2. options->plugin_paths (explicit files).
 *   3. options->search_dirs, then XHAL_PLUGIN_PATH (colon-separated dirs).
 *   4. The installed plugin dir, then <dir of libxhal>/xhal/plugins (the
 *      build tree's dir when libxhal runs from the build tree, or a
 *      relocated install).
 * Only absolute paths are used: a relative one would resolve against the
 * current directory, which is never searched. Environment variables are
 * read with secure_getenv. In directories, regular files named
 * libxhal_*.so are plugins; nothing but a regular file is ever opened
 * (load_file). The first plugin of a name wins; later files of the same
 * name are recorded as rejected duplicates.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ------------------------------------------------------- host services */

static void host_log(void* host_context, xhal_log_level_t level,
                     const char* message) {
  plugin_t* plugin = host_context;
  hal_log(plugin->instance, level, "plugin '%s': %s", plugin->info.name,
          message ? message : "");
}

static void* host_alloc_aligned(void* host_context, uint64_t size,
                                uint64_t alignment) {
  (void)host_context;
  if (size == 0 || alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return NULL;
  }
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  if (size > SIZE_MAX || alignment > SIZE_MAX) return NULL;
  void* ptr = NULL;
  if (posix_memalign(&ptr, (size_t)alignment, (size_t)size) != 0) return NULL;
  return ptr;
}

static void host_free_aligned(void* host_context, void* ptr) {
  (void)host_context;
  free(ptr);
}

static xhal_status_t host_register_op_impl(void* host_context,
                                           const xhal_plugin_op_impl_t* impl) {
  return registry_add_plugin_impl(host_context, impl);
}

static void host_report_device_lost(void* host_context, uint32_t device_index,
                                    const char* reason) {
  plugin_t* plugin = host_context;
  xhal_instance_t instance = plugin->instance;
  hal_log(instance, XHAL_LOG_ERROR, "plugin '%s' lost device %u: %s",
          plugin->info.name, device_index, reason ? reason : "");
  for (uint32_t i = 0; i < instance->device_count; ++i) {
    xhal_device_t device = instance->devices[i];
    if (device->plugin == plugin && device->plugin_device_index == device_index)
      atomic_store(&device->lost, 1u);
  }
}

static void host_set_error(void* host_context, xhal_status_t status,
                           const char* message) {
  plugin_t* plugin = host_context;
  error_set_from_plugin(plugin->info.name, status, message);
}

xhal_status_t plugin_result(const plugin_t* plugin, const char* entry,
                            xhal_status_t status) {
  if (status == XHAL_OK || error_take_plugin_message(status)) return status;
  return error_set(status, "plugin '%s': %s failed", plugin->info.name, entry);
}

/* ------------------------------------------------------------ records */

static plugin_t* add_record(xhal_instance_t instance, const char* path) {
  plugin_t** grown = realloc(instance->plugins,
                             (instance->plugin_count + 1u) * sizeof(*grown));
  if (!grown) return NULL;
  instance->plugins = grown;
  plugin_t* plugin = calloc(1, sizeof(*plugin));
  if (!plugin) return NULL;
  plugin->instance = instance;
  plugin->index = instance->plugin_count;
  plugin->info.struct_size = (uint32_t)sizeof(plugin->info);
  plugin->info.state = XHAL_PLUGIN_STATE_REJECTED;
  snprintf(plugin->info.path, sizeof(plugin->info.path), "%s", path);
  grown[instance->plugin_count++] = plugin;
  return plugin;
}

static void reject(plugin_t* plugin, xhal_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(plugin_t* plugin, xhal_status_t status, const char* fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(plugin->info.reason, sizeof(plugin->info.reason), fmt, ap);
  va_end(ap);
  plugin->info.state = XHAL_PLUGIN_STATE_REJECTED;
  plugin->info.status = status;
  hal_log(plugin->instance, XHAL_LOG_INFO, "rejected plugin %s: %s (%s)",
          plugin->info.path, plugin->info.reason, xhal_status_name(status));
}

/* ------------------------------------------------------------ checks */

/* Entries a 1.0 plugin must provide, by offset in the table. */
typedef struct required_entry {
  size_t offset;
  const char* name;
} required_entry_t;

#define REQUIRED(field) \
  { offsetof(xhal_plugin_dispatch_t, field), #field }
static const required_entry_t kRequired[] = {
    REQUIRED(init),
    REQUIRED(shutdown),
    REQUIRED(device_count),
    REQUIRED(device_properties),
    REQUIRED(device_open),
    REQUIRED(device_close),
    REQUIRED(buffer_alloc),
    REQUIRED(buffer_free),
    REQUIRED(stream_create),
    REQUIRED(stream_destroy),
    REQUIRED(stream_synchronize),
    REQUIRED(enqueue_write),
    REQUIRED(enqueue_read),
    REQUIRED(enqueue_copy),
    REQUIRED(enqueue_fill),
    REQUIRED(event_create),
    REQUIRED(event_destroy),
    REQUIRED(event_record),
    REQUIRED(event_wait),
    REQUIRED(event_query),
};
#undef REQUIRED

static const char* missing_required(const xhal_plugin_dispatch_t* table) {
  for (size_t i = 0; i < sizeof(kRequired) / sizeof(kRequired[0]); ++i) {
    void* entry;
    memcpy(&entry, (const char*)table + kRequired[i].offset, sizeof(entry));
    if (!entry) return kRequired[i].name;
  }
  return NULL;
}

/* Refuses files and directories other users may write: whoever can
 * replace a plugin can run code in every process that loads it. */
static int insecure_path(const char* path, const struct stat* file, char* why,
                         size_t why_size) {
  const char* allow = secure_getenv("XHAL_ALLOW_INSECURE_PLUGINS");
  if (allow && strcmp(allow, "1") == 0) return 0;
  struct stat st;
  if (file->st_mode & S_IWOTH) {
    snprintf(why, why_size, "plugin file is writable by other users");
    return 1;
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s", path);
  char* slash = strrchr(dir, '/');
  if (slash && slash != dir) *slash = '\0';
  if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) &&
      !(st.st_mode & S_ISVTX)) {
    snprintf(why, why_size, "plugin directory is writable by other users");
    return 1;
  }
  return 0;
}

static int name_taken(xhal_instance_t instance, const plugin_t* self,
                      const char** out_path) {
  for (uint32_t i = 0; i < instance->plugin_count; ++i) {
    const plugin_t* other = instance->plugins[i];
    if (other == self || other->info.state != XHAL_PLUGIN_STATE_LOADED)
      continue;
    if (strcmp(other->info.name, self->info.name) == 0) {
      *out_path = other->info.path;
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ devices */

static xhal_status_t open_devices(plugin_t* plugin) {
  xhal_instance_t instance = plugin->instance;
  uint32_t count = 0;
  xhal_status_t status = plugin->table.device_count(plugin->context, &count);
  if (status != XHAL_OK) {
    reject(plugin, status, "device_count failed (%s)",
           xhal_status_name(status));
    return status;
  }
  struct xhal_device** grown =
      realloc(instance->devices,
              (size_t)(instance->device_count + count) * sizeof(*grown));
  if (!grown && count) {
    reject(plugin, XHAL_ERROR_OUT_OF_MEMORY, "device table allocation failed");
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  if (grown) instance->devices = grown;
  plugin->first_device = instance->device_count;
  for (uint32_t i = 0; i < count; ++i) {
    xhal_device_t device = (xhal_device_t)object_new(
        instance, OBJ_DEVICE, sizeof(struct xhal_device));
    if (!device) {
      reject(plugin, XHAL_ERROR_OUT_OF_MEMORY, "device allocation failed");
      return XHAL_ERROR_OUT_OF_MEMORY;
    }
    device->plugin = plugin;
    device->plugin_device_index = i;
    device->props.struct_size = (uint32_t)sizeof(device->props);
    status =
        plugin->table.device_properties(plugin->context, i, &device->props);
    if (status == XHAL_OK) {
      device->props.name[XHAL_NAME_MAX - 1] = '\0';
      device->props.vendor[XHAL_NAME_MAX - 1] = '\0';
      device->props.driver_version[XHAL_NAME_MAX - 1] = '\0';
      status = plugin->table.device_open(plugin->context, i, &device->handle);
    }
    if (status != XHAL_OK) {
      hal_log(instance, XHAL_LOG_WARN,
              "plugin '%s': device %u skipped: %s failed (%s)",
              plugin->info.name, i,
              device->handle ? "device_open" : "device_properties",
              xhal_status_name(status));
      object_free(device, OBJ_DEVICE);
      continue;
    }
    pthread_mutex_init(&device->staging_lock, NULL);
    pthread_mutex_init(&device->host_lock, NULL);
    instance->devices[instance->device_count++] = device;
    plugin->info.device_count++;
    hal_log(instance, XHAL_LOG_DEBUG, "plugin '%s': device %u: %s",
            plugin->info.name, i, device->props.name);
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------ loading */

/* What a non-regular file is, for the reason of its record. */
static const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "of an unknown kind";
}

/* Considers one plugin file. Only a regular file is a candidate: a FIFO
 * would block dlopen's open forever and a device node may act on being
 * opened, so the type is read with stat, which opens nothing. The file is
 * then opened without blocking and checked again through the descriptor
 * (it must be the same regular file), and once more after dlopen. In a
 * directory scan (`from_scan`) a non-regular entry is skipped with a
 * debug line; named explicitly it gets a rejected record. */
static void load_file(xhal_instance_t instance, const char* path,
                      int from_scan) {
  for (uint32_t i = 0; i < instance->plugin_count; ++i) {
    if (strcmp(instance->plugins[i]->info.path, path) == 0) return;
  }
  struct stat st;
  int stat_errno = 0;
  if (path[0] == '/' && stat(path, &st) != 0) stat_errno = errno;
  if (from_scan && path[0] == '/' && stat_errno == 0 && !S_ISREG(st.st_mode)) {
    hal_log(instance, XHAL_LOG_DEBUG, "skipping %s: not a regular file (%s)",
            path, file_kind(st.st_mode));
    return;
  }
  plugin_t* plugin = add_record(instance, path);
  if (!plugin) {
    hal_log(instance, XHAL_LOG_ERROR, "out of memory recording plugin %s",
            path);
    return;
  }
  const char* base = strrchr(path, '/');
  snprintf(plugin->info.name, sizeof(plugin->info.name), "%s",
           base ? base + 1 : path);
  hal_log(instance, XHAL_LOG_DEBUG, "considering plugin %s", path);

  if (path[0] != '/') {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
           "relative plugin path refused (the current directory is never "
           "searched)");
    return;
  }
  if (stat_errno) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD, "cannot read plugin file: %s",
           strerror(stat_errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD, "not a regular file (%s)",
           file_kind(st.st_mode));
    return;
  }
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD, "cannot open plugin file: %s",
           strerror(errno));
    return;
  }
  struct stat fst;
  if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) ||
      fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
    close(fd);
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
           "plugin file changed while it was inspected (now %s)",
           S_ISREG(fst.st_mode) ? "another file" : "not a regular file");
    return;
  }
  char why[512];
  if (insecure_path(path, &fst, why, sizeof(why))) {
    close(fd);
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD, "%s", why);
    return;
  }
  plugin->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!plugin->dl) {
    close(fd);
    const char* err = dlerror();
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD, "dlopen failed: %s",
           err ? err : "unknown error");
    return;
  }
  /* dlopen opened the path again: it must still be the file checked. */
  int replaced = stat(path, &st) != 0 || st.st_dev != fst.st_dev ||
                 st.st_ino != fst.st_ino;
  close(fd);
  if (replaced) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
           "plugin file was replaced while it was loaded");
    return;
  }
  void* sym = dlsym(plugin->dl, XHAL_PLUGIN_QUERY_SYMBOL);
  if (!sym) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
           "missing entry symbol " XHAL_PLUGIN_QUERY_SYMBOL);
    return;
  }
  xhal_plugin_query_fn query;
  memcpy(&query, &sym, sizeof(query));
  const xhal_plugin_dispatch_t* table = NULL;
  xhal_status_t status =
      query(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &table);
  if (status != XHAL_OK || !table) {
    reject(plugin, status == XHAL_OK ? XHAL_ERROR_PLUGIN_LOAD : status,
           "%s refused host ABI %u.%u (%s)", XHAL_PLUGIN_QUERY_SYMBOL,
           XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR,
           status == XHAL_OK ? "no table returned" : xhal_status_name(status));
    return;
  }
  plugin->info.abi_major = table->abi_major;
  plugin->info.abi_minor = table->abi_minor;
  if (table->abi_major != XHAL_ABI_VERSION_MAJOR) {
    reject(plugin, XHAL_ERROR_ABI_MISMATCH,
           "plugin speaks ABI major %u, host speaks %u", table->abi_major,
           XHAL_ABI_VERSION_MAJOR);
    return;
  }
  if (table->struct_size < XHAL_PLUGIN_DISPATCH_SIZE_1_0) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
           "dispatch table too small: struct_size %u, ABI 1.0 needs %u",
           table->struct_size, XHAL_PLUGIN_DISPATCH_SIZE_1_0);
    return;
  }
  /* Entries past what this host knows are ignored; a shorter table of a
   * later 1.x host would be zero-extended here. */
  memset(&plugin->table, 0, sizeof(plugin->table));
  memcpy(&plugin->table, table,
         table->struct_size < sizeof(plugin->table) ? table->struct_size
                                                    : sizeof(plugin->table));
  const char* missing = missing_required(&plugin->table);
  if (missing) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD, "required entry '%s' is NULL",
           missing);
    return;
  }
  if (plugin->table.name && plugin->table.name[0]) {
    snprintf(plugin->info.name, sizeof(plugin->info.name), "%s",
             plugin->table.name);
  }
  const char* first_path = NULL;
  if (name_taken(instance, plugin, &first_path)) {
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
           "duplicate of plugin '%s' already loaded from %s", plugin->info.name,
           first_path);
    return;
  }

  plugin->host.struct_size = (uint32_t)sizeof(plugin->host);
  plugin->host.abi_minor = XHAL_ABI_VERSION_MINOR;
  plugin->host.host_context = plugin;
  plugin->host.log = host_log;
  plugin->host.alloc_aligned = host_alloc_aligned;
  plugin->host.free_aligned = host_free_aligned;
  plugin->host.register_op_impl = host_register_op_impl;
  plugin->host.report_device_lost = host_report_device_lost;
  plugin->host.set_error = host_set_error;

  /* Marked loaded before init so implementations it registers resolve. */
  plugin->info.state = XHAL_PLUGIN_STATE_LOADED;
  status = plugin->table.init(&plugin->host, &plugin->context);
  if (status != XHAL_OK) {
    registry_remove_plugin(&instance->registry, plugin);
    int own = error_take_plugin_message(status);
    reject(plugin, status, "init failed (%s)%s%s", xhal_status_name(status),
           own ? ": " : "", own ? xhal_last_error() : "");
    return;
  }
  plugin->initialized = 1;
  if (open_devices(plugin) != XHAL_OK) {
    registry_remove_plugin(&instance->registry, plugin);
    return;
  }
  hal_log(instance, XHAL_LOG_DEBUG, "loaded plugin '%s' from %s (%u devices)",
          plugin->info.name, path, plugin->info.device_count);
}

/* A file named explicitly (XHAL_PLUGINS, options.plugin_paths). */
static void load_named_file(xhal_instance_t instance, const char* path) {
  load_file(instance, path, 0);
}

/* Loads every libxhal_*.so in `dir`, in name order. */
static void load_dir(xhal_instance_t instance, const char* dir) {
  if (dir[0] != '/') {
    hal_log(instance, XHAL_LOG_WARN,
            "ignoring relative plugin directory '%s' (the current directory "
            "is never searched)",
            dir);
    return;
  }
  struct dirent** names = NULL;
  int n = scandir(dir, &names, NULL, alphasort);
  if (n < 0) {
    hal_log(instance, XHAL_LOG_DEBUG, "plugin dir %s: %s", dir,
            strerror(errno));
    return;
  }
  hal_log(instance, XHAL_LOG_DEBUG, "searching plugin dir %s", dir);
  for (int i = 0; i < n; ++i) {
    const char* name = names[i]->d_name;
    size_t len = strlen(name);
    if (strncmp(name, "libxhal_", 8) == 0 && len > 11 &&
        strcmp(name + len - 3, ".so") == 0) {
      char path[PATH_MAX];
      int w = snprintf(path, sizeof(path), "%s/%s", dir, name);
      if (w > 0 && (size_t)w < sizeof(path)) load_file(instance, path, 1);
    }
    free(names[i]);
  }
  free(names);
}

/* Calls fn for each non-empty entry of a colon-separated list. */
static void for_each_entry(xhal_instance_t instance, const char* list,
                           void (*fn)(xhal_instance_t, const char*)) {
  char entry[PATH_MAX];
  while (list && *list) {
    const char* colon = strchr(list, ':');
    size_t len = colon ? (size_t)(colon - list) : strlen(list);
    if (len > 0 && len < sizeof(entry)) {
      memcpy(entry, list, len);
      entry[len] = '\0';
      fn(instance, entry);
    }
    list = colon ? colon + 1 : NULL;
  }
}

/* The directory libxhal itself was loaded from. */
static int own_dir(char* out, size_t out_size) {
  Dl_info info;
  void* self = (void*)(uintptr_t)&xhal_instance_create;
  if (!dladdr(self, &info) || !info.dli_fname) return 0;
  char resolved[PATH_MAX];
  if (!realpath(info.dli_fname, resolved)) return 0;
  char* slash = strrchr(resolved, '/');
  if (!slash) return 0;
  *slash = '\0';
  return snprintf(out, out_size, "%s", resolved) < (int)out_size;
}

xhal_status_t loader_load_all(xhal_instance_t instance,
                              const xhal_instance_options_t* options) {
  int use_env = !options->ignore_environment;
  const char* explicit_list = use_env ? secure_getenv("XHAL_PLUGINS") : NULL;
  if (explicit_list && *explicit_list) {
    hal_log(instance, XHAL_LOG_DEBUG, "XHAL_PLUGINS=%s replaces discovery",
            explicit_list);
    for_each_entry(instance, explicit_list, load_named_file);
    return XHAL_OK;
  }
  for (uint32_t i = 0; i < options->plugin_path_count; ++i) {
    if (options->plugin_paths[i]) {
      load_file(instance, options->plugin_paths[i], 0);
    }
  }
  for (uint32_t i = 0; i < options->search_dir_count; ++i) {
    if (options->search_dirs[i]) load_dir(instance, options->search_dirs[i]);
  }
  if (!use_env) return XHAL_OK;
  for_each_entry(instance, secure_getenv("XHAL_PLUGIN_PATH"), load_dir);
  load_dir(instance, XHAL_INSTALL_PLUGIN_DIR);
  char dir[PATH_MAX];
  char plugins[PATH_MAX + 32];
  if (own_dir(dir, sizeof(dir))) {
    snprintf(plugins, sizeof(plugins), "%s/xhal/plugins", dir);
    load_dir(instance, plugins);
  }
  return XHAL_OK;
}

void loader_unload_all(xhal_instance_t instance) {
  for (uint32_t i = instance->device_count; i-- > 0;) {
    device_destroy(instance->devices[i]);
  }
  free(instance->devices);
  instance->devices = NULL;
  instance->device_count = 0;
  for (uint32_t i = instance->plugin_count; i-- > 0;) {
    plugin_t* plugin = instance->plugins[i];
    if (plugin->initialized) plugin->table.shutdown(plugin->context);
    /* Registry entries point into the plugin's code: drop them first. */
    registry_remove_plugin(&instance->registry, plugin);
    if (plugin->dl) dlclose(plugin->dl);
    free(plugin);
  }
  free(instance->plugins);
  instance->plugins = NULL;
  instance->plugin_count = 0;
}
