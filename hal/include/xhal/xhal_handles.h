/**
 * @file xhal_handles.h
 * @brief The opaque object handles of the framework API and its export
 * macro.
 *
 * Both framework headers, xhal/xhal.h and xhal/xhal_pool.h, declare their
 * functions over these handles; this header lets each of them stand alone
 * without including the other (no include cycle). Applications include
 * xhal/xhal.h, which includes this header; it does not include the plugin
 * ABI (xhal/xhal_plugin.h).
 *
 * Every handle is a pointer to an object owned by libxhal; its lifetime
 * and thread-safety are stated with the functions that create it.
 */
#ifndef XHAL_HANDLES_H_
#define XHAL_HANDLES_H_

#include <xhal/xhal_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function libxhal exports (default visibility). */
#if defined(__GNUC__) || defined(__clang__)
#define XHAL_API __attribute__((visibility("default")))
#else
#define XHAL_API
#endif

/** The root object: loaded plugins, their devices, the kernel registry. */
typedef struct xhal_instance* xhal_instance_t;
/** One device of a loaded plugin; owned by its instance. */
typedef struct xhal_device* xhal_device_t;
/** Device memory, or a view of part of it. */
typedef struct xhal_buffer* xhal_buffer_t;
/** An in-order asynchronous queue of work on one device. */
typedef struct xhal_stream* xhal_stream_t;
/** A point in a stream's work that the host or other streams can wait on. */
typedef struct xhal_event* xhal_event_t;
/** A program built from kernel-language source for one device. */
typedef struct xhal_program* xhal_program_t;
/** One kernel of a program, launched with xhal_stream_enqueue_kernel. */
typedef struct xhal_kernel* xhal_kernel_t;
/** One operator implementation in the kernel registry; owned by its
 * instance. */
typedef struct xhal_op_impl* xhal_op_impl_t;

#ifdef __cplusplus
}
#endif

#endif /* XHAL_HANDLES_H_ */
