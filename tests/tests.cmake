# End-to-end tests (included by CMakeLists.txt): PyTorch models exported to
# ONNX, compiled by nncc, run by nncc-run and compared against PyTorch's
# output; plus the error paths of both tools. They need only the build folder
# and a Python 3 with numpy, onnx and torch (Debian's /usr/bin/python3).
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()
set(E2E_DIR ${CMAKE_SOURCE_DIR}/tests/e2e)
set(E2E_ENV "NNCC_PYTHON=${NNCC_PYTHON}")

# Export every model once before the tests that use them run (in parallel).
add_test(NAME e2e/models
         COMMAND ${NNCC_PYTHON} ${E2E_DIR}/make_models.py ${CMAKE_BINARY_DIR}/e2e)
set_tests_properties(e2e/models PROPERTIES FIXTURES_SETUP e2e_models TIMEOUT 300)

# name, model, optimization level
foreach(t "mlp;mlp;-O2" "lenet;lenet;-O2" "lenet-O0;lenet;-O0" "lenet-O3;lenet;-O3")
  list(GET t 0 name)
  list(GET t 1 model)
  list(GET t 2 opt)
  add_test(NAME e2e/${name}
           COMMAND ${E2E_DIR}/run_e2e.sh ${CMAKE_BINARY_DIR} ${model} ${opt})
  set_tests_properties(e2e/${name} PROPERTIES
                       FIXTURES_REQUIRED e2e_models ENVIRONMENT "${E2E_ENV}"
                       TIMEOUT 300)
endforeach()

add_test(NAME e2e/bad_input COMMAND ${E2E_DIR}/bad_input.sh ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/bad_input PROPERTIES
                     ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)
