# `nncc --emit=onnx` (docs/export.md), included by CMakeLists.txt after
# tests/zoo.cmake: every small zoo model is exported at -O0 and -O2, checked
# with onnx.checker (full_check), compiled again by nncc and run against the
# original model (bit for bit where nncc's IR is the same; label "export").
# export/ort-O* run the exports in ONNX Runtime when bench/node_modules holds
# onnxruntime-node (bench/run.sh installs it) and are reported skipped, with
# the reason, when it does not.
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()
set(EXPORT_PY ${CMAKE_SOURCE_DIR}/tests/e2e/export_onnx.py)

foreach(model ${ZOO_SMALL})
  foreach(opt 0 2)
    add_test(NAME export/${model}-O${opt}
             COMMAND ${NNCC_PYTHON} ${EXPORT_PY} ${CMAKE_BINARY_DIR} ${model} -O ${opt})
    set_tests_properties(export/${model}-O${opt} PROPERTIES
                         FIXTURES_REQUIRED zoo_models LABELS export TIMEOUT 300)
  endforeach()
endforeach()

foreach(opt 0 2)
  add_test(NAME export/ort-O${opt}
           COMMAND ${NNCC_PYTHON} ${EXPORT_PY} ${CMAKE_BINARY_DIR} ${ZOO_SMALL} -O ${opt} --ort)
  set_tests_properties(export/ort-O${opt} PROPERTIES
                       FIXTURES_REQUIRED zoo_models LABELS export TIMEOUT 900
                       SKIP_RETURN_CODE 77)
endforeach()

# The command line: a text-IR graph with symbolic dims exported and run
# again, an op with no ONNX form (status 1, nodes named, no file), usage.
add_test(NAME export/cli COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/export_cli.sh ${CMAKE_BINARY_DIR})
set_tests_properties(export/cli PROPERTIES LABELS export TIMEOUT 120
                     ENVIRONMENT "NNCC_PYTHON=${NNCC_PYTHON}")

# The text-IR goldens (tests/ir): each one that is a model is exported at
# -O0, checked, read back and compared (same IR, or same outputs); those
# refused for a documented reason (elided weights, ops with no ONNX form)
# are listed N/A.
add_test(NAME export/goldens
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/e2e/export_check.py ${CMAKE_BINARY_DIR})
set_tests_properties(export/goldens PROPERTIES LABELS export TIMEOUT 300)
add_test(NAME export/goldens-ort
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/e2e/export_check.py ${CMAKE_BINARY_DIR} --ort)
set_tests_properties(export/goldens-ort PROPERTIES LABELS export TIMEOUT 300 SKIP_RETURN_CODE 77)

# The `.nn` example models (issue 12, acceptance item 2), once they exist:
# each must export, read back and, where onnxruntime-node is installed, run
# in ONNX Runtime with nncc's outputs (--strict: no refusal allowed).
file(GLOB NN_EXAMPLES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/models/*.nn)
if(NN_EXAMPLES)
  add_test(NAME export/nn-examples
           COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/e2e/export_check.py ${CMAKE_BINARY_DIR}
                   --strict ${NN_EXAMPLES})
  set_tests_properties(export/nn-examples PROPERTIES LABELS export TIMEOUT 600)
  add_test(NAME export/nn-examples-ort
           COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/e2e/export_check.py ${CMAKE_BINARY_DIR}
                   --strict --ort ${NN_EXAMPLES})
  set_tests_properties(export/nn-examples-ort PROPERTIES LABELS export TIMEOUT 600
                       SKIP_RETURN_CODE 77)
endif()
