/*
 * error.h - the per-thread "last error" record of libxhal.
 *
 * A failing call stores a message naming what failed on the calling
 * thread; xhal_last_error() returns it. The record is thread-local rather
 * than per instance so that failures on NULL or stale handles, which belong
 * to no instance, still explain themselves (docs/design.md).
 */
#ifndef XHAL_HAL_ERROR_H_
#define XHAL_HAL_ERROR_H_

#include <stddef.h>
#include <xhal/xhal_types.h>

/* Formats the message for `status` and returns `status`. */
xhal_status_t error_set(xhal_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records a plugin's own message for the status it is about to return. */
void error_set_from_plugin(const char* plugin_name, xhal_status_t status,
                           const char* message);

/* If the last message was set by a plugin for `status` and not consumed
 * yet, marks it consumed and returns 1. */
int error_take_plugin_message(xhal_status_t status);

/* Like error_take_plugin_message, and copies the plugin's own message
 * (without libxhal's prefix) into `buf`. */
int error_take_plugin_text(xhal_status_t status, char* buf, size_t size);

#endif /* XHAL_HAL_ERROR_H_ */
