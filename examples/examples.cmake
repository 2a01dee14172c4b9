# The training examples (examples/*.c, docs/examples.md), included by
# CMakeLists.txt: the untrained models are exported from PyTorch
# (examples/export_models.py) and compiled by nncc at build time into
# ${EX_MODELS}; each app loads NAME_train.so (the training step) and
# NAME_eval.so (inference, --mutable-weights) from there.
if(NOT DEFINED NNCC_PYTHON)
  set(NNCC_PYTHON /usr/bin/python3)
endif()
find_library(ZLIB_LIB z REQUIRED)
find_path(ZLIB_INCLUDE zlib.h REQUIRED)
set(EX_DIR ${CMAKE_SOURCE_DIR}/examples)
set(EX_MODELS ${CMAKE_BINARY_DIR}/examples/models)

# Compile flags of the training steps, in one place. LeNet trains with
# augmentation (--augment, docs/training.md "Randomness") and the dropout
# of its PRESERVE export (LENET_DROPOUT in export_models.py); the app
# decays its learning rate per epoch (fashion_mnist --lr-decay).
set(EX_BATCH 64)
set(NNCC_MLP_TRAIN_FLAGS --train --loss=cross_entropy --optimizer=adam:lr=1e-3
    --shape x=${EX_BATCH},1,28,28)
set(NNCC_LENET_TRAIN_FLAGS --train --loss=cross_entropy --optimizer=adam:lr=2e-3
    --augment=x:hflip,crop=1,contrast=0.1 --shape x=${EX_BATCH},1,28,28)
set(EX_EVAL_FLAGS --mutable-weights --shape x=1000,1,28,28)

set(EX_ONNX mlp_sigmoid mlp_tanh mlp_relu lenet lenet_eval lenet_tl ae vae vae_dec gan_g gan_d)
set(EX_ONNX_FILES "")
foreach(m ${EX_ONNX})
  list(APPEND EX_ONNX_FILES ${EX_MODELS}/${m}.onnx)
endforeach()
add_custom_command(
  OUTPUT ${EX_ONNX_FILES}
  COMMAND ${NNCC_PYTHON} ${EX_DIR}/export_models.py ${EX_MODELS}
  DEPENDS ${EX_DIR}/export_models.py
  COMMENT "exporting the examples' untrained models from PyTorch")

set(EX_SO "")
# ex_compile(OUT.so SRC.onnx FLAGS...)
function(ex_compile out src)
  add_custom_command(
    OUTPUT ${EX_MODELS}/${out}
    COMMAND nncc ${EX_MODELS}/${src} ${ARGN} -o ${EX_MODELS}/${out}
    DEPENDS nncc ${EX_MODELS}/${src}
    COMMENT "nncc ${src} -> ${out}")
  set(EX_SO ${EX_SO} ${EX_MODELS}/${out} PARENT_SCOPE)
endfunction()
foreach(act sigmoid tanh relu)
  ex_compile(mlp_${act}_train.so mlp_${act}.onnx ${NNCC_MLP_TRAIN_FLAGS})
  ex_compile(mlp_${act}_eval.so mlp_${act}.onnx ${EX_EVAL_FLAGS})
endforeach()
ex_compile(lenet_train.so lenet.onnx ${NNCC_LENET_TRAIN_FLAGS})
ex_compile(lenet_eval.so lenet_eval.onnx ${EX_EVAL_FLAGS})
# the autoencoders (binary cross-entropy on pixels in [0, 1]; the VAE adds
# its KL output) and the DCGAN: G trains through D's input gradient
# (--loss=backprop); gan_d_grad is D with a learning rate of 0, giving
# grad.image for G's step without touching D's optimizer state
set(EX_AE_FLAGS --train --loss=bce_logits --optimizer=adam:lr=1e-3 --shape x=${EX_BATCH},1,28,28)
ex_compile(ae_train.so ae.onnx ${EX_AE_FLAGS})
ex_compile(ae_eval.so ae.onnx ${EX_EVAL_FLAGS})
ex_compile(vae_train.so vae.onnx ${EX_AE_FLAGS} --add-loss=kl --shape eps=${EX_BATCH},16)
ex_compile(vae_eval.so vae.onnx ${EX_EVAL_FLAGS} --shape eps=1000,16)
ex_compile(vae_dec_eval.so vae_dec.onnx --mutable-weights --shape z=64,16)
set(EX_GAN_OPT --optimizer=adam:lr=2e-4,beta1=0.5)
ex_compile(gan_g_train.so gan_g.onnx --train --loss=backprop ${EX_GAN_OPT} --shape z=${EX_BATCH},32)
ex_compile(gan_g_eval.so gan_g.onnx --mutable-weights --shape z=${EX_BATCH},32)
math(EXPR EX_BATCH2 "2 * ${EX_BATCH}")
ex_compile(gan_d_train.so gan_d.onnx --train --loss=bce_logits ${EX_GAN_OPT}
           --shape image=${EX_BATCH2},1,28,28)
ex_compile(gan_d_grad.so gan_d.onnx --train --loss=bce_logits --optimizer=sgd:lr=0
           --grad-inputs=image --shape image=${EX_BATCH},1,28,28)
# The MLP and LeNet written in the .nn language (examples/models/*.nn,
# docs/language.md): the same networks, their loss, optimizer and
# augmentation from the models' own statements, compiled into
# ${EX_MODELS}/nn under the ONNX variants' names, so that
# `fashion_mnist --model mlp|lenet --models BUILD/examples/models/nn`
# trains the .nn models with the same app.
set(EX_NN ${EX_MODELS}/nn)
function(ex_nn out src)
  add_custom_command(
    OUTPUT ${EX_NN}/${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${EX_NN}
    COMMAND nncc ${EX_DIR}/models/${src} ${ARGN} -o ${EX_NN}/${out}
    DEPENDS nncc ${EX_DIR}/models/${src}
    COMMENT "nncc ${src} -> nn/${out}")
  set(EX_SO ${EX_SO} ${EX_NN}/${out} PARENT_SCOPE)
endfunction()
ex_nn(mlp_relu_train.so mlp.nn --train --shape x=${EX_BATCH},1,28,28)
ex_nn(mlp_relu_eval.so mlp.nn ${EX_EVAL_FLAGS})
ex_nn(lenet_train.so lenet.nn --train --shape x=${EX_BATCH},1,28,28)
ex_nn(lenet_eval.so lenet.nn ${EX_EVAL_FLAGS})
add_custom_target(examples_models ALL DEPENDS ${EX_SO})

add_library(nncc_examples STATIC ${EX_DIR}/common.c)
target_include_directories(nncc_examples PUBLIC ${EX_DIR} ${ZLIB_INCLUDE})
target_link_libraries(nncc_examples PUBLIC nncc_rt ${ZLIB_LIB} m)
target_compile_definitions(nncc_examples PRIVATE EX_MODELS_DIR="${EX_MODELS}")
foreach(app fashion_mnist autoencoder dcgan transfer)
  add_executable(${app} ${EX_DIR}/${app}.c)
  target_link_libraries(${app} PRIVATE nncc_examples)
  add_dependencies(${app} examples_models)
endforeach()
# transfer compiles lenet_tl.onnx itself (the LeNet checkpoint is known only then)
target_compile_definitions(transfer PRIVATE EX_NNCC_BIN="$<TARGET_FILE:nncc>")
add_dependencies(transfer nncc)

# Smoke runs of each example on a subset: the loss decreases, the final
# line is there, a killed run resumes bit-exact (tests/e2e/examples_smoke.py).
add_test(NAME examples/smoke
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/e2e/examples_smoke.py ${CMAKE_BINARY_DIR})
set_tests_properties(examples/smoke PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

# The compiler features the generative examples use: --loss=backprop,
# --add-loss, against PyTorch (tests/e2e/train_loss_e2e.py).
add_test(NAME e2e/train_loss
         COMMAND ${NNCC_PYTHON} ${CMAKE_SOURCE_DIR}/tests/e2e/train_loss_e2e.py ${CMAKE_BINARY_DIR})
set_tests_properties(e2e/train_loss PROPERTIES TIMEOUT 300)

# Data-parallel training (docs/distributed.md), where MPI is found:
# fashion_mnist_mpi and its steps, compiled with --split-step for the
# per-rank batch of one rank (64) and of two (32), with the flags of the
# fused steps above.
if(MPI_C_FOUND)
  set(EX_DP_SO "")
  foreach(b 64 32)
    foreach(m "lenet;--optimizer=adam:lr=2e-3;--augment=x:hflip,crop=1,contrast=0.1"
              "mlp_relu;--optimizer=adam:lr=1e-3")
      list(GET m 0 name)
      list(SUBLIST m 1 -1 flags)
      add_custom_command(
        OUTPUT ${EX_MODELS}/${name}_dp${b}_train.so
        COMMAND nncc ${EX_MODELS}/${name}.onnx --train --loss=cross_entropy ${flags}
                --shape x=${b},1,28,28 --split-step -o ${EX_MODELS}/${name}_dp${b}_train.so
        DEPENDS nncc ${EX_MODELS}/${name}.onnx
        COMMENT "nncc ${name}.onnx --split-step -> ${name}_dp${b}_train.so")
      list(APPEND EX_DP_SO ${EX_MODELS}/${name}_dp${b}_train.so)
    endforeach()
  endforeach()
  add_custom_target(examples_dp_models ALL DEPENDS ${EX_DP_SO})
  add_executable(fashion_mnist_mpi ${EX_DIR}/fashion_mnist_mpi.c)
  target_link_libraries(fashion_mnist_mpi PRIVATE nncc_examples nncc_dist)
  add_dependencies(fashion_mnist_mpi examples_models examples_dp_models)
endif()
