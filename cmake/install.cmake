# install.cmake — `make install PREFIX=...` (included by CMakeLists.txt):
# nncc, nncc-run, the runtime (shared libnncc_rt.so and static libnncc_rt.a),
# the kernel library every compiled model links (libnncc_rt_kernels.a), the
# public header, nncc.pc (pkg-config) and nnccConfig.cmake (find_package).
# docs/embedding.md shows both in use; tests/install/ checks them.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The runtime once more as a static library, for applications that link a
# model's object file and want no shared library at all.
add_library(nncc_rt_static STATIC ${RT_SRC})
target_include_directories(nncc_rt_static PUBLIC include)
set_target_properties(nncc_rt_static PROPERTIES OUTPUT_NAME nncc_rt)

# The installed commands find libnncc_rt.so and the kernel library relative
# to themselves (bin/ -> lib/), wherever the prefix is moved.
file(RELATIVE_PATH NNCC_BIN_TO_LIB ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
set_target_properties(nncc nncc-run PROPERTIES INSTALL_RPATH "$ORIGIN/${NNCC_BIN_TO_LIB}")
target_compile_definitions(nncc PRIVATE
  NNCC_INSTALL_KERNELS_REL="${NNCC_BIN_TO_LIB}/libnncc_rt_kernels.a")

install(TARGETS nncc nncc-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS nncc_rt LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS nncc_rt_static nncc_rt_kernels ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/nncc/nncc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nncc)
install(DIRECTORY python/nncc DESTINATION ${CMAKE_INSTALL_DATADIR}/nncc/python
        FILES_MATCHING PATTERN "*.py")

# pkg-config and CMake package files; both know the prefix only relatively.
file(RELATIVE_PATH NNCC_PCDIR_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
file(RELATIVE_PATH NNCC_CMAKEDIR_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/cmake/nncc ${CMAKE_INSTALL_PREFIX})
configure_file(cmake/nncc.pc.in ${CMAKE_BINARY_DIR}/nncc.pc @ONLY)
configure_file(cmake/nnccConfig.cmake.in ${CMAKE_BINARY_DIR}/nnccConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/nnccConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/nncc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/nnccConfig.cmake ${CMAKE_BINARY_DIR}/nnccConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nncc)
