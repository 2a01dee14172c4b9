/* nncc.h — the runtime API: load a compiled model, query its tensors,
 * create a session, set inputs, run, read outputs.
 *
 * Style of the LLVM C API: opaque handles, every fallible call returns an
 * nncc_status, and an error message comes back through `char **err` as a
 * malloc'd string the caller releases with nncc_error_free() (err may be
 * NULL when the caller does not want the message; *err is set to NULL on
 * success). The runtime keeps no mutable global state: a model is
 * read-only once loaded and may be shared by threads; a session is used by
 * one thread at a time, and two sessions run concurrently. */
#ifndef NNCC_NNCC_H
#define NNCC_NNCC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nncc_model nncc_model;     /* a loaded model (read-only) */
typedef struct nncc_session nncc_session; /* arena, inputs, outputs of one runner */

typedef enum nncc_status {
	NNCC_STATUS_OK = 0,           /* success */
	NNCC_STATUS_INVALID_ARGUMENT, /* bad index, NULL pointer, wrong dtype or shape */
	NNCC_STATUS_NOT_FOUND,        /* file or symbol does not exist */
	NNCC_STATUS_IO_ERROR,         /* read/write/dlopen failed */
	NNCC_STATUS_BAD_MODEL,        /* malformed model, tensor file or descriptor */
	NNCC_STATUS_OUT_OF_MEMORY,    /* an allocation failed */
	NNCC_STATUS_UNSUPPORTED,      /* valid but not supported (dtype, layout) */
	NNCC_STATUS_NOT_READY,        /* run before every input is set; output before run */
} nncc_status;

/* Element types, numbered as ONNX TensorProto.DataType (and abi.h). */
typedef enum nncc_dtype {
	NNCC_DTYPE_UNDEFINED = 0,
	NNCC_DTYPE_F32 = 1,   /* float */
	NNCC_DTYPE_U8 = 2,    /* uint8_t */
	NNCC_DTYPE_I8 = 3,    /* int8_t */
	NNCC_DTYPE_U16 = 4,   /* uint16_t */
	NNCC_DTYPE_I16 = 5,   /* int16_t */
	NNCC_DTYPE_I32 = 6,   /* int32_t */
	NNCC_DTYPE_I64 = 7,   /* int64_t */
	NNCC_DTYPE_STRING = 8, /* not supported by the runtime */
	NNCC_DTYPE_BOOL = 9,  /* one byte, 0 or 1 */
	NNCC_DTYPE_F16 = 10,  /* IEEE half, stored as uint16_t bits */
	NNCC_DTYPE_F64 = 11,  /* double */
	NNCC_DTYPE_U32 = 12,  /* uint32_t */
	NNCC_DTYPE_U64 = 13,  /* uint64_t */
	NNCC_DTYPE_BF16 = 16, /* bfloat16, stored as uint16_t bits */
	/* Exotic types: ONE element per byte in memory (ONNX packs the 4- and
	 * 2-bit ones two or four per byte; the runtime's .pb reader unpacks). */
	NNCC_DTYPE_F8E4M3FN = 17,   /* float8 e4m3fn code */
	NNCC_DTYPE_F8E4M3FNUZ = 18, /* float8 e4m3fnuz code */
	NNCC_DTYPE_F8E5M2 = 19,     /* float8 e5m2 code */
	NNCC_DTYPE_F8E5M2FNUZ = 20, /* float8 e5m2fnuz code */
	NNCC_DTYPE_U4 = 21,         /* uint4, 0..15 in a uint8_t */
	NNCC_DTYPE_I4 = 22,         /* int4, -8..7 in an int8_t */
	NNCC_DTYPE_F4E2M1 = 23,     /* float4 e2m1 code in the low 4 bits */
	NNCC_DTYPE_F8E8M0 = 24,     /* float8 e8m0 code (a power of two) */
	NNCC_DTYPE_U2 = 25,         /* uint2, 0..3 in a uint8_t */
	NNCC_DTYPE_I2 = 26,         /* int2, -2..1 in an int8_t */
} nncc_dtype;

/* Describes one input, output or parameter. The pointers stay valid while
 * the model is loaded. */
typedef struct nncc_tensor_info {
	const char *name;     /* NUL-terminated */
	nncc_dtype dtype;     /* element type */
	int rank;             /* number of dims, 0 for a scalar */
	const int64_t *dims;  /* rank extents */
	int64_t nbytes;       /* product(dims) * element size */
} nncc_tensor_info;

/* Bytes per element, 0 for an unknown or unsupported dtype. */
int64_t nncc_dtype_size(int dtype);
/* Short name ("f32", "i64", ...), "?" for an unknown dtype. */
const char *nncc_dtype_name(int dtype);
/* A constant string describing a status ("invalid argument", ...). */
const char *nncc_status_string(nncc_status s);
/* Releases a message returned through an err argument. NULL is fine. */
void nncc_error_free(char *err);

/* --- models -------------------------------------------------------------- */

/* Loads a compiled model (a shared library holding the `nncc_model`
 * descriptor). A path without '/' is looked up in the current directory,
 * not the library search path. The descriptor's magic, ABI version and
 * tensors are checked. */
nncc_status nncc_model_load(const char *path, nncc_model **out, char **err);
struct nncc_abi_model; /* a compiled model's descriptor (the symbol NAME_nncc_model) */
/* Wraps a descriptor linked into the program: a model's object file
 * (nncc --emit=obj --name=NAME), whose MODEL.h (--emit=header) declares it
 * as NAME_nncc_model and calls this in NAME_load. The descriptor must
 * outlive the model; it is checked as nncc_model_load checks a library's. */
nncc_status nncc_model_from_abi(const struct nncc_abi_model *abi, nncc_model **out, char **err);
/* Unloads the model. Free every session of the model first. NULL is fine. */
void nncc_model_free(nncc_model *m);

const char *nncc_model_name(const nncc_model *m);
int nncc_model_num_inputs(const nncc_model *m);
int nncc_model_num_outputs(const nncc_model *m);
int nncc_model_num_params(const nncc_model *m);
/* Fill *info for tensor i; INVALID_ARGUMENT when i is out of range. */
nncc_status nncc_model_input_info(const nncc_model *m, int i, nncc_tensor_info *info);
nncc_status nncc_model_output_info(const nncc_model *m, int i, nncc_tensor_info *info);
nncc_status nncc_model_param_info(const nncc_model *m, int i, nncc_tensor_info *info);
/* Index of the tensor with this name, or -1. */
int nncc_model_find_input(const nncc_model *m, const char *name);
int nncc_model_find_output(const nncc_model *m, const char *name);

/* --- sessions ------------------------------------------------------------ */

/* Creates a session: the model's working arena (64-byte aligned),
 * buffers for every input and output, and a pool of worker threads (see
 * nncc_session_set_threads; the default count). The model must outlive it. */
nncc_status nncc_session_create(const nncc_model *m, nncc_session **out, char **err);
void nncc_session_free(nncc_session *s);

/* Sets how many threads the session's runs use, counting the caller:
 * 1 runs everything on the calling thread (no worker threads at all);
 * 0 restores the default: $NNCC_THREADS if set, else the number of online
 * CPUs, at most 8. At most 256. The same count is given to OpenBLAS (a
 * process-wide setting) at the start of each run. On failure the session
 * keeps its previous threads. */
nncc_status nncc_session_set_threads(nncc_session *s, int nthreads, char **err);
/* The threads the session's runs use (>= 1); 0 for NULL. */
int nncc_session_num_threads(const nncc_session *s);

/* Copies input `index` into the session (the caller may release data at
 * once). dtype, rank and dims must match the model's descriptor exactly
 * (a batch input of a dynamic-batch model may have any dim 0 from 1 to the
 * max); otherwise INVALID_ARGUMENT with a message naming the input and
 * showing the expected and the given type and shape. */
nncc_status nncc_session_set_input(nncc_session *s, int index, const void *data, int rank,
				   const int64_t *dims, int dtype, char **err);
/* Runs the model. NOT_READY, naming the first missing input, unless every
 * input has been set. Inputs stay set for later runs. */
nncc_status nncc_session_run(nncc_session *s, char **err);
/* Points *data at output `index` (size: the output's nbytes, layout: dense
 * row-major). The buffer belongs to the session and is overwritten by the
 * next run. NOT_READY before the first successful run. */
nncc_status nncc_session_output(const nncc_session *s, int index, const void **data);

/* --- dynamic batch (docs/dynamic-batch.md) ------------------------------- */

/* The most rows one run of a dynamic-batch model takes (compiled with
 * nncc --max SYM=N; its tensor infos show the dims at this batch); 0 when
 * every shape is fixed. */
int64_t nncc_model_max_batch(const nncc_model *m);
/* 1 when dim 0 of input (output) i is the batch, else 0. */
int nncc_model_input_batched(const nncc_model *m, int i);
int nncc_model_output_batched(const nncc_model *m, int i);
/* The batch of the session's last run (its batch inputs' common dim 0;
 * the max before the first run), 0 for a fixed model or NULL. A run whose
 * batch inputs disagree fails with INVALID_ARGUMENT naming them. */
int64_t nncc_session_batch(const nncc_session *s);
/* Output i as the last run made it: dims (pointing into the session,
 * valid until the next run) with the run's batch, and the nbytes of those
 * rows, which nncc_session_output's buffer begins with. NOT_READY before
 * the first run. */
nncc_status nncc_session_output_info(const nncc_session *s, int i, nncc_tensor_info *info);

/* --- training (docs/training.md) ----------------------------------------- */

/* What a parameter of a model is. An inference model has only CONST
 * parameters (read-only weights embedded in the library). A training step
 * compiled with `nncc --train` also has training state, of which each
 * session owns a writable copy initialized from the embedded data. */
typedef enum nncc_param_role {
	NNCC_PARAM_CONST = 0,   /* read-only weight (inference, or --freeze) */
	NNCC_PARAM_TRAINED = 1, /* a parameter the step updates (or, in a model compiled with
				 * nncc --mutable-weights, a weight the application sets) */
	NNCC_PARAM_OPTIM = 2,   /* optimizer state (momentum, Adam moments) */
	NNCC_PARAM_STEP = 3,    /* the step counter: i64 scalar, steps completed */
	NNCC_PARAM_LR = 4,      /* the learning rate: f32 scalar */
	NNCC_PARAM_SEED = 5,    /* the random seed: i64 scalar (dropout, augmentation) */
	NNCC_PARAM_BUFFER = 6,  /* a statistic the step updates, not trained (batch norm's running mean/var) */
} nncc_param_role;

/* Role of parameter i, or -1 when i is out of range. */
int nncc_model_param_role(const nncc_model *m, int i);
/* Index of the parameter with this name (for trained ones, the ONNX
 * initializer's name), or -1. */
int nncc_model_find_param(const nncc_model *m, const char *name);
/* 1 if the model is a training step (has a step counter), else 0. An
 * inference model compiled with `nncc --mutable-weights` is not one: its
 * weights are writable (set_param, load_weights) but nothing updates them. */
int nncc_model_is_training(const nncc_model *m);

/* Runs one training step on the inputs set (the batch and `label`):
 * updates the parameters and optimizer state in place and stores the
 * step's loss (computed before the update) in *loss (may be NULL).
 * UNSUPPORTED for an inference model. */
nncc_status nncc_session_train_step(nncc_session *s, float *loss, char **err);
/* Sets the learning rate used by the next steps (schedules need no
 * recompile). UNSUPPORTED for an inference model. */
nncc_status nncc_session_set_learning_rate(nncc_session *s, float lr, char **err);
/* Steps completed by the session (0 for an inference model). */
int64_t nncc_session_step(const nncc_session *s);
/* Copies the session's current value of parameter `name` (any role) to
 * data, which holds nbytes (exactly the parameter's nbytes). NOT_FOUND
 * for an unknown name, INVALID_ARGUMENT for a wrong size. */
nncc_status nncc_session_get_param(const nncc_session *s, const char *name, void *data,
				   int64_t nbytes, char **err);
/* Overwrites training state `name` with nbytes of data (exactly its
 * nbytes). INVALID_ARGUMENT for a constant parameter (read-only). */
nncc_status nncc_session_set_param(nncc_session *s, const char *name, const void *data,
				   int64_t nbytes, char **err);
/* The seed of the step's random ops (dropout masks, augmentation; 0 until
 * set), saved with the weights and restored by load_weights, so a resumed
 * run draws the same numbers. Each random op draws from (seed, step). */
void nncc_session_set_seed(nncc_session *s, uint64_t seed);
uint64_t nncc_session_seed(const nncc_session *s);
/* Saves every parameter (constants and training state: parameters,
 * optimizer state, step, learning rate) in safetensors format, named as in
 * the model, with the metadata "format": "nncc", "step" and "seed". The
 * file is written to a temporary and renamed. */
nncc_status nncc_session_save_weights(const nncc_session *s, const char *path, char **err);
/* Loads a safetensors file into the session's training state (and the
 * seed from its metadata). Each tensor must name a parameter of the model
 * with the same dtype and shape; a constant parameter must hold the same
 * bytes. Training state the file lacks keeps its value. On error nothing
 * is changed. */
nncc_status nncc_session_load_weights(nncc_session *s, const char *path, char **err);

/* --- The step's halves, for data parallelism (docs/distributed.md) ---------- */

/* Where trained parameter `param`'s gradient sits in the gradient buffer. */
typedef struct nncc_grad_info {
	const char *param; /* the parameter's name (as nncc_model_find_param knows it) */
	int64_t offset;    /* first element in the buffer (floats, a multiple of 16) */
	int64_t count;     /* elements (f32), the parameter's */
} nncc_grad_info;

/* Gradient slots of a training step compiled with nncc --train
 * --split-step; 0 for any other model. */
int nncc_model_num_grads(const nncc_model *m);
nncc_status nncc_model_grad_info(const nncc_model *m, int i, nncc_grad_info *out);
/* The first half of nncc_session_train_step: forward, loss and backward on
 * the inputs set, the gradients into the session's gradient buffer; the
 * parameters do not change. *loss (may be NULL) gets the loss. */
nncc_status nncc_session_compute_grads(nncc_session *s, float *loss, char **err);
/* The gradient buffer: *count f32 elements (slots of nncc_model_grad_info,
 * zero between them), valid while the session lives. The application may
 * change it between the halves (e.g. average it across processes). */
nncc_status nncc_session_grad_buffer(nncc_session *s, float **data, int64_t *count, char **err);
/* The second half: the optimizer's update of the parameters, optimizer
 * state and step from the gradient buffer. compute_grads then apply_update
 * gives the parameters nncc_session_train_step gives, bit for bit. Both
 * halves: UNSUPPORTED without --split-step, or on a CUDA session. */
nncc_status nncc_session_apply_update(nncc_session *s, char **err);

/* --- CUDA (docs/cuda.md) ---------------------------------------------------- */

/* Whether the model carries CUDA code (compiled with nncc --target=cuda). */
int nncc_model_has_cuda(const nncc_model *m);
/* Moves the session onto CUDA device `device` (0: the first GPU): loads
 * the driver (libcuda.so.1, with dlopen) and the model's kernels, and
 * copies the parameters into the model's one device allocation. Later
 * runs copy the inputs to the device, run the step there (one CUDA graph)
 * and copy the outputs back into the session's output buffers; training
 * state stays on the device and is copied back when read (get_param,
 * save_weights, the step counter). UNSUPPORTED with a message when the
 * model has no CUDA code or the machine no usable driver or GPU; the
 * session then still runs on the CPU. */
nncc_status nncc_session_use_cuda(nncc_session *s, int device, char **err);

#ifdef __cplusplus
}
#endif

#endif
