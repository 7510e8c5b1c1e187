#!/usr/bin/env python3
"""Checks an xhal trace: valid Chrome trace-event JSON, complete events
properly nested per track, one named track per stream, and the expected
API calls and operations present.

usage: check_trace.py TRACE --streams N --api NAME... --ops NAME...
"""
import argparse
import json
import sys


def fail(msg):
    print("trace check failed: " + msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--streams", type=int, required=True)
    ap.add_argument("--api", nargs="*", default=[])
    ap.add_argument("--ops", nargs="*", default=[])
    args = ap.parse_args()
    with open(args.trace) as f:
        doc = json.load(f)
    events = doc.get("traceEvents")
    if not isinstance(events, list) or not events:
        fail("no traceEvents array")
    tracks = {}
    names = {"api": set(), "op": set()}
    stream_tracks = set()
    for e in events:
        for key in ("name", "ph", "pid"):
            if key not in e:
                fail("event without %s: %r" % (key, e))
        if e["ph"] == "M":
            if e["name"] == "thread_name" and e["pid"] == 2:
                stream_tracks.add(e["tid"])
            continue
        if e["ph"] != "X":
            fail("unexpected phase %r" % e["ph"])
        if e["dur"] < 0 or e["ts"] < 0:
            fail("negative time in %r" % e)
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
                fail("%s on track %r overlaps its parent" % (e["name"], key))
            stack.append(end)
    op_tracks = {tid for (pid, tid) in tracks if pid == 2}
    if len(stream_tracks) != args.streams:
        fail("%d stream tracks, expected %d" % (len(stream_tracks), args.streams))
    if not op_tracks <= stream_tracks:
        fail("operations on unnamed tracks %r" % (op_tracks - stream_tracks))
    for name in args.api:
        if name not in names["api"]:
            fail("no API event %s (have %s)" % (name, sorted(names["api"])))
    for name in args.ops:
        if name not in names["op"]:
            fail("no op event %s (have %s)" % (name, sorted(names["op"])))
    print("trace ok: %d events, %d stream tracks" % (len(events), len(stream_tracks)))


if __name__ == "__main__":
    main()
