# The self-contained ONNX conformance suite (included by CMakeLists.txt):
# the backend node tests of Debian's python3-onnx (1.12), generated once
# into BUILD/onnx-node by tests/onnx/gen_node_tests.py (cached: a stamp
# records the onnx and numpy versions), then run through `nncc test-onnx`
# by tests/onnx/conformance.py. It needs no ../shared. The check fails on
# any FAIL or ERROR (crash, timeout) and on any test of
# tests/onnx/expected-pass.txt that does not pass (`make conformance-update`
# refreshes the list). The wider v1.22 suite in ../shared is `make conformance`.
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()
set(ONNX_NODE_DIR ${CMAKE_BINARY_DIR}/onnx-node)
add_test(NAME onnx/generate
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/onnx/gen_node_tests.py ${ONNX_NODE_DIR})
set_tests_properties(onnx/generate PROPERTIES FIXTURES_SETUP onnx_node TIMEOUT 300)
add_test(NAME onnx/node-suite
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/onnx/conformance.py
                 --nncc $<TARGET_FILE:nncc>
                 --expected ${CMAKE_SOURCE_DIR}/tests/onnx/expected-pass.txt
                 -j 2 ${ONNX_NODE_DIR})
set_tests_properties(onnx/node-suite PROPERTIES FIXTURES_REQUIRED onnx_node TIMEOUT 600)

# `nncc --const NAME=FILE` through the command line and nncc-run, on one of
# the generated tests (Unsqueeze with run-time axes).
add_test(NAME onnx/const-cli
         COMMAND ${CMAKE_SOURCE_DIR}/tests/onnx/const_cli.sh ${CMAKE_BINARY_DIR} ${ONNX_NODE_DIR})
set_tests_properties(onnx/const-cli PROPERTIES
                     FIXTURES_REQUIRED onnx_node ENVIRONMENT "NNCC_PYTHON=${NNCC_PYTHON}" TIMEOUT 120)

# The runner's contract: ordered lines, FAIL and ERROR without a crash,
# the two closing lines, --const binding and --no-const.
add_test(NAME onnx/runner
         COMMAND ${CMAKE_SOURCE_DIR}/tests/onnx/runner.sh ${CMAKE_BINARY_DIR} ${ONNX_NODE_DIR})
set_tests_properties(onnx/runner PROPERTIES
                     FIXTURES_REQUIRED onnx_node ENVIRONMENT "NNCC_PYTHON=${NNCC_PYTHON}" TIMEOUT 120)
