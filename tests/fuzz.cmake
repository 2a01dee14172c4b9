# Fuzz targets (docs/robustness.md). Every build has the replay drivers
# (fuzz_replay_NAME: the target's entry point run over files), which ctest
# runs over each target's seeds and over tests/fuzz/regress/NAME, the
# inputs of past findings. With -DNNCC_FUZZ=ON and clang (`make fuzz`),
# the libFuzzer executables fuzz_NAME are built too, with ASan and UBSan.
set(FUZZ_TARGETS nn ir onnx tensor model)
foreach(f ${FUZZ_TARGETS})
  add_executable(fuzz_replay_${f} tests/fuzz/fuzz_${f}.c tests/fuzz/replay.c)
  target_link_libraries(fuzz_replay_${f} PRIVATE nncc_compiler nncc_rt)
  if(NNCC_FUZZ)
    add_executable(fuzz_${f} tests/fuzz/fuzz_${f}.c)
    target_link_libraries(fuzz_${f} PRIVATE nncc_compiler nncc_rt)
    target_link_options(fuzz_${f} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()
set(FUZZ_REGRESS ${CMAKE_SOURCE_DIR}/tests/fuzz/regress)
add_test(NAME fuzz/replay-nn COMMAND fuzz_replay_nn ${CMAKE_SOURCE_DIR}/tests/nn
  ${CMAKE_SOURCE_DIR}/examples/models ${FUZZ_REGRESS}/nn)
add_test(NAME fuzz/replay-ir COMMAND fuzz_replay_ir ${CMAKE_SOURCE_DIR}/tests/ir ${FUZZ_REGRESS}/ir)
add_test(NAME fuzz/replay-onnx COMMAND fuzz_replay_onnx ${CMAKE_SOURCE_DIR}/examples/fashion_cnn.onnx
  ${FUZZ_REGRESS}/onnx)
add_test(NAME fuzz/replay-tensor COMMAND fuzz_replay_tensor ${CMAKE_SOURCE_DIR}/tests/ir/const
  ${FUZZ_REGRESS}/tensor)
add_test(NAME fuzz/replay-model COMMAND fuzz_replay_model ${FUZZ_REGRESS}/model)
set_tests_properties(fuzz/replay-nn fuzz/replay-ir fuzz/replay-onnx fuzz/replay-tensor
  fuzz/replay-model PROPERTIES LABELS fuzz)
