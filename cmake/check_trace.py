#!/usr/bin/env python3
"""Checks an xhal trace: valid Chrome trace-event JSON, complete events
properly nested per track, one named track per stream, and the expected
API calls and operations present.

usage: check_trace.py TRACE --streams N --api NAME... --ops NAME...

check_trace() is importable (cmake/check_sample_trace.py uses it) and
returns what it parsed, so other checkers can add their own rules.
"""
import argparse
import json
import sys


class TraceError(Exception):
    pass


def fail(msg):
    print("trace check failed: " + msg)
    sys.exit(1)


def check_trace(path, streams=None, api=(), ops=()):
    """Validates the trace at `path`; raises TraceError on the first broken
    rule. Returns (events, tracks, stream_names): tracks maps (pid, tid) to
    its complete events, stream_names maps a stream track's tid to its
    name."""
    with open(path) as f:
        try:
            doc = json.load(f)
        except ValueError as e:
            raise TraceError("not JSON: %s" % e)
    events = doc.get("traceEvents") if isinstance(doc, dict) else None
    if not isinstance(events, list) or not events:
        raise TraceError("no traceEvents array")
    tracks = {}
    names = {"api": set(), "op": set()}
    stream_names = {}
    for e in events:
        for key in ("name", "ph", "pid"):
            if key not in e:
                raise TraceError("event without %s: %r" % (key, e))
        if e["ph"] == "M":
            if e["name"] == "thread_name" and e["pid"] == 2:
                if e["tid"] in stream_names:
                    raise TraceError("stream track %r named twice" % e["tid"])
                stream_names[e["tid"]] = e.get("args", {}).get("name", "")
            continue
        if e["ph"] != "X":
            raise TraceError("unexpected phase %r" % e["ph"])
        for key in ("tid", "ts", "dur", "cat"):
            if key not in e:
                raise TraceError("complete event without %s: %r" % (key, e))
        if e["dur"] < 0 or e["ts"] < 0:
            raise TraceError("negative time in %r" % e)
        names.setdefault(e["cat"], set()).add(e["name"])
        tracks.setdefault((e["pid"], e["tid"]), []).append(e)
    for key, evs in tracks.items():
        # Complete events on one track must nest: sorted by start, each one
        # ends before its enclosing one ends (1 us slack for rounding).
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in evs:
            end = e["ts"] + e["dur"]
            while stack and stack[-1] <= e["ts"]:
                stack.pop()
            if stack and end > stack[-1] + 1.0:
                raise TraceError(
                    "%s on track %r overlaps its parent" % (e["name"], key))
            stack.append(end)
    stream_tracks = set(stream_names)
    op_tracks = {tid for (pid, tid) in tracks if pid == 2}
    if streams is not None and len(stream_tracks) != streams:
        raise TraceError(
            "%d stream tracks, expected %d" % (len(stream_tracks), streams))
    if not op_tracks <= stream_tracks:
        raise TraceError(
            "operations on unnamed tracks %r" % (op_tracks - stream_tracks))
    for name in api:
        if name not in names["api"]:
            raise TraceError(
                "no API event %s (have %s)" % (name, sorted(names["api"])))
    for name in ops:
        if name not in names["op"]:
            raise TraceError(
                "no op event %s (have %s)" % (name, sorted(names["op"])))
    return events, tracks, stream_names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--streams", type=int, required=True)
    ap.add_argument("--api", nargs="*", default=[])
    ap.add_argument("--ops", nargs="*", default=[])
    args = ap.parse_args()
    try:
        events, _, stream_names = check_trace(
            args.trace, args.streams, args.api, args.ops)
    except (TraceError, OSError) as e:
        fail(str(e))
    print("trace ok: %d events, %d stream tracks" % (len(events), len(stream_names)))


if __name__ == "__main__":
    main()
