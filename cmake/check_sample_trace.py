#!/usr/bin/env python3
"""Runs a sample under XHAL_TRACE and checks the trace against what the
sample says it did.

usage: check_sample_trace.py --trace FILE -- SAMPLE [ARGS...]

The sample must exit 0 and print one line per stream it created:
    stream 0x55d0c0a1b2c0 on <device name>: ops <impl> <impl> ...
(heterogeneous_mlp does). The trace must then pass check_trace.py's rules
(Chrome trace-event JSON that Perfetto loads, complete events nested per
track, operations only on named stream tracks), have exactly one stream
track per stream the sample created, named after that stream, and hold on
each stream's track exactly the operators the sample enqueued on it, in
that order. Copies, reads, writes and fills (the data movement around the
operators) may appear on any stream track.
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_trace import TraceError, check_trace  # noqa: E402

STREAM_LINE = re.compile(r"^stream (0x[0-9a-f]+) on (.*): ops(.*)$")
MOVEMENT = {"write", "read", "copy", "fill", "kernel"}


def fail(msg):
    print("sample trace check failed: " + msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trace", required=True)
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    if os.path.exists(args.trace):
        os.unlink(args.trace)
    env = dict(os.environ, XHAL_TRACE=args.trace)
    run = subprocess.run(args.command, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True,
                         timeout=240)
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        fail("the sample exited %d" % run.returncode)
    streams = []
    for line in run.stdout.splitlines():
        m = STREAM_LINE.match(line)
        if m:
            streams.append((m.group(1), m.group(2), m.group(3).split()))
    if not streams:
        fail("the sample printed no 'stream 0x... on ...: ops ...' line")
    impls = {name for _, _, ops in streams for name in ops}
    try:
        events, tracks, stream_names = check_trace(
            args.trace, streams=len(streams), api=["xhal_stream_record_event",
                                                   "xhal_stream_enqueue_op"],
            ops=sorted(impls))
    except (TraceError, OSError) as e:
        fail(str(e))
    seen_tids = set()
    for ptr, device, ops in streams:
        # libxhal names a stream's track "stream <address> on <device>".
        want = "stream %s on %s" % (ptr, device)
        tids = [tid for tid, name in stream_names.items() if name == want]
        if len(tids) != 1:
            fail("%d tracks named %r (have %r)" %
                 (len(tids), want, sorted(stream_names.values())))
        tid = tids[0]
        seen_tids.add(tid)
        on_track = sorted(tracks.get((2, tid), []), key=lambda e: e["ts"])
        got = [e["name"] for e in on_track if e["cat"] == "op"
               and e["name"] not in MOVEMENT]
        if got != ops:
            fail("track %d (%s) holds operators %r, the sample enqueued %r" %
                 (tid, want, got, ops))
        print("track %d: %s: %d operators as enqueued" % (tid, want, len(ops)))
    print("sample trace ok: %d events, %d stream tracks, one per stream" %
          (len(events), len(seen_tids)))


if __name__ == "__main__":
    main()
