/*
 * ocl_sources.h - the operator kernels' OpenCL C sources, embedded at
 * build time from the .cl files of kernels/ (cmake/embed_cl.cmake makes the
 * definitions).
 */
#ifndef XHAL_OCL_SOURCES_H_
#define XHAL_OCL_SOURCES_H_

extern const char ocl_src_common[];
extern const char ocl_src_elementwise[];
extern const char ocl_src_rowops[];
extern const char ocl_src_gemm[];
extern const char ocl_src_layout[];

#endif /* XHAL_OCL_SOURCES_H_ */
