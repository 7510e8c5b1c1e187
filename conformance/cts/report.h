/*
 * report.h - the run's reports: the console table, JSON and JUnit XML
 * (formats in docs/conformance.md).
 */
#ifndef XHAL_CTS_REPORT_H_
#define XHAL_CTS_REPORT_H_

#include <stddef.h>
#include <stdio.h>

#include "cts.h"

/* Per plugin: a suite x pass/fail/skip/xfail table, the failures, and
 * the skipped capabilities; then one line per plugin. */
void cts_report_console(FILE* out, const cts_plugin_run_t* runs,
                        uint32_t count);

/* Write the JSON / JUnit report to `path`; 0 on success, -1 on an I/O
 * error (with a message on stderr). */
int cts_report_json(const char* path, const cts_plugin_run_t* runs,
                    uint32_t count);
int cts_report_junit(const char* path, const cts_plugin_run_t* runs,
                     uint32_t count);

/* Escapers, exposed for their unit test. Each writes `in` to `out` as a
 * JSON string body / XML attribute or text, replacing bytes that are not
 * valid UTF-8 (and, for XML, control characters XML 1.0 forbids) with
 * '?'. */
void cts_json_escape(FILE* out, const char* in);
void cts_xml_escape(FILE* out, const char* in);

#endif /* XHAL_CTS_REPORT_H_ */
