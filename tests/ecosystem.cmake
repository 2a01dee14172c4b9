# Ecosystem tests (included by CMakeLists.txt; docs/embedding.md,
# docs/python.md, docs/cli.md): the command line's promises, the statically
# linked example, install and build against the prefix, the Python binding
# against nncc-run, and every command the docs show.
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()

# The command line as the issue lists it (tests/cli/cli_test.sh).
add_test(NAME eco/cli COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/cli_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(eco/cli PROPERTIES ENVIRONMENT "NNCC_PYTHON=${NNCC_PYTHON}" TIMEOUT 300)

# examples/embed: the statically linked classifier (examples/embed/embed.cmake builds it).
if(TARGET fashion_embed)
  add_test(NAME eco/embed COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/examples/embed/check_embed.py
           $<TARGET_FILE:fashion_embed> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(eco/embed PROPERTIES TIMEOUT 300)
endif()

# The tests below build programs (and load the runtime into Python)
# outside this build's flags, which cannot link or load the instrumented
# runtime of a sanitizer build (NNCC_ASAN, NNCC_UBSAN, NNCC_FUZZ); there
# the tests above and the rest of the suite cover the same code.
if(NNCC_ASAN OR NNCC_UBSAN OR NNCC_FUZZ)
  return()
endif()

# `cmake --install` into a temporary prefix; an application with two
# models (--name) built with pkg-config and with find_package(nncc).
add_test(NAME eco/install
         COMMAND ${CMAKE_SOURCE_DIR}/tests/install/install_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(eco/install PROPERTIES ENVIRONMENT "NNCC_PYTHON=${NNCC_PYTHON}" TIMEOUT 600)

# python/nncc: run() and train_step() against nncc-run.
add_test(NAME eco/python
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/python/python_test.py ${CMAKE_BINARY_DIR}
                 ${CMAKE_SOURCE_DIR})
set_tests_properties(eco/python PROPERTIES TIMEOUT 300)

# Every command shown in README.md, docs/cli.md, docs/embedding.md and
# docs/python.md, run (tests/docs/doc_commands.py).
add_test(NAME eco/doc-commands
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/docs/doc_commands.py ${CMAKE_BINARY_DIR}
                 ${CMAKE_SOURCE_DIR})
set_tests_properties(eco/doc-commands PROPERTIES FIXTURES_REQUIRED onnx_node TIMEOUT 900)
