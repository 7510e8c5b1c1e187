/*
 * xhal-info: lists every plugin the instance considered (loaded, or
 * rejected with its reason) and every device with its properties and its
 * operator table: each implementation the registry holds for the device
 * (xhal_registry_list), with its dtype signature, priority and the limits
 * it declared.
 *
 *   xhal-info          human-readable
 *   xhal-info --json   one JSON object (schema in docs/framework-guide.md)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal.h>

static const char* kind_name(xhal_device_kind_t kind) {
  switch (kind) {
    case XHAL_DEVICE_KIND_CPU:
      return "cpu";
    case XHAL_DEVICE_KIND_GPU:
      return "gpu";
    case XHAL_DEVICE_KIND_NPU:
      return "npu";
    default:
      return "other";
  }
}

static const char* dtype_name(xhal_dtype_t dtype) {
  switch (dtype) {
    case XHAL_DTYPE_F32:
      return "f32";
    case XHAL_DTYPE_F16:
      return "f16";
    case XHAL_DTYPE_I8:
      return "i8";
    case XHAL_DTYPE_I32:
      return "i32";
    default:
      return "?";
  }
}

/* Prints `s` as a JSON string literal. */
static void json_string(const char* s) {
  putchar('"');
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      printf("\\%c", c);
    } else if (c < 0x20) {
      printf("\\u%04x", c);
    } else {
      putchar(c);
    }
  }
  putchar('"');
}

/* The device's implementations in lookup order (caller frees), or NULL
 * with *out_count 0 when it has none or the listing fails. */
static xhal_op_impl_t* list_impls(xhal_device_t device, uint32_t* out_count) {
  uint32_t count = 0;
  *out_count = 0;
  if (xhal_registry_list(device, 0, NULL, &count) != XHAL_OK || count == 0) {
    return NULL;
  }
  xhal_op_impl_t* impls = calloc(count, sizeof(*impls));
  if (!impls || xhal_registry_list(device, count, impls, &count) != XHAL_OK) {
    free(impls);
    return NULL;
  }
  *out_count = count;
  return impls;
}

static const char* op_name(xhal_op_t op) {
  const char* name = xhal_op_name(op);
  return name ? name : "custom";
}

static const char* const kBroadcastNames[] = {"same", "scalar", "row", "column",
                                              "general"};
static const char* const kAxisNames[] = {"innermost", "outer"};

/* Writes the names of the bits set in `mask` (names[i] for bit i),
 * separated by `sep`, each wrapped in `quote`. */
static void print_names(uint32_t mask, const char* const* names, int count,
                        const char* sep, const char* quote) {
  int first = 1;
  for (int i = 0; i < count; ++i) {
    if (!(mask & (1u << i))) continue;
    printf("%s%s%s%s", first ? "" : sep, quote, names[i], quote);
    first = 0;
  }
}

/* The declared limits in words ("-" when none). */
static void print_limits_text(const xhal_op_support_t* s) {
  const xhal_op_limits_t* l = &s->limits;
  if (!s->has_limits) {
    printf("%s", s->has_supports ? "not declared: supports() decides per call"
                                 : "none");
    return;
  }
  if (l->flags == 0) {
    printf("none (declared)");
    return;
  }
  const char* sep = "";
  if (l->flags & XHAL_OP_LIMIT_BROADCASTS) {
    printf("broadcasts ");
    print_names(l->broadcasts, kBroadcastNames, 5, ",", "");
    sep = "; ";
  }
  if (l->flags & XHAL_OP_LIMIT_AXES) {
    printf("%saxes ", sep);
    print_names(l->axes, kAxisNames, 2, ",", "");
    sep = "; ";
  }
  if (l->flags & XHAL_OP_LIMIT_RANK) {
    printf("%smax_rank %u", sep, l->max_rank);
    sep = "; ";
  }
  if (l->flags & XHAL_OP_LIMIT_DIM) {
    printf("%smax_dim %llu", sep, (unsigned long long)l->max_dim);
    sep = "; ";
  }
  if (l->flags & XHAL_OP_LIMIT_ROW) {
    printf("%smax_row %llu", sep, (unsigned long long)l->max_row);
    sep = "; ";
  }
  if (l->flags & XHAL_OP_LIMIT_PARTIAL) {
    printf("%smore refused per call (ask xhal_registry_lookup)", sep);
  }
}

static void print_ops_text(xhal_device_t device) {
  uint32_t count = 0;
  xhal_op_impl_t* impls = list_impls(device, &count);
  printf("      operators (%u implementations, in lookup order):\n", count);
  if (count) {
    printf("        %-11s %-22s %5s  %-22s %s\n", "op", "dtypes", "prio",
           "implementation", "limits");
  }
  for (uint32_t i = 0; i < count; ++i) {
    xhal_op_support_t s = {.struct_size = sizeof(s)};
    if (xhal_op_impl_support(impls[i], &s) != XHAL_OK) continue;
    char sig[64];
    size_t n = 0;
    for (uint32_t d = 0; d < s.num_dtypes && n < sizeof(sig); ++d) {
      n += (size_t)snprintf(sig + n, sizeof(sig) - n, "%s%s",
                            d == 0                  ? ""
                            : d + 1 == s.num_dtypes ? " -> "
                                                    : ",",
                            dtype_name(s.dtypes[d]));
    }
    printf("        %-11s %-22s %5d  %-22s ", op_name(s.op), sig, s.priority,
           s.name);
    print_limits_text(&s);
    printf("%s\n", s.from_plugin ? "" : "  (framework)");
  }
  free(impls);
}

static void print_ops_json(xhal_device_t device) {
  uint32_t count = 0;
  xhal_op_impl_t* impls = list_impls(device, &count);
  printf(", \"operators\": [");
  for (uint32_t i = 0; i < count; ++i) {
    xhal_op_support_t s = {.struct_size = sizeof(s)};
    if (xhal_op_impl_support(impls[i], &s) != XHAL_OK) continue;
    printf("%s{\"op\": \"%s\", \"op_id\": %u, \"inputs\": [", i ? ", " : "",
           op_name(s.op), s.op);
    for (uint32_t d = 0; d + 1 < s.num_dtypes; ++d) {
      printf("%s\"%s\"", d ? ", " : "", dtype_name(s.dtypes[d]));
    }
    printf("], \"output\": \"%s\", \"priority\": %d, \"implementation\": ",
           s.num_dtypes ? dtype_name(s.dtypes[s.num_dtypes - 1]) : "?",
           s.priority);
    json_string(s.name);
    const xhal_op_limits_t* l = &s.limits;
    printf(", \"from_plugin\": %s, \"supports_predicate\": %s, \"limits\": ",
           s.from_plugin ? "true" : "false", s.has_supports ? "true" : "false");
    if (!s.has_limits) {
      printf("null}");
      continue;
    }
    printf("{\"partial\": %s",
           l->flags & XHAL_OP_LIMIT_PARTIAL ? "true" : "false");
    if (l->flags & XHAL_OP_LIMIT_BROADCASTS) {
      printf(", \"broadcasts\": [");
      print_names(l->broadcasts, kBroadcastNames, 5, ", ", "\"");
      printf("]");
    }
    if (l->flags & XHAL_OP_LIMIT_AXES) {
      printf(", \"axes\": [");
      print_names(l->axes, kAxisNames, 2, ", ", "\"");
      printf("]");
    }
    if (l->flags & XHAL_OP_LIMIT_RANK)
      printf(", \"max_rank\": %u", l->max_rank);
    if (l->flags & XHAL_OP_LIMIT_DIM) {
      printf(", \"max_dim\": %llu", (unsigned long long)l->max_dim);
    }
    if (l->flags & XHAL_OP_LIMIT_ROW) {
      printf(", \"max_row\": %llu", (unsigned long long)l->max_row);
    }
    printf("}}");
  }
  printf("]");
  free(impls);
}

static void print_json(xhal_instance_t instance) {
  uint32_t major, minor, plugins = 0, devices = 0;
  xhal_abi_version(&major, &minor);
  if (xhal_instance_plugin_count(instance, &plugins) != XHAL_OK ||
      xhal_instance_device_count(instance, &devices) != XHAL_OK) {
    return;
  }
  printf("{\"abi_version\": \"%u.%u\", \"plugins\": [", major, minor);
  for (uint32_t i = 0; i < plugins; ++i) {
    xhal_plugin_info_t info;
    if (xhal_instance_plugin_info(instance, i, &info) != XHAL_OK) continue;
    printf("%s{\"name\": ", i ? ", " : "");
    json_string(info.name);
    printf(", \"path\": ");
    json_string(info.path);
    printf(", \"status\": \"%s\", \"reason\": ",
           info.state == XHAL_PLUGIN_STATE_LOADED ? "loaded" : "rejected");
    json_string(info.reason);
    printf(", \"abi_version\": \"%u.%u\", \"device_count\": %u}",
           info.abi_major, info.abi_minor, info.device_count);
  }
  printf("], \"devices\": [");
  for (uint32_t i = 0; i < devices; ++i) {
    xhal_device_t device;
    xhal_device_properties_t p;
    if (xhal_instance_device(instance, i, &device) != XHAL_OK ||
        xhal_device_properties(device, &p) != XHAL_OK) {
      continue;
    }
    printf("%s{\"index\": %u, \"plugin\": ", i ? ", " : "", i);
    json_string(xhal_device_plugin_name(device));
    printf(", \"name\": ");
    json_string(p.name);
    printf(", \"vendor\": ");
    json_string(p.vendor);
    printf(
        ", \"kind\": \"%s\", \"memory_bytes\": %llu, "
        "\"max_alloc_bytes\": %llu, \"compute_units\": %u, \"dtypes\": [",
        kind_name(p.kind), (unsigned long long)p.memory_bytes,
        (unsigned long long)p.max_alloc_bytes, p.compute_units);
    int first = 1;
    for (xhal_dtype_t dt = 1; dt < XHAL_DTYPE_COUNT; ++dt) {
      if (p.dtypes & XHAL_DTYPE_BIT(dt)) {
        printf("%s\"%s\"", first ? "" : ", ", dtype_name(dt));
        first = 0;
      }
    }
    printf("]");
    print_ops_json(device);
    printf("}");
  }
  printf("]}\n");
}

static void print_text(xhal_instance_t instance) {
  uint32_t major, minor, plugins = 0, devices = 0;
  xhal_abi_version(&major, &minor);
  if (xhal_instance_plugin_count(instance, &plugins) != XHAL_OK ||
      xhal_instance_device_count(instance, &devices) != XHAL_OK) {
    return;
  }
  printf("xhal ABI %u.%u\n\nPlugins (%u):\n", major, minor, plugins);
  for (uint32_t i = 0; i < plugins; ++i) {
    xhal_plugin_info_t info;
    if (xhal_instance_plugin_info(instance, i, &info) != XHAL_OK) continue;
    if (info.state == XHAL_PLUGIN_STATE_LOADED) {
      printf("  [%u] %-10s loaded   ABI %u.%u, %u device(s)  %s\n", i,
             info.name, info.abi_major, info.abi_minor, info.device_count,
             info.path);
    } else {
      printf("  [%u] %-10s rejected %s: %s\n       %s\n", i, info.name,
             xhal_status_name(info.status), info.reason, info.path);
    }
  }
  printf("\nDevices (%u):\n", devices);
  for (uint32_t i = 0; i < devices; ++i) {
    xhal_device_t device;
    xhal_device_properties_t p;
    if (xhal_instance_device(instance, i, &device) != XHAL_OK ||
        xhal_device_properties(device, &p) != XHAL_OK) {
      continue;
    }
    printf("  [%u] %s (%s, plugin %s)\n", i, p.name, kind_name(p.kind),
           xhal_device_plugin_name(device));
    printf("      vendor %s, driver %s\n", p.vendor, p.driver_version);
    printf(
        "      memory %.1f MiB, max alloc %.1f MiB, alignment %llu, "
        "compute units %u\n",
        (double)p.memory_bytes / (1024.0 * 1024.0),
        (double)p.max_alloc_bytes / (1024.0 * 1024.0),
        (unsigned long long)p.alignment, p.compute_units);
    printf("      dtypes:");
    for (xhal_dtype_t dt = 1; dt < XHAL_DTYPE_COUNT; ++dt) {
      if (p.dtypes & XHAL_DTYPE_BIT(dt)) printf(" %s", dtype_name(dt));
    }
    printf(
        "\n      capabilities:%s%s%s%s%s%s%s%s\n",
        p.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY ? " host-visible" : "",
        p.capabilities & XHAL_CAP_PROFILING ? " profiling" : "",
        p.capabilities & XHAL_CAP_KERNEL_LANG_OPENCL_C ? " opencl-c" : "",
        p.capabilities & XHAL_CAP_PEER_COPY ? " peer-copy" : "",
        p.capabilities & XHAL_CAP_HOST_FUNC ? " host-func" : "",
        p.capabilities & XHAL_CAP_STREAM_NO_TIMING ? " stream-no-timing" : "",
        p.capabilities & XHAL_CAP_HOST_ALLOC ? " host-alloc" : "",
        p.capabilities & XHAL_CAP_KERNEL_LANG_CUDA_C ? " cuda-c" : "");
    print_ops_text(device);
  }
}

int main(int argc, char** argv) {
  int json = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else {
      fprintf(stderr, "usage: %s [--json]\n", argv[0]);
      return 2;
    }
  }
  xhal_instance_t instance;
  xhal_status_t status = xhal_instance_create(NULL, &instance);
  if (status != XHAL_OK) {
    fprintf(stderr, "xhal-info: %s\n", xhal_last_error());
    return 1;
  }
  if (json) {
    print_json(instance);
  } else {
    print_text(instance);
  }
  xhal_instance_release(instance);
  return 0;
}
