/* error.c - status names and the per-thread last-error message. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <xhal/xhal.h>

enum { kMessageSize = 1024 };

typedef struct error_record {
  char message[kMessageSize];
  char plugin_text[kMessageSize]; /* the plugin's own words, unprefixed */
  xhal_status_t plugin_status; /* status a plugin's message belongs to */
  int plugin_pending;          /* plugin message not yet consumed */
} error_record_t;

/* Thread-local by design: see error.h. */
static _Thread_local error_record_t tls_error;

static const char* const kStatusNames[XHAL_STATUS_COUNT] = {
    "XHAL_OK",
    "XHAL_ERROR_INVALID_ARGUMENT",
    "XHAL_ERROR_INVALID_HANDLE",
    "XHAL_ERROR_OUT_OF_RANGE",
    "XHAL_ERROR_OUT_OF_MEMORY",
    "XHAL_ERROR_UNSUPPORTED",
    "XHAL_ERROR_ABI_MISMATCH",
    "XHAL_ERROR_PLUGIN_LOAD",
    "XHAL_ERROR_NOT_FOUND",
    "XHAL_ERROR_DTYPE_MISMATCH",
    "XHAL_ERROR_SHAPE_MISMATCH",
    "XHAL_ERROR_TIMEOUT",
    "XHAL_ERROR_NOT_READY",
    "XHAL_ERROR_INVALID_STATE",
    "XHAL_ERROR_EXECUTION_FAILED",
    "XHAL_ERROR_DEVICE_LOST",
    "XHAL_ERROR_BUILD_FAILED",
    "XHAL_ERROR_INTERNAL",
    "XHAL_ERROR_VALIDATION",
};

XHAL_API const char* xhal_status_name(xhal_status_t status) {
  if (status < 0 || status >= XHAL_STATUS_COUNT) return "XHAL_ERROR_UNKNOWN";
  return kStatusNames[status];
}

XHAL_API const char* xhal_last_error(void) { return tls_error.message; }

xhal_status_t error_set(xhal_status_t status, const char* fmt, ...) {
  va_list ap;
  int n = snprintf(tls_error.message, sizeof(tls_error.message),
                   "%s: ", xhal_status_name(status));
  if (n < 0 || n >= (int)sizeof(tls_error.message)) n = 0;
  va_start(ap, fmt);
  vsnprintf(tls_error.message + n, sizeof(tls_error.message) - (size_t)n, fmt,
            ap);
  va_end(ap);
  tls_error.plugin_pending = 0;
  return status;
}

void error_set_from_plugin(const char* plugin_name, xhal_status_t status,
                           const char* message) {
  snprintf(tls_error.message, sizeof(tls_error.message), "%s: plugin '%s': %s",
           xhal_status_name(status), plugin_name ? plugin_name : "?",
           message ? message : "(no message)");
  snprintf(tls_error.plugin_text, sizeof(tls_error.plugin_text), "%s",
           message ? message : "(no message)");
  tls_error.plugin_status = status;
  tls_error.plugin_pending = 1;
}

int error_take_plugin_message(xhal_status_t status) {
  if (!tls_error.plugin_pending || tls_error.plugin_status != status) {
    return 0;
  }
  tls_error.plugin_pending = 0;
  return 1;
}

int error_take_plugin_text(xhal_status_t status, char* buf, size_t size) {
  if (!error_take_plugin_message(status)) return 0;
  snprintf(buf, size, "%s", tls_error.plugin_text);
  return 1;
}
