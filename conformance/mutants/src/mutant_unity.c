/*
 * mutant_unity.c - the whole mutant plugin as one translation unit, so
 * that each of its many builds (one per MUTANT_* defect, see
 * conformance/mutants/CMakeLists.txt) is a single compile.
 */
#include "mutant_plugin.c"
#include "mutant_memory.c"
#include "mutant_stream.c"
#include "mutant_event.c"
#include "mutant_ops.c"
