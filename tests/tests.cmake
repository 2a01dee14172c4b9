# End-to-end tests (included by CMakeLists.txt): PyTorch models exported to
# ONNX, compiled by nncc, run by nncc-run and compared against PyTorch's
# output; plus the error paths of both tools. They need only the build folder
# and a Python 3 with numpy, onnx and torch (Debian's /usr/bin/python3).
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()
set(E2E_DIR ${CMAKE_SOURCE_DIR}/tests/e2e)
set(E2E_ENV "NNCC_PYTHON=${NNCC_PYTHON}")

# Export the small models once before the tests that use them run (in
# parallel); the CNNs have their own fixture below.
add_test(NAME e2e/models
         COMMAND ${NNCC_PYTHON} ${E2E_DIR}/make_models.py ${CMAKE_BINARY_DIR}/e2e
                 --models mlp,lenet,layernorm)
set_tests_properties(e2e/models PROPERTIES FIXTURES_SETUP e2e_models TIMEOUT 300)

# name, model, optimization level
foreach(t "mlp;mlp;-O2" "mlp-O0;mlp;-O0" "mlp-O3;mlp;-O3"
          "lenet;lenet;-O2" "lenet-O0;lenet;-O0" "lenet-O3;lenet;-O3"
          "layernorm;layernorm;-O2" "layernorm-O0;layernorm;-O0" "layernorm-O3;layernorm;-O3")
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

# The malformed-model corpus (tests/malformed/, docs/robustness.md): every
# hostile file exits 1 with its message and leaves no output.
add_test(NAME malformed/corpus
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/malformed/malformed.py
                 ${CMAKE_BINARY_DIR} ${CMAKE_BINARY_DIR}/malformed)
set_tests_properties(malformed/corpus PROPERTIES TIMEOUT 600)
add_test(NAME e2e/extdata
         COMMAND ${NNCC_PYTHON} ${E2E_DIR}/extdata.py ${CMAKE_BINARY_DIR} ${CMAKE_BINARY_DIR}/e2e-extdata)
set_tests_properties(e2e/extdata PROPERTIES TIMEOUT 300)

# Golden text-IR tests (tests/ir/<pass>/*.ir, RUN/CHECK lines; see
# tests/ir/run.py): one ctest per file.
file(GLOB_RECURSE IR_GOLDEN CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/ir/*.ir)
foreach(t ${IR_GOLDEN})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests/ir ${t})
  add_test(NAME ir/${rel}
           COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/ir/run.py $<TARGET_FILE:nncc> ${t})
  set_tests_properties(ir/${rel} PROPERTIES TIMEOUT 60)
endforeach()

# nncc --report: the kernel table, the memory plan and its three numbers.
add_test(NAME e2e/report COMMAND ${E2E_DIR}/report.sh ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/report PROPERTIES
                     FIXTURES_REQUIRED e2e_models TIMEOUT 300)

# The four ImageNet CNNs (torchvision, random weights, batch 1; models.py),
# exported once (about 10 s; cached in BUILD/e2e). Each is compiled at -O0,
# -O2 and -O3 and compared with PyTorch at the default tolerance
# |out - ref| <= 1e-4 + 1e-4*|ref| (measured max abs error: 2.6e-6 resnet18,
# 4.9e-5 resnet50, 7.6e-6 googlenet, 2.9e-6 mobilenet_v2, at every level), and
# the -O0 and -O2 outputs are compared with each other (same tolerance).
# Together about 1 minute on 2 cores, so none is labelled "heavy".
set(E2E_CNNS resnet18 resnet50 googlenet mobilenet_v2)
string(REPLACE ";" "," E2E_CNN_LIST "${E2E_CNNS}")
add_test(NAME e2e/cnn-models
         COMMAND ${NNCC_PYTHON} ${E2E_DIR}/make_models.py ${CMAKE_BINARY_DIR}/e2e
                 --models ${E2E_CNN_LIST})
set_tests_properties(e2e/cnn-models PROPERTIES
                     FIXTURES_SETUP e2e_cnn_models LABELS cnn TIMEOUT 600)
foreach(model ${E2E_CNNS})
  foreach(opt -O0 -O2 -O3)
    add_test(NAME e2e/${model}${opt}
             COMMAND ${E2E_DIR}/run_e2e.sh ${CMAKE_BINARY_DIR} ${model} ${opt})
    set_tests_properties(e2e/${model}${opt} PROPERTIES
                         FIXTURES_REQUIRED e2e_cnn_models ENVIRONMENT "${E2E_ENV}"
                         LABELS cnn TIMEOUT 600)
  endforeach()
  # run_e2e.sh leaves the outputs in BUILD/e2e/out-MODEL-OPT/output.npy.
  set_tests_properties(e2e/${model}-O0 e2e/${model}-O2 PROPERTIES
                       FIXTURES_SETUP e2e_${model}_out)
  add_test(NAME e2e/${model}-O0-vs-O2
           COMMAND ${NNCC_PYTHON} ${E2E_DIR}/compare.py
                   ${CMAKE_BINARY_DIR}/e2e/out-${model}-O0/output.npy
                   ${CMAKE_BINARY_DIR}/e2e/out-${model}-O2/output.npy)
  set_tests_properties(e2e/${model}-O0-vs-O2 PROPERTIES
                       FIXTURES_REQUIRED e2e_${model}_out LABELS cnn TIMEOUT 60)
endforeach()

# The acceptance target of the memory plan, so a regression fails CI: the
# arena at most 1.05x the lower bound and at most 0.5x the naive bytes, read
# from nncc --report and re-derived from the plan it prints (bench/fusion_table.py).
add_test(NAME e2e/cnn-memory-plan
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/bench/fusion_table.py
                 --build ${CMAKE_BINARY_DIR} --models resnet18,mobilenet_v2 --check)
set_tests_properties(e2e/cnn-memory-plan PROPERTIES
                     FIXTURES_REQUIRED e2e_cnn_models LABELS cnn TIMEOUT 300)

# NaN propagation through max/min-based ops, compiled at -O0 and -O2.
add_test(NAME e2e/nan COMMAND ${E2E_DIR}/nan.sh ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/nan PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 120)

# The reduction family (reductions, arg ops, cumsum, normalizations) through
# ONNX import, rewrites, fusion and LLVM against numpy (red_ops.py).
add_test(NAME e2e/red_ops COMMAND ${E2E_DIR}/onnx_folders.sh ${CMAKE_BINARY_DIR} red_ops)
set_tests_properties(e2e/red_ops PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)

# --- conv: ConvTranspose (autoencoder/DCGAN), 1-D and 3-D CNNs, recurrent
# layers, each exported from PyTorch and compared at 1e-4 + 1e-3*|ref|
# (tests/e2e/conv_e2e.py lists the models).
foreach(model convt autoencoder dcgan cnn1d cnn3d lstm2 lstm2-bf gru gru2-bf rnn-tanh rnn-relu-bf
              bilstm bilstm2-bf bigru)
  add_test(NAME e2e/conv-${model}
           COMMAND ${NNCC_PYTHON} ${E2E_DIR}/conv_e2e.py ${CMAKE_BINARY_DIR} ${model})
  set_tests_properties(e2e/conv-${model} PROPERTIES TIMEOUT 300)
endforeach()
# ONNX RNN/GRU/LSTM attributes PyTorch never exports (reverse, layout 1,
# sequence_lens, clip, activations, linear_before_reset, input_forget)
# against a numpy reference of the spec.
add_test(NAME e2e/conv-rnn-onnx
         COMMAND ${NNCC_PYTHON} ${E2E_DIR}/rnn_onnx.py ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/conv-rnn-onnx PROPERTIES TIMEOUT 300)

# Compiled training steps (nncc --train, nncc-run --train) against PyTorch's
# optimizers: losses and parameters after three steps within 1e-4 relative,
# and a resumed run bit-exact (tests/e2e/train_e2e.py): MLPs, a CNN, LSTM and
# GRU classifiers, a small ResNet with batch norm in training mode (running
# statistics too) and in eval mode. ResNet-18: `make test-train-models`.
add_test(NAME e2e/train COMMAND ${NNCC_PYTHON} ${E2E_DIR}/train_e2e.py ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/train PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)

# The ai.onnx.preview.training optimizers with T > 0, norm_coefficient_post,
# f64 and several tensors (the suite's cases all use T = 0), against onnx's
# own numpy reference functions, through nncc test-onnx.
add_test(NAME e2e/preview_training
         COMMAND ${NNCC_PYTHON} ${E2E_DIR}/preview_training.py ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/preview_training PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)

# Autodiff against PyTorch's autograd (tests/e2e/grad_e2e.py): d(loss)/d(input)
# of a 2-layer LSTM, a bidirectional GRU and a CNN (conv, batchnorm, max/avg
# pool, grouped conv, GELU, residual, transposed conv) through nncc --train.
add_test(NAME e2e/grad COMMAND ${NNCC_PYTHON} ${E2E_DIR}/grad_e2e.py ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/grad PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)

# --- misc: DFT/STFT, GridSample and RoiAlign through ONNX import, the
# rewrites and LLVM against numpy.fft, PyTorch and torchvision (misc_ops.py).
add_test(NAME e2e/misc_ops COMMAND ${E2E_DIR}/onnx_folders.sh ${CMAKE_BINARY_DIR} misc_ops)
set_tests_properties(e2e/misc_ops PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)

# --max-memory (passes/remat.c): a budgeted training step fits its budget and
# trains bit-identically to the unconstrained one; an impossible budget is
# exit 1 with the smallest plan reached (tests/e2e/remat_e2e.py).
add_test(NAME e2e/remat COMMAND ${NNCC_PYTHON} ${E2E_DIR}/remat_e2e.py ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/remat PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)
# --- rng: dropout and augmentation in compiled training steps: the same
# seed and step give byte-identical weights across runs and NNCC_THREADS=1
# vs 2, a resumed run equals an uninterrupted one, augment.x against numpy
# with a Python Philox (tests/e2e/rng_e2e.py).
add_test(NAME e2e/rng COMMAND ${NNCC_PYTHON} ${E2E_DIR}/rng_e2e.py ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/rng PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)
# --- dynamic batch: one --max N=64 artifact of the MLP, LeNet and the zoo's
# SqueezeNet and VAE (their batch made symbolic) against fixed-batch
# artifacts at batch 1, 7 and 64, through nncc-run and one runtime session;
# mixing models refused (tests/e2e/dynbatch.py, docs/dynamic-batch.md).
add_test(NAME e2e/dynbatch COMMAND ${NNCC_PYTHON} ${E2E_DIR}/dynbatch.py ${CMAKE_BINARY_DIR}
         ${CMAKE_BINARY_DIR}/dynbatch --zoo squeezenet,vae)
set_tests_properties(e2e/dynbatch PROPERTIES ENVIRONMENT "${E2E_ENV}" TIMEOUT 300)

# The .nn model language (docs/language.md): golden printed IR of good
# programs and golden diagnostics of bad ones (tests/nn/run.py, one ctest
# per file; `run.py NNCC FILE --update` rewrites a golden), and compiled
# .nn models against PyTorch (tests/nn/compare.py).
file(GLOB NN_GOLDEN CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/nn/good/*.nn
     ${CMAKE_SOURCE_DIR}/tests/nn/bad/*.nn)
foreach(t ${NN_GOLDEN})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests/nn ${t})
  add_test(NAME nn/${rel}
           COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/nn/run.py $<TARGET_FILE:nncc> ${t})
  set_tests_properties(nn/${rel} PROPERTIES TIMEOUT 60)
endforeach()
add_test(NAME nn/compare COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/nn/compare.py ${CMAKE_BINARY_DIR})
set_tests_properties(nn/compare PROPERTIES TIMEOUT 300)
add_test(NAME nn/examples COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/nn/examples.py ${CMAKE_BINARY_DIR})
set_tests_properties(nn/examples PROPERTIES TIMEOUT 600)

# The kernel profiler of docs/performance.md (bench/kprof/): every kernel timed.
add_test(NAME bench/kprof
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/bench/kprof_test.py ${CMAKE_BINARY_DIR})
set_tests_properties(bench/kprof PROPERTIES TIMEOUT 120)
