/*
 * asan_defaults.c - linked into every executable of an ASan build.
 *
 * use_sigaltstack=0: PoCL compiles OpenCL C with LLVM in the calling
 * thread, and LLVM installs a malloc'ed signal stack of its own when the
 * one in place is smaller than it wants (ASan's is, on AVX-512 hosts). At
 * that thread's exit GCC 12's ASan unmaps whatever signal stack is
 * installed and aborts on the heap block ("unable to unmap"); newer
 * runtimes unmap only their own (llvm/llvm-project#179000). ASAN_OPTIONS
 * still overrides this.
 */
__attribute__((visibility("default"))) const char* __asan_default_options(void);

const char* __asan_default_options(void) { return "use_sigaltstack=0"; }
