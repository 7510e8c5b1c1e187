#!/usr/bin/env python3
"""Runs `xhal-info --json` over a good plugin and broken ones and checks
the report.

usage: check_info_json.py XHAL_INFO GOOD_PLUGIN [BROKEN_PLUGIN...]

XHAL_PLUGINS lists the good plugin first, then the broken ones. The check
passes when xhal-info exits 0 and prints one JSON object that follows the
documented schema (docs/framework-guide.md), in which the good plugin is
"loaded" and owns at least one device, every device of it lists an
operator table with matmul f32, every broken plugin is "rejected" with a
non-empty reason, and an NPU device states its limits (no general
broadcast, softmax on the innermost axis only). Any other outcome prints
what differs and exits 1.
"""
import json
import os
import re
import subprocess
import sys

PLUGIN_KEYS = {"name", "path", "status", "reason"}
DEVICE_KEYS = {"index", "plugin", "name", "vendor", "kind", "memory_bytes",
               "compute_units", "dtypes", "operators"}
OPERATOR_KEYS = {"op", "op_id", "inputs", "output", "priority",
                 "implementation", "from_plugin", "supports_predicate",
                 "limits"}
OPS = {"add", "sub", "mul", "div", "max", "min", "relu", "gelu", "sigmoid",
       "tanh", "exp", "matmul", "conv2d", "softmax", "layer_norm",
       "reduce_sum", "reduce_max", "transpose", "cast", "custom"}
LIMIT_KEYS = {"partial", "broadcasts", "axes", "max_rank", "max_dim",
              "max_row"}
BROADCASTS = {"same", "scalar", "row", "column", "general"}
AXES = {"innermost", "outer"}
KINDS = {"cpu", "gpu", "npu", "other"}
DTYPES = {"f32", "f16", "i8", "i32"}


def fail(msg):
    print("check_info_json: " + msg)
    sys.exit(1)


def check_schema(doc):
    if not isinstance(doc, dict):
        fail("the output is not a JSON object")
    if not re.fullmatch(r"\d+\.\d+", str(doc.get("abi_version", ""))):
        fail("abi_version is not \"M.m\": %r" % doc.get("abi_version"))
    for plugin in doc.get("plugins", []):
        missing = PLUGIN_KEYS - set(plugin)
        if missing:
            fail("plugin %r lacks %s" % (plugin, sorted(missing)))
        if plugin["status"] not in ("loaded", "rejected"):
            fail("plugin status %r" % plugin["status"])
    for i, device in enumerate(doc.get("devices", [])):
        missing = DEVICE_KEYS - set(device)
        if missing:
            fail("device %r lacks %s" % (device, sorted(missing)))
        if device["index"] != i:
            fail("device %d has index %r" % (i, device["index"]))
        if device["kind"] not in KINDS:
            fail("device kind %r" % device["kind"])
        if not isinstance(device["memory_bytes"], int) or \
                device["memory_bytes"] <= 0:
            fail("device memory_bytes %r" % device["memory_bytes"])
        if not set(device["dtypes"]) <= DTYPES or not device["dtypes"]:
            fail("device dtypes %r" % device["dtypes"])
        last_id = 0
        for op in device["operators"]:
            check_operator(device, op)
            if op["op_id"] < last_id:
                fail("device %d: operators not sorted by op_id" % i)
            last_id = op["op_id"]


def check_operator(device, op):
    where = "device %d operator %r" % (device["index"], op)
    missing = OPERATOR_KEYS - set(op)
    if missing:
        fail("%s lacks %s" % (where, sorted(missing)))
    if op["op"] not in OPS or not isinstance(op["op_id"], int):
        fail("%s: unknown op" % where)
    if not op["inputs"] or not set(op["inputs"] + [op["output"]]) <= DTYPES:
        fail("%s: dtypes outside %s" % (where, sorted(DTYPES)))
    if not isinstance(op["priority"], int) or not op["implementation"]:
        fail("%s: priority or implementation" % where)
    for key in ("from_plugin", "supports_predicate"):
        if not isinstance(op[key], bool):
            fail("%s: %s is not a boolean" % (where, key))
    limits = op["limits"]
    if limits is None:
        return
    if not isinstance(limits, dict) or not set(limits) <= LIMIT_KEYS or \
            not isinstance(limits.get("partial"), bool):
        fail("%s: limits %r" % (where, limits))
    if not set(limits.get("broadcasts", [])) <= BROADCASTS or \
            not set(limits.get("axes", [])) <= AXES:
        fail("%s: limit classes %r" % (where, limits))
    for key in ("max_rank", "max_dim", "max_row"):
        if key in limits and (not isinstance(limits[key], int) or
                              limits[key] < 0):
            fail("%s: %s %r" % (where, key, limits[key]))


def check_device_table(device):
    """What the good plugin's devices must list."""
    ops = device["operators"]
    if not any(o["op"] == "matmul" and o["inputs"][:2] == ["f32", "f32"]
               and o["output"] == "f32" for o in ops):
        fail("device %d lists no matmul f32: %r" % (device["index"], ops))
    if device["kind"] != "npu":
        return
    for o in ops:
        limits = o["limits"] or {}
        if o["op"] in ("add", "sub", "mul", "div", "max", "min") and (
                "broadcasts" not in limits or
                "general" in limits["broadcasts"]):
            fail("NPU %s does not state its broadcasts: %r" % (o["op"], o))
        if o["op"] == "softmax" and limits.get("axes") != ["innermost"]:
            fail("NPU softmax does not state its axis: %r" % o)


def main():
    if len(sys.argv) < 3:
        fail("usage: check_info_json.py XHAL_INFO GOOD_PLUGIN [BROKEN...]")
    info, good, broken = sys.argv[1], sys.argv[2], sys.argv[3:]
    env = dict(os.environ, XHAL_PLUGINS=":".join([good] + broken))
    run = subprocess.run([info, "--json"], env=env, capture_output=True,
                         text=True, timeout=120)
    if run.returncode != 0:
        fail("xhal-info exited %d: %s" % (run.returncode, run.stderr))
    try:
        doc = json.loads(run.stdout)
    except ValueError as e:
        fail("not JSON (%s): %s" % (e, run.stdout[:400]))
    check_schema(doc)
    by_path = {os.path.realpath(p["path"]): p for p in doc["plugins"]}
    entry = by_path.get(os.path.realpath(good))
    if entry is None or entry["status"] != "loaded":
        fail("the good plugin is not loaded: %r" % entry)
    owned = [d for d in doc["devices"] if d["plugin"] == entry["name"]]
    if not owned:
        fail("the good plugin %s lists no device" % entry["name"])
    for device in owned:
        check_device_table(device)
    for path in broken:
        entry = by_path.get(os.path.realpath(path))
        if entry is None:
            fail("%s is missing from the plugin list" % path)
        if entry["status"] != "rejected" or not entry["reason"]:
            fail("%s is not rejected with a reason: %r" % (path, entry))
        print("%s: rejected: %s" % (os.path.basename(path), entry["reason"]))
    print("good plugin %s loaded with %d device(s), %d operator entries" %
          (good, len(owned), sum(len(d["operators"]) for d in owned)))


if __name__ == "__main__":
    main()
