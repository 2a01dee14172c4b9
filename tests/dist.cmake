# Data-parallel training (docs/distributed.md), included by CMakeLists.txt.
# The step's halves against the fused step need no MPI (dist/split); the
# two-rank run (dist/mpi2) needs OpenMPI and is skipped, saying so, where
# CMake found no MPI.
add_executable(split_check tests/dist/split_check.c)
target_link_libraries(split_check PRIVATE nncc_rt)
add_test(NAME dist/split COMMAND ${CMAKE_SOURCE_DIR}/tests/dist/split_test.sh ${CMAKE_BINARY_DIR})
set_tests_properties(dist/split PROPERTIES TIMEOUT 300)

# Two ranks on this machine (loopback) against one process on the
# concatenated batch (tests/dist/dist_check.c, dist_test.sh).
if(MPI_C_FOUND)
  add_executable(dist_check tests/dist/dist_check.c)
  target_link_libraries(dist_check PRIVATE nncc_dist m)
  add_test(NAME dist/mpi2 COMMAND ${CMAKE_SOURCE_DIR}/tests/dist/dist_test.sh ${CMAKE_BINARY_DIR}
           ${MPIEXEC_EXECUTABLE})
  # the example app under mpirun: trains, checkpoints on rank 0, resumes
  add_test(NAME dist/example COMMAND ${CMAKE_SOURCE_DIR}/tests/dist/example_test.sh
           ${CMAKE_BINARY_DIR} ${MPIEXEC_EXECUTABLE})
  set_tests_properties(dist/example PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
else()
  add_test(NAME dist/mpi2 COMMAND sh -c "echo 'dist/mpi2 skipped: CMake found no MPI (install \
libopenmpi-dev and openmpi-bin: scripts/install-deps.sh)'; exit 77")
endif()
set_tests_properties(dist/mpi2 PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
