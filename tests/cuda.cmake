# The CUDA backend without a GPU (docs/cuda.md), included by CMakeLists.txt:
# cuda_emu runs a model's generated CUDA C on the host (tests/cuda/emu.h)
# from its --target=cuda descriptor; tests/cuda/cuda_zoo.py compiles the
# course zoo with --target=cuda (NVRTC: CUBIN sm_90 and sm_80, PTX) and
# checks small models' emulated outputs against the CPU backend's.
add_executable(cuda_emu tests/cuda/cuda_emu.c)
target_include_directories(cuda_emu PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(cuda_emu PRIVATE nncc_rt ${CMAKE_DL_LIBS})

# Every model of the course zoo compiles with --target=cuda (CUDA C, NVRTC
# CUBINs for sm_90 and sm_80, PTX), inference and the training steps of the
# MLP, LeNet and ResNet-18; small models and the MLP/LeNet steps also run
# emulated on the host against the CPU backend. Skipped (77) only when
# NVRTC is missing, which scripts/install-deps.sh installs.
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()
set(CUDA_ZOO ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cuda/cuda_zoo.py ${CMAKE_BINARY_DIR})
add_test(NAME cuda/zoo-small
         COMMAND ${CUDA_ZOO}
                 --compile mlp,lenet,lstm,gru,rnn,bilstm,autoencoder,vae,dcgan_g,dcgan_d,caption,squeezenet
                 --emu mlp,lenet,autoencoder,vae,dcgan_g,dcgan_d,caption,squeezenet
                 --train mlp,lenet --emu-train mlp,lenet)
add_test(NAME cuda/zoo-large
         COMMAND ${CUDA_ZOO} --compile alexnet,vgg11,googlenet,resnet18,resnet50,mobilenet_v2,fcn_resnet50
                 --train resnet18)
set_tests_properties(cuda/zoo-small cuda/zoo-large PROPERTIES
                     LABELS cuda SKIP_RETURN_CODE 77 TIMEOUT 3600)
set_tests_properties(cuda/zoo-small PROPERTIES FIXTURES_REQUIRED zoo_models)

# --emit=cuda/ptx, --target=cuda without NVRTC (exit 1, clear message), a
# cuda build run on the CPU, and nncc-run without a CUDA driver.
add_test(NAME cuda/cli COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cuda/cuda_cli.py ${CMAKE_BINARY_DIR})
set_tests_properties(cuda/cli PROPERTIES LABELS cuda SKIP_RETURN_CODE 77 TIMEOUT 600
                     FIXTURES_REQUIRED zoo_models)

# A stand-in libcuda.so.1 running the host-compiled CUDA C (tests/cuda/
# fake_libcuda.c), so runtime/cuda.c and nncc-run's GPU path run here.
add_library(fake_cuda SHARED tests/cuda/fake_libcuda.c)
set_target_properties(fake_cuda PROPERTIES OUTPUT_NAME cuda LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fakecuda
                      SOVERSION 1)
target_link_libraries(fake_cuda PRIVATE ${CMAKE_DL_LIBS})
add_test(NAME cuda/runtime COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cuda/cuda_fake.py ${CMAKE_BINARY_DIR})
set_tests_properties(cuda/runtime PROPERTIES LABELS cuda SKIP_RETURN_CODE 77 TIMEOUT 900
                     FIXTURES_REQUIRED zoo_models)
