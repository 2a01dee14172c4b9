# The model zoo (tests/zoo/, docs/models.md), included by CMakeLists.txt:
# the course's models exported from PyTorch with random weights and compared
# with PyTorch's output at |out - ref| <= 1e-4 + 1e-3*|ref| (1e-4 raised to 4
# times PyTorch float32's own error where that is larger). `make test`
# runs the small models of ZOO_SMALL here (label "zoo"); `make test-models`
# runs every zoo model, small and large, and prints PASS / FAIL /
# UNSUPPORTED per model and an `N passed, M failed` line.
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()
set(ZOO_DIR ${CMAKE_SOURCE_DIR}/tests/zoo)

# Small models that nncc compiles and matches today: each is a ctest at -O0
# and -O2.
set(ZOO_SMALL mlp lenet lstm gru rnn bilstm autoencoder vae dcgan_g dcgan_d caption
              squeezenet)

# Small models still waiting for operators (nncc reports them UNSUPPORTED, see
# `make test-models`); move a model into ZOO_SMALL once `run_zoo.py BUILD
# NAME` passes. None today.
set(ZOO_SMALL_WAITING "")

string(REPLACE ";" "," ZOO_SMALL_CSV "${ZOO_SMALL}")
string(REPLACE ";" "," ZOO_WAITING_CSV "${ZOO_SMALL_WAITING}")

# The two lists together name exactly the zoo's small models.
add_test(NAME zoo/lists
         COMMAND ${NNCC_PYTHON} ${ZOO_DIR}/run_zoo.py --check-lists ${ZOO_SMALL_CSV}
                 "${ZOO_WAITING_CSV}")
set_tests_properties(zoo/lists PROPERTIES LABELS zoo TIMEOUT 60)

# Export once (cached in BUILD/zoo until tests/zoo/zoo_models.py changes).
add_test(NAME zoo/export
         COMMAND ${NNCC_PYTHON} ${ZOO_DIR}/zoo_models.py ${CMAKE_BINARY_DIR}/zoo
                 --models ${ZOO_SMALL_CSV})
set_tests_properties(zoo/export PROPERTIES FIXTURES_SETUP zoo_models LABELS zoo TIMEOUT 300)

foreach(model ${ZOO_SMALL})
  foreach(opt 0 2)
    add_test(NAME zoo/${model}-O${opt}
             COMMAND ${NNCC_PYTHON} ${ZOO_DIR}/run_zoo.py ${CMAKE_BINARY_DIR} ${model} -O ${opt})
    set_tests_properties(zoo/${model}-O${opt} PROPERTIES
                         FIXTURES_REQUIRED zoo_models LABELS zoo TIMEOUT 300)
  endforeach()
endforeach()
