#!/usr/bin/env python3
"""check_api_contracts.py - every public function has its contract.

Test api_contracts (hal/CMakeLists.txt). Every function declared in the
framework headers (XHAL_API in xhal/xhal.h, xhal/xhal_pool.h) and every
entry of the plugin ABI's tables (xhal_plugin_dispatch_t,
xhal_host_services_t, xhal_plugin_op_impl_t in xhal/xhal_plugin.h) must
carry a Doxygen comment right above it that states who owns its arguments
and results, its thread-safety, and what it returns. Doxygen
(doxygen_api_docs) checks that a comment exists; this checks what it says.

    check_api_contracts.py <header>...
"""
import re
import sys

OWNERSHIP = ("Ownership", "borrowed", "consumes", "owns", "copied",
             "read during the call")
THREADS = ("Thread-safety", "thread-safe", "serialised")
STATUSES = ("@return", "Returns nothing", "Cannot fail", "cannot fail")


def comment_above(lines, i):
    """The /** */ comment ending right above line i, or None."""
    j = i - 1
    if j < 0 or not lines[j].rstrip().endswith("*/"):
        return None
    while j >= 0 and not lines[j].lstrip().startswith("/*"):
        j -= 1
    if j < 0 or not lines[j].lstrip().startswith("/**"):
        return None
    return "\n".join(lines[j:i])


def check(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    problems = []
    struct = None
    for i, line in enumerate(lines):
        m = re.match(r"typedef struct (\w+) \{", line)
        if m:
            struct = m.group(1)
        if line.startswith("}"):
            struct = None
        name = None
        if line.startswith("XHAL_API"):
            decl = line + " " + (lines[i + 1] if i + 1 < len(lines) else "")
            m = re.search(r"\b(xhal_\w+)\(", decl)
            name = m.group(1) if m else None
        elif struct in ("xhal_plugin_dispatch", "xhal_host_services",
                        "xhal_plugin_op_impl"):
            m = re.search(r"\(\*(\w+)\)\(", line)
            if m and not line.lstrip().startswith("*"):
                name = struct + "." + m.group(1)
        if not name:
            continue
        doc = comment_above(lines, i)
        if doc is None:
            problems.append(f"{path}:{i + 1}: {name}: no Doxygen comment")
            continue
        for what, words in (("ownership", OWNERSHIP),
                            ("thread-safety", THREADS),
                            ("returned statuses", STATUSES)):
            if not any(w in doc for w in words):
                problems.append(f"{path}:{i + 1}: {name}: the comment does "
                                f"not state its {what}")
    return problems


def main():
    problems = []
    for path in sys.argv[1:]:
        problems += check(path)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
