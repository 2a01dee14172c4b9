/* model.c — loading a compiled model and answering questions about it.
 *
 * A model is a shared library exporting `nncc_model`, an nncc_abi_model
 * descriptor (abi.h). Loading dlopens it (RTLD_NOW | RTLD_LOCAL, so two
 * models' symbols never mix), finds the descriptor and validates it as
 * untrusted data (model_check.c): magic, version, counts, names, dtypes,
 * sizes, and that its pointers stay inside the library.
 * After that the model is immutable and may be shared by threads. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rt.h"

struct nncc_model {
	const nncc_abi_model *abi; /* the validated descriptor */
	void *dl;                  /* dlopen handle; NULL when wrapping memory */
	const void *cuda;          /* its nncc_abi_cuda (--target=cuda), or NULL */
	const nncc_abi_model *half[2]; /* --split-step: NAME__grads, NAME__update (split.c), or NULL */
};

/* Validates abi (image: the base of the library holding it, or NULL) and
 * wraps it in a new model. */
static nncc_status
wrap(const nncc_abi_model *abi, const void *image, nncc_model **out, char **err)
{
	nncc_model *m;
	nncc_status st;

	if ((st = rt_check_abi(abi, image, 1, err)) != NNCC_STATUS_OK)
		return st;
	m = rt_calloc(1, sizeof *m);
	if (!m)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	m->abi = abi;
	*out = m;
	return NNCC_STATUS_OK;
}

int64_t
nncc_model_max_batch(const nncc_model *m)
{
	return m ? m->abi->batch_max : 0;
}

int
nncc_model_input_batched(const nncc_model *m, int i)
{
	return m && m->abi->batch_max > 0 && i >= 0 && i < m->abi->ninputs && m->abi->batch_io[i];
}

int
nncc_model_output_batched(const nncc_model *m, int i)
{
	return m && m->abi->batch_max > 0 && i >= 0 && i < m->abi->noutputs &&
	       m->abi->batch_io[m->abi->ninputs + i];
}

nncc_status
nncc_model_from_abi(const nncc_abi_model *abi, nncc_model **out, char **err)
{
	if (err)
		*err = NULL;
	if (!out)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_model_from_abi: out is NULL");
	*out = NULL;
	if (!abi)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_model_from_abi: no descriptor");
	return wrap(abi, NULL, out, err);
}

/* The halves of a --split-step training artifact, when it has them
 * (descriptors in the same library image; their roles are checked against
 * the step by split.c). */
static nncc_status
find_halves(nncc_model *m, const char *path, char **err)
{
	static const char *const suffix[2] = {"__grads", "__update"};
	char sym[512], *sub = NULL;
	nncc_status st;

	for (int h = 0; h < 2; h++) {
		if (snprintf(sym, sizeof sym, "%s%s_nncc_model", m->abi->name, suffix[h]) >= (int)sizeof sym)
			return NNCC_STATUS_OK; /* a name that long has no halves */
		m->half[h] = dlsym(m->dl, sym);
		if (m->half[h] && (st = rt_check_abi(m->half[h], rt_image_base(m->half[h]), 0, &sub)) !=
				      NNCC_STATUS_OK) {
			rt_err(err, st, "%s: %s: %s", path, sym, sub ? sub : nncc_status_string(st));
			free(sub);
			return st;
		}
	}
	if (!m->half[0] != !m->half[1])
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: one half of a split step", path);
	return NNCC_STATUS_OK;
}

nncc_status
nncc_model_load(const char *path, nncc_model **out, char **err)
{
	struct stat sb;
	char *local = NULL;
	const char *dlpath = path;
	const char *msg;
	const nncc_abi_model *abi;
	nncc_status st;
	void *dl;
	const void *image;
	char *sub = NULL;

	if (err)
		*err = NULL;
	if (!out)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_model_load: out is NULL");
	*out = NULL;
	if (!path)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_model_load: path is NULL");
	if (stat(path, &sb) != 0)
		return rt_err(err, errno == ENOENT ? NNCC_STATUS_NOT_FOUND : NNCC_STATUS_IO_ERROR,
			      "%s: %s", path, strerror(errno));
	if (!strchr(path, '/')) { /* dlopen would search LD_LIBRARY_PATH */
		local = rt_malloc(strlen(path) + 3);
		if (!local)
			return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
		strcpy(local, "./");
		strcat(local, path);
		dlpath = local;
	}
	dl = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
	free(local);
	if (!dl) {
		msg = dlerror();
		return rt_err(err, NNCC_STATUS_IO_ERROR, "%s: cannot load: %s", path,
			      msg ? msg : "dlopen failed");
	}
	dlerror();
	abi = (const nncc_abi_model *)dlsym(dl, "nncc_model");
	if (!abi) {
		dlclose(dl);
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "%s: not an nncc model (no symbol 'nncc_model')", path);
	}
	image = rt_image_base(abi);
	st = image ? wrap(abi, image, out, &sub) :
		rt_err(&sub, NNCC_STATUS_BAD_MODEL, "the descriptor lies in no loaded library");
	if (st != NNCC_STATUS_OK) {
		dlclose(dl);
		rt_err(err, st, "%s: %s", path, sub ? sub : nncc_status_string(st));
		free(sub);
		return st;
	}
	(*out)->dl = dl;
	(*out)->cuda = dlsym(dl, "nncc_cuda");
	if ((st = find_halves(*out, path, err)) != NNCC_STATUS_OK) {
		nncc_model_free(*out);
		*out = NULL;
	}
	return st;
}

void
nncc_model_free(nncc_model *m)
{
	if (!m)
		return;
	if (m->dl)
		dlclose(m->dl);
	free(m);
}

const nncc_abi_model *
rt_model_abi(const nncc_model *m)
{
	return m->abi;
}

const nncc_abi_model *
rt_model_half(const nncc_model *m, int h)
{
	return m->half[h];
}

const struct nncc_abi_cuda *
rt_model_cuda(const nncc_model *m)
{
	return m->cuda;
}

int
nncc_model_has_cuda(const nncc_model *m)
{
	return m && m->cuda != NULL;
}

int
rt_model_from_file(const nncc_model *m)
{
	return m->dl != NULL;
}

const char *
nncc_model_name(const nncc_model *m)
{
	return m ? m->abi->name : NULL;
}

int
nncc_model_num_inputs(const nncc_model *m)
{
	return m ? m->abi->ninputs : 0;
}

int
nncc_model_num_outputs(const nncc_model *m)
{
	return m ? m->abi->noutputs : 0;
}

int
nncc_model_num_params(const nncc_model *m)
{
	return m ? m->abi->nparams : 0;
}

static nncc_status
info(const nncc_abi_tensor *t, int32_t n, int i, nncc_tensor_info *out)
{
	if (!out || i < 0 || i >= n)
		return NNCC_STATUS_INVALID_ARGUMENT;
	out->name = t[i].name;
	out->dtype = (nncc_dtype)t[i].dtype;
	out->rank = t[i].rank;
	out->dims = t[i].dims;
	out->nbytes = t[i].nbytes;
	return NNCC_STATUS_OK;
}

nncc_status
nncc_model_input_info(const nncc_model *m, int i, nncc_tensor_info *out)
{
	return m ? info(m->abi->inputs, m->abi->ninputs, i, out) : NNCC_STATUS_INVALID_ARGUMENT;
}

nncc_status
nncc_model_output_info(const nncc_model *m, int i, nncc_tensor_info *out)
{
	return m ? info(m->abi->outputs, m->abi->noutputs, i, out) : NNCC_STATUS_INVALID_ARGUMENT;
}

nncc_status
nncc_model_param_info(const nncc_model *m, int i, nncc_tensor_info *out)
{
	return m ? info(m->abi->params, m->abi->nparams, i, out) : NNCC_STATUS_INVALID_ARGUMENT;
}

static int
find(const nncc_abi_tensor *t, int32_t n, const char *name)
{
	if (!name)
		return -1;
	for (int32_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
nncc_model_find_input(const nncc_model *m, const char *name)
{
	return m ? find(m->abi->inputs, m->abi->ninputs, name) : -1;
}

int
nncc_model_find_output(const nncc_model *m, const char *name)
{
	return m ? find(m->abi->outputs, m->abi->noutputs, name) : -1;
}
