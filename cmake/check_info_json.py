#!/usr/bin/env python3
"""Runs `xhal-info --json` over a good plugin and broken ones and checks
the report.

usage: check_info_json.py XHAL_INFO GOOD_PLUGIN BROKEN_PLUGIN...

XHAL_PLUGINS lists the good plugin first, then the broken ones. The check
passes when xhal-info exits 0 and prints one JSON object that follows the
documented schema (docs/framework-guide.md), in which the good plugin is
"loaded" and owns at least one device, and every broken plugin is
"rejected" with a non-empty reason. Any other outcome prints what differs
and exits 1.
"""
import json
import os
import re
import subprocess
import sys

PLUGIN_KEYS = {"name", "path", "status", "reason"}
DEVICE_KEYS = {"index", "plugin", "name", "vendor", "kind", "memory_bytes",
               "compute_units", "dtypes"}
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


def main():
    if len(sys.argv) < 4:
        fail("usage: check_info_json.py XHAL_INFO GOOD_PLUGIN BROKEN...")
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
    for path in broken:
        entry = by_path.get(os.path.realpath(path))
        if entry is None:
            fail("%s is missing from the plugin list" % path)
        if entry["status"] != "rejected" or not entry["reason"]:
            fail("%s is not rejected with a reason: %r" % (path, entry))
        print("%s: rejected: %s" % (os.path.basename(path), entry["reason"]))
    print("good plugin %s loaded with %d device(s)" % (good, len(owned)))


if __name__ == "__main__":
    main()
