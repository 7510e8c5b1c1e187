/*
 * kernel_limits.c - what a plugin says it supports, checked against what
 * it does (docs/abi.md, R-KRN-9, R-KRN-10).
 *
 * Declared limits (xhal_op_limits_t) are a promise about supports(): a
 * call outside a limit is refused, and without XHAL_OP_LIMIT_PARTIAL a
 * call inside every limit is taken. The test classifies its probe calls
 * itself, from their shapes, by the definitions in xhal_types.h, and asks
 * the implementation's supports() directly; probes sit on both sides of
 * every numeric bound. supports() sees no buffers, so probes of any size
 * cost nothing.
 */
#include "kernel_limits.h"

#include <stdio.h>
#include <string.h>
#include <xhal_reference.h>

#include "kernel_cases.h"

/* ------------------------------------------------------------ probes */

typedef struct probe {
  xhal_plugin_op_call_t call;
  char desc[160];
} probe_t;

static int is_binary(xhal_op_t op) {
  return op >= XHAL_OP_ADD && op <= XHAL_OP_MIN;
}
static int is_unary(xhal_op_t op) {
  return op >= XHAL_OP_RELU && op <= XHAL_OP_EXP;
}
static int has_axis(xhal_op_t op) {
  return op == XHAL_OP_SOFTMAX || op == XHAL_OP_REDUCE_SUM ||
         op == XHAL_OP_REDUCE_MAX;
}

static xhal_tensor_desc_t desc_of(xhal_dtype_t dt, uint32_t rank,
                                  const uint64_t* dims) {
  return xhal_ref_desc(dt, rank, dims);
}

/* Builds a probe of `impl`'s signature with the given inputs; the output
 * comes from the reference's shape rule. 0 when the catalog refuses it
 * (a probe that does not fit this operator). */
static int make_probe(const xhal_plugin_op_impl_t* impl, uint32_t num_inputs,
                      const xhal_tensor_desc_t* inputs, int32_t axis,
                      probe_t* out) {
  memset(out, 0, sizeof(*out));
  xhal_ref_call_init(&out->call, impl->op);
  if (num_inputs + 1 > impl->num_dtypes) return 0;
  out->call.num_inputs = num_inputs;
  out->call.attrs.axis = axis;
  for (uint32_t i = 0; i < num_inputs; ++i) {
    out->call.inputs[i].desc = inputs[i];
    out->call.inputs[i].desc.dtype = impl->dtypes[i];
  }
  out->call.outputs[0].desc.dtype = impl->dtypes[impl->num_dtypes - 1];
  xhal_tensor_desc_t o;
  if (xhal_ref_output_desc(&out->call, &o) != XHAL_OK) return 0;
  if (o.dtype != impl->dtypes[impl->num_dtypes - 1]) return 0;
  out->call.outputs[0].desc = o;
  /* A readable name: the shapes, and the axis where it counts. */
  size_t n = 0;
  for (uint32_t i = 0; i <= num_inputs && n < sizeof(out->desc); ++i) {
    const xhal_tensor_desc_t* t =
        i < num_inputs ? &out->call.inputs[i].desc : &o;
    n += (size_t)snprintf(out->desc + n, sizeof(out->desc) - n, "%s[",
                          i == 0 ? "" : (i < num_inputs ? ", " : " -> "));
    for (uint32_t r = 0; r < t->rank && n < sizeof(out->desc); ++r) {
      n += (size_t)snprintf(out->desc + n, sizeof(out->desc) - n, "%s%llu",
                            r ? "," : "", (unsigned long long)t->dims[r]);
    }
    if (n < sizeof(out->desc)) {
      n += (size_t)snprintf(out->desc + n, sizeof(out->desc) - n, "]");
    }
  }
  if (has_axis(impl->op) && n < sizeof(out->desc)) {
    snprintf(out->desc + n, sizeof(out->desc) - n, " axis %d", axis);
  }
  return 1;
}

/* The broadcast class of a binary call (XHAL_BROADCAST_*), as
 * xhal_types.h defines it. */
static uint32_t broadcast_class(const xhal_plugin_op_call_t* call) {
  const xhal_tensor_desc_t* a = &call->inputs[0].desc;
  const xhal_tensor_desc_t* b = &call->inputs[1].desc;
  const xhal_tensor_desc_t* o = &call->outputs[0].desc;
  uint64_t na = xhal_ref_numel(a), nb = xhal_ref_numel(b);
  uint64_t no = xhal_ref_numel(o);
  if (na == no && nb == no) return XHAL_BROADCAST_SAME;
  if (na != no && nb != no) return XHAL_BROADCAST_GENERAL;
  const xhal_tensor_desc_t* s = na == no ? b : a;
  if (xhal_ref_numel(s) == 1) return XHAL_BROADCAST_SCALAR;
  if (s->rank > o->rank) return XHAL_BROADCAST_GENERAL;
  uint64_t p[XHAL_MAX_RANK];
  uint32_t off = o->rank - s->rank;
  for (uint32_t i = 0; i < o->rank; ++i) {
    p[i] = i < off ? 1 : s->dims[i - off];
  }
  uint32_t k = 0;
  while (k < o->rank && p[k] == 1) ++k;
  int row = 1;
  for (uint32_t j = k; j < o->rank; ++j) row = row && p[j] == o->dims[j];
  if (row) return XHAL_BROADCAST_ROW;
  int column = o->rank >= 1 && p[o->rank - 1] == 1;
  for (uint32_t j = 0; j + 1 < o->rank; ++j) {
    column = column && p[j] == o->dims[j];
  }
  return column ? XHAL_BROADCAST_COLUMN : XHAL_BROADCAST_GENERAL;
}

static uint32_t norm_axis(const xhal_plugin_op_call_t* call) {
  int32_t axis = call->attrs.axis;
  uint32_t rank = call->inputs[0].desc.rank;
  if (call->op == XHAL_OP_LAYER_NORM) axis = -1;
  if (axis < 0) axis += (int32_t)rank;
  return (uint32_t)axis;
}

/* The row of a call as xhal_op_limits_t.max_row counts it; 0 if none. */
static uint64_t row_of(const xhal_plugin_op_call_t* call) {
  if (is_binary(call->op)) {
    uint32_t cls = broadcast_class(call);
    const xhal_tensor_desc_t* o = &call->outputs[0].desc;
    if (cls == XHAL_BROADCAST_ROW) {
      uint64_t na = xhal_ref_numel(&call->inputs[0].desc);
      uint64_t nb = xhal_ref_numel(&call->inputs[1].desc);
      return na < nb ? na : nb;
    }
    if (cls == XHAL_BROADCAST_COLUMN) return o->dims[o->rank - 1];
    return 0;
  }
  if (has_axis(call->op) || call->op == XHAL_OP_LAYER_NORM) {
    const xhal_tensor_desc_t* x = &call->inputs[0].desc;
    return x->rank ? x->dims[norm_axis(call)] : 0;
  }
  return 0;
}

/* Which declared limit the call breaks, or NULL. */
static const char* broken_limit(const xhal_op_limits_t* l,
                                const xhal_plugin_op_call_t* call) {
  if ((l->flags & XHAL_OP_LIMIT_BROADCASTS) && is_binary(call->op) &&
      !(broadcast_class(call) & l->broadcasts)) {
    return "broadcasts";
  }
  if ((l->flags & XHAL_OP_LIMIT_AXES) && has_axis(call->op)) {
    const xhal_tensor_desc_t* x = &call->inputs[0].desc;
    uint32_t axis = norm_axis(call), cls = XHAL_AXIS_INNERMOST;
    for (uint32_t j = axis + 1; j < x->rank; ++j) {
      if (x->dims[j] != 1) cls = XHAL_AXIS_OUTER;
    }
    if (!(cls & l->axes)) return "axes";
  }
  for (uint32_t i = 0; i <= call->num_inputs; ++i) {
    const xhal_tensor_desc_t* t =
        i < call->num_inputs ? &call->inputs[i].desc : &call->outputs[0].desc;
    if ((l->flags & XHAL_OP_LIMIT_RANK) && t->rank > l->max_rank) {
      return "max_rank";
    }
    for (uint32_t r = 0; r < t->rank; ++r) {
      if ((l->flags & XHAL_OP_LIMIT_DIM) && t->dims[r] > l->max_dim) {
        return "max_dim";
      }
    }
  }
  if ((l->flags & XHAL_OP_LIMIT_ROW) && row_of(call) > l->max_row) {
    return "max_row";
  }
  return NULL;
}

/* Appends a probe with inputs in[0..k) if the catalog takes it. */
static void add_probe(const xhal_plugin_op_impl_t* impl, uint32_t k,
                      const xhal_tensor_desc_t* in, int32_t axis,
                      probe_t* probes, uint32_t capacity, uint32_t* n) {
  if (*n < capacity && make_probe(impl, k, in, axis, &probes[*n])) ++*n;
}

/* Probe calls for `impl`: fixed shapes of every class, then both sides of
 * each numeric bound. Returns how many were written. */
static uint32_t build_probes(const xhal_plugin_op_impl_t* impl,
                             const xhal_op_limits_t* l, probe_t* probes,
                             uint32_t capacity) {
  uint32_t n = 0;
  xhal_op_t op = impl->op;
  xhal_tensor_desc_t in[2];
  xhal_dtype_t dt = impl->dtypes[0];
  /* Bounds with room on both sides (a bound near 2^64 has no "past"). */
  uint64_t row = (l->flags & XHAL_OP_LIMIT_ROW) && l->max_row < (1ull << 40)
                     ? l->max_row
                     : 0;
  uint64_t dim = (l->flags & XHAL_OP_LIMIT_DIM) && l->max_dim < (1ull << 40)
                     ? l->max_dim
                     : 0;
  if (is_binary(op)) {
    static const struct {
      uint32_t ra, rb;
      uint64_t a[3], b[3];
    } kShapes[] = {
        {2, 2, {3, 5}, {3, 5}},    {2, 1, {3, 5}, {1}},
        {2, 1, {3, 5}, {5}},       {3, 2, {2, 3, 5}, {3, 5}},
        {2, 2, {3, 5}, {3, 1}},    {3, 3, {2, 3, 5}, {2, 3, 1}},
        {2, 2, {3, 1}, {1, 5}},    {3, 3, {2, 3, 5}, {2, 1, 5}},
        {3, 2, {2, 3, 5}, {3, 1}},
    };
    for (size_t i = 0; i < sizeof(kShapes) / sizeof(kShapes[0]); ++i) {
      for (int swap = 0; swap < 2; ++swap) {
        in[swap] = desc_of(dt, kShapes[i].ra, kShapes[i].a);
        in[1 - swap] = desc_of(dt, kShapes[i].rb, kShapes[i].b);
        add_probe(impl, 2, in, -1, probes, capacity, &n);
      }
    }
    for (uint64_t r = row; r && r <= row + 1; ++r) {
      in[0] = desc_of(dt, 2, (uint64_t[]){2, r});
      in[1] = desc_of(dt, 1, (uint64_t[]){r});
      add_probe(impl, 2, in, -1, probes, capacity,
                &n); /* ROW with a row of r */
      in[1] = desc_of(dt, 2, (uint64_t[]){2, 1});
      add_probe(impl, 2, in, -1, probes, capacity,
                &n); /* COLUMN with a row of r */
      in[1] = in[0];
      add_probe(impl, 2, in, -1, probes, capacity,
                &n); /* SAME: no row at all */
    }
  } else if (is_unary(op)) {
    in[0] = desc_of(dt, 2, (uint64_t[]){3, 5});
    add_probe(impl, 1, in, -1, probes, capacity, &n);
  } else if (has_axis(op) || op == XHAL_OP_LAYER_NORM) {
    in[0] = desc_of(dt, 2, (uint64_t[]){4, 6});
    add_probe(impl, 1, in, 0, probes, capacity, &n);
    add_probe(impl, 1, in, 1, probes, capacity, &n);
    add_probe(impl, 1, in, -1, probes, capacity, &n);
    in[0] = desc_of(dt, 3, (uint64_t[]){4, 6, 1});
    add_probe(impl, 1, in, 0, probes, capacity, &n);
    add_probe(impl, 1, in, 1, probes, capacity, &n);
    for (uint64_t r = row; r && r <= row + 1; ++r) {
      in[0] = desc_of(dt, 2, (uint64_t[]){2, r});
      add_probe(impl, 1, in, -1, probes, capacity, &n);
    }
  } else if (op == XHAL_OP_MATMUL) {
    in[0] = desc_of(dt, 2, (uint64_t[]){3, 4});
    in[1] = desc_of(impl->dtypes[1], 2, (uint64_t[]){4, 5});
    add_probe(impl, 2, in, -1, probes, capacity, &n);
    for (uint64_t d = dim; d && d <= dim + 1; ++d) {
      in[0] = desc_of(dt, 2, (uint64_t[]){d, 1});
      in[1] = desc_of(impl->dtypes[1], 2, (uint64_t[]){1, 1});
      add_probe(impl, 2, in, -1, probes, capacity, &n);
    }
  }
  /* Rank and dims on the operators whose shapes are free. */
  if (is_unary(op) || is_binary(op)) {
    uint32_t k = is_binary(op) ? 2 : 1;
    for (uint64_t d = dim; d && d <= dim + 1; ++d) {
      in[0] = in[1] = desc_of(dt, 1, (uint64_t[]){d});
      add_probe(impl, k, in, -1, probes, capacity, &n);
    }
    if ((l->flags & XHAL_OP_LIMIT_RANK) && l->max_rank < XHAL_MAX_RANK) {
      uint64_t ones[XHAL_MAX_RANK] = {2, 1, 1, 1, 1, 1, 1, 1};
      for (uint32_t r = l->max_rank; r <= l->max_rank + 1; ++r) {
        in[0] = in[1] = desc_of(dt, r, ones);
        add_probe(impl, k, in, -1, probes, capacity, &n);
      }
    }
  }
  return n;
}

/* ------------------------------------------------------------- R-KRN-9 */

static void check_wellformed(const xhal_plugin_op_impl_t* impl,
                             const xhal_op_limits_t* l) {
  const char* name = impl->name ? impl->name : "(null)";
  cts_check(l->struct_size >= sizeof(xhal_op_limits_t),
            "'%s': limits->struct_size %u is below %zu", name, l->struct_size,
            sizeof(xhal_op_limits_t));
  cts_check(!(l->flags & ~(uint32_t)XHAL_OP_LIMIT_FLAGS_ALL),
            "'%s': limits->flags 0x%x has unknown bits", name, l->flags);
  cts_check(impl->supports != NULL,
            "'%s' declares limits but has no supports() to apply them", name);
  int axis_op = has_axis(impl->op);
  int row_op = axis_op || is_binary(impl->op) || impl->op == XHAL_OP_LAYER_NORM;
  cts_check(!(l->flags & XHAL_OP_LIMIT_BROADCASTS) || is_binary(impl->op),
            "'%s': broadcasts declared for %s, not a binary elementwise op",
            name, kc_op_name(impl->op));
  cts_check(!(l->flags & XHAL_OP_LIMIT_AXES) || axis_op,
            "'%s': axes declared for %s, which has no axis", name,
            kc_op_name(impl->op));
  cts_check(!(l->flags & XHAL_OP_LIMIT_ROW) || row_op,
            "'%s': max_row declared for %s, which has no row", name,
            kc_op_name(impl->op));
  cts_check(!(l->flags & XHAL_OP_LIMIT_BROADCASTS) ||
                (l->broadcasts && !(l->broadcasts & ~XHAL_BROADCAST_ALL)),
            "'%s': limits->broadcasts 0x%x is empty or has unknown bits", name,
            l->broadcasts);
  cts_check(!(l->flags & XHAL_OP_LIMIT_AXES) ||
                (l->axes && !(l->axes & ~XHAL_AXIS_ALL)),
            "'%s': limits->axes 0x%x is empty or has unknown bits", name,
            l->axes);
  cts_check(!(l->flags & XHAL_OP_LIMIT_RANK) || l->max_rank <= XHAL_MAX_RANK,
            "'%s': limits->max_rank %u is above %d", name, l->max_rank,
            XHAL_MAX_RANK);
  cts_check(l->reserved == 0, "'%s': limits->reserved is %u", name,
            l->reserved);
}

void cts_test_limits_match_supports(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  uint32_t count = atomic_load(&d->impl_count);
  uint32_t declared = 0, asked = 0;
  enum { kProbes = 64 };
  probe_t probes[kProbes];
  for (uint32_t i = 0; i < count; ++i) {
    const xhal_plugin_op_impl_t* impl = &d->impls[i];
    if (!impl->limits) continue; /* a record from before 1.4, or none */
    ++declared;
    const xhal_op_limits_t* l = impl->limits;
    check_wellformed(impl, l);
    uint32_t index =
        impl->device_index == XHAL_PLUGIN_ALL_DEVICES ? 0 : impl->device_index;
    xhal_plugin_device_t dev = NULL;
    cts_ok(cts_direct_device(d, index, &dev), "device_open(%u)", index);
    uint32_t n = build_probes(impl, l, probes, kProbes);
    for (uint32_t p = 0; p < n; ++p) {
      const xhal_plugin_op_call_t* call = &probes[p].call;
      const char* broken = broken_limit(l, call);
      cts_step("%s: supports(%s)", impl->name, probes[p].desc);
      xhal_status_t s = impl->supports(impl->user_data, dev, call);
      ++asked;
      if (broken) {
        cts_check(s == XHAL_ERROR_UNSUPPORTED,
                  "'%s' takes %s (%s) although it breaks its declared %s",
                  impl->name, probes[p].desc, xhal_status_name(s), broken);
      } else if (!(l->flags & XHAL_OP_LIMIT_PARTIAL)) {
        cts_check(s == XHAL_OK,
                  "'%s' refuses %s (%s) although the call is inside every "
                  "limit it declared (flags 0x%x, no XHAL_OP_LIMIT_PARTIAL)",
                  impl->name, probes[p].desc, xhal_status_name(s), l->flags);
      }
    }
  }
  if (declared == 0) cts_skip("an implementation that declares limits");
  fprintf(stderr, "%u implementations declare limits; %u supports() probes\n",
          declared, asked);
}

/* ------------------------------------------------------------ R-KRN-10 */

static int limits_equal(const xhal_plugin_op_impl_t* impl,
                        const xhal_op_limits_t* listed) {
  xhal_op_limits_t want;
  memset(&want, 0, sizeof(want));
  if (impl->limits) want = *impl->limits;
  if (want.flags != listed->flags) return 0;
  return (!(want.flags & XHAL_OP_LIMIT_BROADCASTS) ||
          want.broadcasts == listed->broadcasts) &&
         (!(want.flags & XHAL_OP_LIMIT_AXES) || want.axes == listed->axes) &&
         (!(want.flags & XHAL_OP_LIMIT_RANK) ||
          want.max_rank == listed->max_rank) &&
         (!(want.flags & XHAL_OP_LIMIT_DIM) ||
          want.max_dim == listed->max_dim) &&
         (!(want.flags & XHAL_OP_LIMIT_ROW) || want.max_row == listed->max_row);
}

static int same_impl(const xhal_plugin_op_impl_t* impl,
                     const xhal_op_support_t* s) {
  return impl->op == s->op && impl->priority == s->priority &&
         impl->num_dtypes == s->num_dtypes &&
         memcmp(impl->dtypes, s->dtypes,
                impl->num_dtypes * sizeof(xhal_dtype_t)) == 0 &&
         impl->name && strcmp(impl->name, s->name) == 0 &&
         (impl->supports != NULL) == (s->has_supports != 0) &&
         (impl->limits != NULL) == (s->has_limits != 0) &&
         limits_equal(impl, &s->limits);
}

void cts_test_registry_listing(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  uint32_t registered = atomic_load(&d->impl_count);
  xhal_instance_t instance = cts_instance(ctx);
  uint32_t plugin_index = 0, devices = 0;
  cts_ok(xhal_device_plugin_index(cts_device(ctx), &plugin_index),
         "xhal_device_plugin_index");
  cts_ok(xhal_instance_device_count(instance, &devices), "device count");
  static xhal_op_impl_t listed[CTS_MAX_IMPLS];
  static uint8_t matched[CTS_DIRECT_MAX_IMPLS];
  uint32_t k = 0, total_listed = 0;
  for (uint32_t i = 0; i < devices; ++i) {
    xhal_device_t dev = NULL;
    uint32_t owner = 0;
    cts_ok(xhal_instance_device(instance, i, &dev), "device %u", i);
    cts_ok(xhal_device_plugin_index(dev, &owner), "plugin index");
    if (owner != plugin_index) continue;
    uint32_t count = 0;
    cts_step("xhal_registry_list of the plugin's device %u", k);
    cts_ok(xhal_registry_list(dev, CTS_MAX_IMPLS, listed, &count),
           "xhal_registry_list");
    cts_check(count <= CTS_MAX_IMPLS, "device %u lists %u implementations", k,
              count);
    memset(matched, 0, sizeof(matched));
    xhal_op_t last = 0;
    for (uint32_t j = 0; j < count; ++j) {
      xhal_op_support_t s;
      memset(&s, 0, sizeof(s));
      s.struct_size = sizeof(s);
      cts_ok(xhal_op_impl_support(listed[j], &s), "xhal_op_impl_support");
      cts_check(s.op >= last,
                "device %u: the listing is not sorted by operator (%s after "
                "op %u)",
                k, s.name, last);
      last = s.op;
      if (!s.from_plugin) continue;
      ++total_listed;
      uint32_t found = registered;
      for (uint32_t r = 0; r < registered && found == registered; ++r) {
        const xhal_plugin_op_impl_t* impl = &d->impls[r];
        int here = impl->device_index == XHAL_PLUGIN_ALL_DEVICES ||
                   impl->device_index == k;
        if (here && !matched[r] && same_impl(impl, &s)) found = r;
      }
      cts_check(found < registered,
                "device %u lists '%s' (%s, priority %d, %u dtypes), which "
                "matches nothing the plugin registered for it",
                k, s.name, kc_op_name(s.op), s.priority, s.num_dtypes);
      matched[found] = 1;
      if (s.op < XHAL_OP_CUSTOM_BASE) {
        char why[512];
        cts_check(cts_signature_valid(ctx, &d->impls[found], why, sizeof(why)),
                  "device %u lists '%s' with a signature outside the "
                  "catalog: %s",
                  k, s.name, why);
      }
    }
    for (uint32_t r = 0; r < registered; ++r) {
      const xhal_plugin_op_impl_t* impl = &d->impls[r];
      int here = impl->device_index == XHAL_PLUGIN_ALL_DEVICES ||
                 impl->device_index == k;
      cts_check(!here || matched[r],
                "'%s' (%s), registered for device %u, is missing from its "
                "listing (or listed with other fields)",
                impl->name ? impl->name : "(null)", kc_op_name(impl->op), k);
    }
    ++k;
  }
  cts_check(k > 0, "libxhal lists no device of the plugin");
  if (registered == 0) cts_skip("an operator implementation of the plugin");
  fprintf(stderr, "%u devices, %u listed implementations of the plugin\n", k,
          total_listed);
}
