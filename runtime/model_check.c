/* model_check.c — validation of a compiled model's descriptor (abi.h) as
 * untrusted data, before anything else reads it: magic and version, tensor
 * counts within the ABI's limits and at least one output, each tensor's
 * name (present, NUL-terminated within RT_MAX_NAME bytes), rank (at most
 * RT_MAX_RANK), dtype, extents and byte size (checked products), params'
 * data, and the param roles. For a library loaded from a file, every
 * pointer the descriptor holds (its arrays, names, dims, data, the run
 * function) must also lie inside that library's mapped image (dladdr), so
 * a damaged library fails with a message instead of reading out of
 * bounds. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "rt.h"

enum {
	RT_MAX_TENSORS = 1 << 20, /* most inputs, outputs or params of a model */
	RT_MAX_NAME = 4096,       /* longest tensor or model name, NUL excluded */
	RT_PAGE = 4096,           /* granule of the image checks */
};

/* Whether [p, p + len) lies in the object whose base is image (NULL: not
 * loaded from a file, nothing to check). Checked at both ends and at every
 * page between, so a range cannot straddle an unmapped gap. */
static bool
in_image(const void *image, const void *p, int64_t len)
{
	Dl_info info;
	uintptr_t a = (uintptr_t)p, end;

	if (!image)
		return true;
	if (!p || len < 0 || __builtin_add_overflow(a, (uintptr_t)(len > 0 ? len - 1 : 0), &end))
		return false;
	for (;;) {
		if (!dladdr((const void *)a, &info) || info.dli_fbase != image)
			return false;
		if (a == end)
			return true;
		uintptr_t next = (a | (RT_PAGE - 1)) + 1;
		a = next > end || next == 0 ? end : next;
	}
}

/* Whether s is a NUL-terminated string of at most RT_MAX_NAME bytes inside
 * the image, reading no byte before the page holding it is checked. */
static bool
name_ok(const void *image, const char *s)
{
	if (!s || !in_image(image, s, 1))
		return false;
	for (size_t i = 0; i <= RT_MAX_NAME; i++) {
		if (i && ((uintptr_t)(s + i) & (RT_PAGE - 1)) == 0 && !in_image(image, s + i, 1))
			return false;
		if (!s[i])
			return true;
	}
	return false;
}

static nncc_status
check_tensors(const void *image, const nncc_abi_tensor *t, int32_t n, const char *kind,
	      int is_param, const int32_t *roles, char **err)
{
	char what[128];
	int64_t nbytes;
	nncc_status st;

	if (n < 0 || n > RT_MAX_TENSORS)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: %s count %d outside 0..%d",
			      kind, (int)n, RT_MAX_TENSORS);
	if (n > 0 && (!t || !in_image(image, t, (int64_t)n * (int64_t)sizeof *t)))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: the %s array (%d entries) "
			      "lies outside the model", kind, (int)n);
	for (int32_t i = 0; i < n; i++) {
		if (!name_ok(image, t[i].name))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: %s %d has no valid name",
				      kind, (int)i);
		snprintf(what, sizeof what, "model descriptor: %s '%.64s'", kind, t[i].name);
		if (t[i].rank < 0 || t[i].rank > RT_MAX_RANK)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: rank %d outside 0..%d", what,
				      (int)t[i].rank, RT_MAX_RANK);
		if (t[i].rank > 0 && !in_image(image, t[i].dims, (int64_t)t[i].rank * 8))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: dims lie outside the model", what);
		st = rt_tensor_bytes(t[i].dtype, t[i].rank, t[i].dims, &nbytes, what, err);
		if (st != NNCC_STATUS_OK)
			return st;
		if (nbytes != t[i].nbytes)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: nbytes %lld, shape says %lld",
				      what, (long long)t[i].nbytes, (long long)nbytes);
		if (is_param && nbytes > 0 && !t[i].data && !(roles && roles[i] == NNCC_ABI_ROLE_OPTIM))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: no data", what); /* optimizer state: zeros */
		if (is_param && nbytes > 0 && t[i].data && !in_image(image, t[i].data, nbytes))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: data lies outside the model", what);
		if (!is_param && t[i].data)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: has data", what);
	}
	return NNCC_STATUS_OK;
}

/* Dynamic batch: every batch tensor has the max as its dim 0, and some
 * input carries the batch. */
static nncc_status
check_batch(const nncc_abi_model *a, const void *image, char **err)
{
	int any = 0;

	if (a->batch_max < 0 || (a->batch_max > 0 && !a->batch_io))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: bad dynamic batch");
	if (a->batch_max > 0 && !in_image(image, a->batch_io, (int64_t)(a->ninputs + a->noutputs)))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: batch flags lie outside the model");
	for (int32_t i = 0; a->batch_max > 0 && i < a->ninputs + a->noutputs; i++) {
		const nncc_abi_tensor *t = i < a->ninputs ? &a->inputs[i] : &a->outputs[i - a->ninputs];
		if (a->batch_io[i] > 1 || (a->batch_io[i] && (t->rank < 1 || t->dims[0] != a->batch_max)))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: %s is no batch of %lld",
				      t->name, (long long)a->batch_max);
		any |= i < a->ninputs && a->batch_io[i];
	}
	if (a->batch_max > 0 && !any)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: no input carries the batch");
	return NNCC_STATUS_OK;
}

nncc_status
rt_check_abi(const nncc_abi_model *a, const void *image, int roles, char **err)
{
	nncc_status st;

	if (!in_image(image, a, (int64_t)sizeof *a))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor lies outside the model");
	if (a->magic != NNCC_ABI_MAGIC)
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "not an nncc model (descriptor magic 0x%08x)", (unsigned)a->magic);
	if (a->version != NNCC_ABI_VERSION)
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "model built for ABI version %u, this runtime supports version %d",
			      (unsigned)a->version, NNCC_ABI_VERSION);
	if (!name_ok(image, a->name))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: no valid name");
	if (!a->run || !in_image(image, (const void *)(uintptr_t)a->run, 1))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: no run function in the model");
	if (a->arena_bytes < 0)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: negative arena size");
	if (a->noutputs == 0 && roles) /* a split step's update half has none */
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: no outputs");
	if ((st = check_tensors(image, a->inputs, a->ninputs, "input", 0, NULL, err)) != NNCC_STATUS_OK)
		return st;
	if ((st = check_tensors(image, a->outputs, a->noutputs, "output", 0, NULL, err)) != NNCC_STATUS_OK)
		return st;
	if (a->param_role && a->nparams > 0 && a->nparams <= RT_MAX_TENSORS &&
	    !in_image(image, a->param_role, (int64_t)a->nparams * 4))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model descriptor: param roles lie outside the model");
	if ((st = check_tensors(image, a->params, a->nparams, "param", 1, a->param_role, err)) != NNCC_STATUS_OK)
		return st;
	if ((st = check_batch(a, image, err)) != NNCC_STATUS_OK)
		return st;
	return roles ? rt_check_roles(a, err) : NNCC_STATUS_OK;
}

const void *
rt_image_base(const void *p)
{
	Dl_info info;

	return dladdr(p, &info) ? info.dli_fbase : NULL;
}
