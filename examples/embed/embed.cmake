# examples/embed (included by CMakeLists.txt): examples/fashion_cnn.onnx
# compiled at build time into an object file and its header (nncc
# --emit=obj/--emit=header --name=fashion), linked statically into
# fashion_embed with the static runtime and the kernel library.
find_library(ZLIB_LIB z REQUIRED)
set(EMBED_DIR ${CMAKE_BINARY_DIR}/examples/embed)
set(EMBED_FLAGS ${CMAKE_SOURCE_DIR}/examples/fashion_cnn.onnx --shape input=1,1,28,28 --name=fashion)
add_custom_command(
  OUTPUT ${EMBED_DIR}/fashion.o ${EMBED_DIR}/fashion.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${EMBED_DIR}
  COMMAND nncc ${EMBED_FLAGS} --emit=obj -o ${EMBED_DIR}/fashion.o
  COMMAND nncc ${EMBED_FLAGS} --emit=header -o ${EMBED_DIR}/fashion.h
  DEPENDS nncc nncc_rt_kernels ${CMAKE_SOURCE_DIR}/examples/fashion_cnn.onnx
  COMMENT "nncc: examples/fashion_cnn.onnx -> fashion.o, fashion.h")
set_source_files_properties(${EMBED_DIR}/fashion.o PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
add_executable(fashion_embed examples/embed/embed.c examples/common.c ${EMBED_DIR}/fashion.o
  ${EMBED_DIR}/fashion.h)
target_include_directories(fashion_embed PRIVATE ${EMBED_DIR})
target_link_libraries(fashion_embed PRIVATE nncc_rt_static nncc_rt_kernels ${OPENBLAS_LIB} ${ZLIB_LIB}
  ${CMAKE_DL_LIBS} Threads::Threads m)
