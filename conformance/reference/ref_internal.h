/*
 * ref_internal.h - what the reference's files share: the validated view of
 * a call and one entry point per operator family. Not installed; the
 * names carry an xref_ prefix because this library is linked statically
 * into other targets, where a short name could collide.
 */
#ifndef XHAL_REF_INTERNAL_H_
#define XHAL_REF_INTERNAL_H_

#include "xhal_reference.h"

/* Checks everything the loops rely on: the catalog's rules for the call
 * (xhal_ref_output_desc), that the output descriptor is the derived one,
 * that every byte size fits 64 bits and that pointers are non-NULL where
 * a tensor has elements. */
xhal_status_t xref_validate(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], const void* output);

/* Row-major strides of `desc` in elements. */
void xref_strides(const xhal_tensor_desc_t* desc,
                  uint64_t strides[XHAL_MAX_RANK]);

/* int32 two's-complement wrap of a 32-bit pattern, without relying on the
 * implementation-defined unsigned-to-signed conversion. */
int32_t xref_wrap_i32(uint32_t bits);
int32_t xref_get_i32(const void* data, uint64_t index);
void xref_put_i32(void* data, uint64_t index, int32_t value);

/* Operator families. Each takes a call xref_validate accepted. */
void xref_binary(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output);
void xref_unary(const xhal_plugin_op_call_t* call, const void* const inputs[],
                void* output);
void xref_cast(const xhal_plugin_op_call_t* call, const void* const inputs[],
               void* output);
void xref_matmul(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output);
void xref_conv2d(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output);
void xref_softmax(const xhal_plugin_op_call_t* call, const void* const inputs[],
                  void* output);
void xref_layer_norm(const xhal_plugin_op_call_t* call,
                     const void* const inputs[], void* output);
void xref_reduce(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output);
void xref_transpose(const xhal_plugin_op_call_t* call,
                    const void* const inputs[], void* output);

/* The axis attribute resolved against `rank` (the call was validated, so
 * it is in range). */
uint32_t xref_axis(int32_t axis, uint32_t rank);

#endif /* XHAL_REF_INTERNAL_H_ */
