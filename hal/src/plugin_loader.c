/*
 * plugin_loader.c - plugin discovery, loading, validation and the host
 * services handed to plugins.
 *
 * Discovery (docs/framework-guide.md); the first rule that applies wins:
 *   1. XHAL_PLUGINS: colon-separated plugin files; when it names one,
 *      nothing else is considered (options->plugin_paths neither).
 *   2. options->plugin_paths: when non-empty, the only plugins considered.
 *   3. Directories: options->search_dirs, then XHAL_PLUGIN_PATH
 *      (colon-separated), then the installed plugin dir, then <dir of
 *      libxhal>/xhal/plugins (the build tree's dir when libxhal runs from
 *      the build tree, or a relocated install).
 * With options->ignore_environment no variable is read and only the
 * options' files or directories count. A variable without an entry
 * (empty, only colons) is unset; what the environment names is bounded
 * (kMaxListedFiles, kMaxListedDirs, kMaxPathBytes) and parsed in one
 * pass.
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
  if (status == XHAL_OK) return status;
  if (status_defined(status) != status) {
    /* Not a status the API defines: the caller gets a defined one. */
    (void)error_take_plugin_message(status);
    return error_set(XHAL_ERROR_EXECUTION_FAILED,
                     "plugin '%s': %s returned %lld, which is not an "
                     "xhal_status_t",
                     plugin->info.name, entry, (long long)status);
  }
  if (error_take_plugin_message(status)) return status;
  return error_set(status, "plugin '%s': %s failed", plugin->info.name, entry);
}

/* ------------------------------------------------------------ records */

/* Bounds on what the environment may name (docs/reliability.md). */
enum {
  kMaxPathBytes = PATH_MAX - 1, /* one entry: 4095 bytes */
  kMaxListedFiles = 256,        /* XHAL_PLUGINS entries */
  kMaxListedDirs = 64,          /* XHAL_PLUGIN_PATH entries */
};

/* State of one loader_load_all: the paths considered so far, in a hash
 * set, so that a path named twice is considered once in constant time. */
typedef struct loader {
  xhal_instance_t instance;
  int allow_insecure; /* XHAL_ALLOW_INSECURE_PLUGINS=1 */
  uint32_t record_capacity;
  plugin_t** slots;  /* open addressing; NULL is empty */
  size_t slot_count; /* a power of two, or 0 */
  size_t slot_used;
} loader_t;

static uint64_t path_hash(const char* path, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; ++i) {
    h ^= (unsigned char)path[i];
    h *= 1099511628211ull;
  }
  return h;
}

static int path_seen(const loader_t* loader, const char* path, uint64_t h) {
  if (!loader->slot_count) return 0;
  size_t mask = loader->slot_count - 1;
  for (size_t i = (size_t)h & mask; loader->slots[i]; i = (i + 1) & mask) {
    const plugin_t* other = loader->slots[i];
    if (other->path_hash == h && strcmp(other->path, path) == 0) return 1;
  }
  return 0;
}

/* Remembers `plugin`'s path; on allocation failure the path is merely
 * not deduplicated. */
static void path_remember(loader_t* loader, plugin_t* plugin) {
  if ((loader->slot_used + 1) * 2 > loader->slot_count) {
    size_t count = loader->slot_count ? loader->slot_count * 2 : 64;
    plugin_t** slots = calloc(count, sizeof(*slots));
    if (!slots) return;
    for (size_t i = 0; i < loader->slot_count; ++i) {
      plugin_t* old = loader->slots[i];
      if (!old) continue;
      size_t j = (size_t)old->path_hash & (count - 1);
      while (slots[j]) j = (j + 1) & (count - 1);
      slots[j] = old;
    }
    free(loader->slots);
    loader->slots = slots;
    loader->slot_count = count;
  }
  size_t mask = loader->slot_count - 1;
  size_t i = (size_t)plugin->path_hash & mask;
  while (loader->slots[i]) i = (i + 1) & mask;
  loader->slots[i] = plugin;
  loader->slot_used++;
}

/* A new record for the `len` bytes at `path` (which need not end there);
 * info.path holds its first 1023 bytes. */
static plugin_t* add_record(loader_t* loader, const char* path, size_t len) {
  xhal_instance_t instance = loader->instance;
  if (instance->plugin_count == loader->record_capacity) {
    uint32_t capacity =
        loader->record_capacity ? loader->record_capacity * 2u : 16u;
    plugin_t** grown =
        realloc(instance->plugins, (size_t)capacity * sizeof(*grown));
    if (!grown) return NULL;
    instance->plugins = grown;
    loader->record_capacity = capacity;
  }
  plugin_t* plugin = calloc(1, sizeof(*plugin));
  if (!plugin) return NULL;
  plugin->path = strndup(path, len);
  if (!plugin->path) {
    free(plugin);
    return NULL;
  }
  plugin->path_hash = path_hash(path, len);
  plugin->instance = instance;
  plugin->index = instance->plugin_count;
  plugin->info.struct_size = (uint32_t)sizeof(plugin->info);
  plugin->info.state = XHAL_PLUGIN_STATE_REJECTED;
  snprintf(plugin->info.path, sizeof(plugin->info.path), "%s", plugin->path);
  instance->plugins[instance->plugin_count++] = plugin;
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
static int insecure_path(const loader_t* loader, const char* path,
                         const struct stat* file, char* why, size_t why_size) {
  if (loader->allow_insecure) return 0;
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
    pthread_mutex_init(&device->map_lock, NULL);
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
static void load_file(loader_t* loader, const char* path, int from_scan) {
  xhal_instance_t instance = loader->instance;
  size_t len = strlen(path);
  if (path_seen(loader, path, path_hash(path, len))) return;
  struct stat st;
  int stat_errno = 0;
  if (path[0] == '/' && stat(path, &st) != 0) stat_errno = errno;
  if (from_scan && path[0] == '/' && stat_errno == 0 && !S_ISREG(st.st_mode)) {
    hal_log(instance, XHAL_LOG_DEBUG, "skipping %s: not a regular file (%s)",
            path, file_kind(st.st_mode));
    return;
  }
  plugin_t* plugin = add_record(loader, path, len);
  if (!plugin) {
    hal_log(instance, XHAL_LOG_ERROR, "out of memory recording plugin %s",
            path);
    return;
  }
  path_remember(loader, plugin);
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
  if (fstat(fd, &fst) != 0) {
    int err = errno;
    close(fd);
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD, "cannot read plugin file: %s",
           strerror(err));
    return;
  }
  if (!S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev ||
      fst.st_ino != st.st_ino) {
    close(fd);
    reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
           "plugin file changed while it was inspected (now %s)",
           S_ISREG(fst.st_mode) ? "another file" : "not a regular file");
    return;
  }
  char why[512];
  if (insecure_path(loader, path, &fst, why, sizeof(why))) {
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

/* Loads every regular libxhal_*.so in `dir`, in name order. */
static void load_dir(loader_t* loader, const char* dir) {
  xhal_instance_t instance = loader->instance;
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
      if (w > 0 && (size_t)w < sizeof(path)) {
        load_file(loader, path, 1);
      } else {
        hal_log(instance, XHAL_LOG_WARN,
                "skipping %s in %s: the path is longer than %d bytes", name,
                dir, kMaxPathBytes);
      }
    }
    free(names[i]);
  }
  free(names);
}

/* The next non-empty entry of a colon-separated list at *cursor: its start
 * and length; 0 at the end. Each byte is looked at once. */
static int next_entry(const char** cursor, const char** out_start,
                      size_t* out_len) {
  const char* p = *cursor;
  while (p && *p) {
    const char* colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    *cursor = colon ? colon + 1 : NULL;
    if (len > 0) {
      *out_start = p;
      *out_len = len;
      return 1;
    }
    p = *cursor;
  }
  *cursor = NULL;
  return 0;
}

/* XHAL_PLUGINS: at most kMaxListedFiles entries of at most kMaxPathBytes
 * each; an entry past either bound gets a rejected record. */
static void load_file_list(loader_t* loader, const char* list) {
  const char* cursor = list;
  const char* entry;
  size_t len;
  size_t taken = 0;
  while (next_entry(&cursor, &entry, &len)) {
    if (taken == kMaxListedFiles) {
      size_t rest = 0;
      const char* more;
      size_t more_len;
      while (next_entry(&cursor, &more, &more_len)) ++rest;
      plugin_t* plugin = add_record(loader, entry, len);
      if (plugin) {
        reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
               "XHAL_PLUGINS names more than %d files: this entry and the "
               "%zu after it are ignored",
               kMaxListedFiles, rest);
      }
      return;
    }
    ++taken;
    if (len > kMaxPathBytes) {
      char* path = strndup(entry, len);
      if (path && !path_seen(loader, path, path_hash(path, len))) {
        plugin_t* plugin = add_record(loader, path, len);
        if (plugin) {
          path_remember(loader, plugin);
          reject(plugin, XHAL_ERROR_PLUGIN_LOAD,
                 "path of %zu bytes is longer than the limit of %d bytes", len,
                 kMaxPathBytes);
        }
      }
      free(path);
      continue;
    }
    char path[PATH_MAX];
    memcpy(path, entry, len);
    path[len] = '\0';
    load_file(loader, path, 0);
  }
}

/* XHAL_PLUGIN_PATH: at most kMaxListedDirs directories of at most
 * kMaxPathBytes each; what is past a bound is named in a warning. */
static void load_dir_list(loader_t* loader, const char* list) {
  const char* cursor = list;
  const char* entry;
  size_t len;
  size_t taken = 0;
  while (next_entry(&cursor, &entry, &len)) {
    if (taken == kMaxListedDirs) {
      size_t rest = 0;
      const char* more;
      size_t more_len;
      while (next_entry(&cursor, &more, &more_len)) ++rest;
      hal_log(loader->instance, XHAL_LOG_WARN,
              "XHAL_PLUGIN_PATH names more than %d directories: '%.*s' and "
              "the %zu after it are ignored",
              kMaxListedDirs, len > 200 ? 200 : (int)len, entry, rest);
      return;
    }
    ++taken;
    if (len > kMaxPathBytes) {
      hal_log(loader->instance, XHAL_LOG_WARN,
              "XHAL_PLUGIN_PATH entry '%.64s...' of %zu bytes is longer than "
              "the limit of %d bytes: ignored",
              entry, len, kMaxPathBytes);
      continue;
    }
    char dir[PATH_MAX];
    memcpy(dir, entry, len);
    dir[len] = '\0';
    load_dir(loader, dir);
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

/* A colon list variable: NULL when unset or empty, and (with a warning)
 * when it holds nothing but separators: both mean "not set". */
static const char* env_list(xhal_instance_t instance,
                            const xhal_instance_options_t* options,
                            const char* name) {
  const char* value = hal_env(instance, options, name);
  if (value && value[strspn(value, ":")] == '\0') {
    hal_log(instance, XHAL_LOG_WARN,
            "%s='%.64s' holds no entry, only separators: treated as unset",
            name, value);
    return NULL;
  }
  return value;
}

xhal_status_t loader_load_all(xhal_instance_t instance,
                              const xhal_instance_options_t* options) {
  loader_t loader = {.instance = instance};
  const char* allow = hal_env(instance, options, "XHAL_ALLOW_INSECURE_PLUGINS");
  if (allow && strcmp(allow, "1") == 0) {
    loader.allow_insecure = 1;
  } else if (allow && strcmp(allow, "0") != 0) {
    hal_log(instance, XHAL_LOG_WARN,
            "XHAL_ALLOW_INSECURE_PLUGINS='%.64s' is not 0 or 1: plugins "
            "other users may write stay refused",
            allow);
  }
  const char* explicit_list = env_list(instance, options, "XHAL_PLUGINS");
  const char* dir_list = env_list(instance, options, "XHAL_PLUGIN_PATH");
  if (explicit_list) {
    hal_log(instance,
            options->plugin_path_count || options->search_dir_count
                ? XHAL_LOG_INFO
                : XHAL_LOG_DEBUG,
            "XHAL_PLUGINS=%.200s replaces discovery%s", explicit_list,
            options->plugin_path_count || options->search_dir_count
                ? " and the program's plugin_paths/search_dirs"
                : "");
    load_file_list(&loader, explicit_list);
  } else if (options->plugin_path_count) {
    /* The program named its plugins: nothing else is considered. */
    for (uint32_t i = 0; i < options->plugin_path_count; ++i) {
      load_file(&loader, options->plugin_paths[i], 0);
    }
  } else {
    for (uint32_t i = 0; i < options->search_dir_count; ++i) {
      load_dir(&loader, options->search_dirs[i]);
    }
    if (!options->ignore_environment) {
      if (dir_list) load_dir_list(&loader, dir_list);
      load_dir(&loader, XHAL_INSTALL_PLUGIN_DIR);
      char dir[PATH_MAX];
      char plugins[PATH_MAX + 32];
      if (own_dir(dir, sizeof(dir))) {
        snprintf(plugins, sizeof(plugins), "%s/xhal/plugins", dir);
        load_dir(&loader, plugins);
      }
    }
  }
  free(loader.slots);
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
    free(plugin->path);
    free(plugin);
  }
  free(instance->plugins);
  instance->plugins = NULL;
  instance->plugin_count = 0;
}
