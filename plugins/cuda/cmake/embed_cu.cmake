# Turns CUDA C sources into a C file of NUL-terminated byte arrays, so the
# plugin carries its operator kernels and needs no files at run time.
#   cmake -DOUT=<file.c> -DINPUTS=<a.cu;b.cu> -P embed_cu.cmake
# Each input <dir>/<name>.cu becomes `const char cu_src_<name>[]`.
if(NOT OUT OR NOT INPUTS)
  message(FATAL_ERROR "embed_cu.cmake needs OUT and INPUTS")
endif()
set(body "/* Generated from plugins/cuda/kernels by embed_cu.cmake. */\n")
foreach(input ${INPUTS})
  get_filename_component(name "${input}" NAME_WE)
  file(READ "${input}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" hex "${hex}")
  string(APPEND body "extern const char cu_src_${name}[];\n")
  string(APPEND body "const char cu_src_${name}[] = {\n${hex}0x00};\n")
endforeach()
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
