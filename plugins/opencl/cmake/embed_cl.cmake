# Turns OpenCL C sources into a C file of NUL-terminated byte arrays, so
# the plugin carries its kernels and needs no files at run time.
#   cmake -DOUT=<file.c> -DINPUTS=<a.cl;b.cl> -P embed_cl.cmake
# Each input <dir>/<name>.cl becomes `const char ocl_src_<name>[]`.
if(NOT OUT OR NOT INPUTS)
  message(FATAL_ERROR "embed_cl.cmake needs OUT and INPUTS")
endif()
set(body "/* Generated from plugins/opencl/kernels by embed_cl.cmake. */\n")
string(APPEND body "#include \"ocl_sources.h\"\n")
foreach(input ${INPUTS})
  get_filename_component(name "${input}" NAME_WE)
  file(READ "${input}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" hex "${hex}")
  string(APPEND body "const char ocl_src_${name}[] = {\n${hex}0x00};\n")
endforeach()
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
