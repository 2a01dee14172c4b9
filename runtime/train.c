/* train.c — the training side of the runtime API (nncc.h, docs/training.md):
 * parameter roles, the train step, the learning rate and step counter,
 * parameter access by name, and weights in safetensors (safetensors.c).
 *
 * A training artifact's descriptor gives every param a role
 * (abi.h param_role); the session holds a writable copy of each piece of
 * training state (session.c), which the compiled step reads and updates in
 * place. Output 0 of a training step is its loss (f32 scalar). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

static int role_of(const nncc_abi_model *a, int i)
{
	return a->param_role ? a->param_role[i] : NNCC_ABI_ROLE_CONST;
}

nncc_status
rt_check_roles(const nncc_abi_model *a, char **err)
{
	int nstep = 0, nlr = 0, nseed = 0, ntrain = 0;
	if (!a->param_role)
		return NNCC_STATUS_OK;
	for (int32_t i = 0; i < a->nparams; i++) {
		const nncc_abi_tensor *t = &a->params[i];
		int r = a->param_role[i];
		if (r < 0 || r >= NNCC_ABI_ROLE_COUNT)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "param '%s': invalid role %d", t->name, r);
		ntrain += r != NNCC_ABI_ROLE_CONST;
		if (r == NNCC_ABI_ROLE_STEP && (nstep++ || t->dtype != NNCC_DTYPE_I64 || t->rank != 0))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "param '%s': a second step counter, or "
				      "not an i64 scalar", t->name);
		if (r == NNCC_ABI_ROLE_LR && (nlr++ || t->dtype != NNCC_DTYPE_F32 || t->rank != 0))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "param '%s': a second learning rate, or "
				      "not an f32 scalar", t->name);
		if (r == NNCC_ABI_ROLE_SEED && (nseed++ || t->dtype != NNCC_DTYPE_I64 || t->rank != 0))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "param '%s': a second seed, or "
				      "not an i64 scalar", t->name);
	}
	/* Parameters without a step counter (nncc --mutable-weights) are an
	 * inference model whose weights the application sets: no loss. */
	if (ntrain && nstep && (a->noutputs < 1 || a->outputs[0].dtype != NNCC_DTYPE_F32 ||
				a->outputs[0].rank != 0))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "a training step's output 0 must be its loss, "
			      "an f32 scalar");
	return NNCC_STATUS_OK;
}

int
nncc_model_param_role(const nncc_model *m, int i)
{
	const nncc_abi_model *a = m ? rt_model_abi(m) : NULL;
	if (!a || i < 0 || i >= a->nparams)
		return -1;
	return role_of(a, i);
}

int
nncc_model_find_param(const nncc_model *m, const char *name)
{
	const nncc_abi_model *a = m ? rt_model_abi(m) : NULL;
	if (!a || !name)
		return -1;
	for (int32_t i = 0; i < a->nparams; i++)
		if (strcmp(a->params[i].name, name) == 0)
			return i;
	return -1;
}

int
nncc_model_is_training(const nncc_model *m)
{
	const nncc_abi_model *a = m ? rt_model_abi(m) : NULL;
	for (int32_t i = 0; a && i < a->nparams; i++)
		if (role_of(a, i) == NNCC_ABI_ROLE_STEP)
			return 1;
	return 0;
}

/* Index of the param with role r, or -1. */
static int find_role(const nncc_abi_model *a, int r)
{
	for (int32_t i = 0; i < a->nparams; i++)
		if (role_of(a, i) == r)
			return i;
	return -1;
}

static nncc_status need_training(const nncc_session *s, const char *fn, char **err)
{
	if (!s)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "%s: no session", fn);
	const nncc_abi_model *a = rt_session_abi(s);
	if (find_role(a, NNCC_ABI_ROLE_STEP) < 0)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: model '%s' is not a training step "
			      "(compile it with nncc --train)", fn, a->name);
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_train_step(nncc_session *s, float *loss, char **err)
{
	nncc_status st;
	const void *out;
	if (err)
		*err = NULL;
	if ((st = need_training(s, "nncc_session_train_step", err)) != NNCC_STATUS_OK)
		return st;
	if ((st = nncc_session_run(s, err)) != NNCC_STATUS_OK)
		return st;
	if ((st = nncc_session_output(s, 0, &out)) != NNCC_STATUS_OK)
		return rt_err(err, st, "nncc_session_train_step: no loss");
	if (loss)
		memcpy(loss, out, sizeof *loss);
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_set_learning_rate(nncc_session *s, float lr, char **err)
{
	nncc_status st;
	if (err)
		*err = NULL;
	if ((st = need_training(s, "nncc_session_set_learning_rate", err)) != NNCC_STATUS_OK)
		return st;
	int i = find_role(rt_session_abi(s), NNCC_ABI_ROLE_LR);
	if (i < 0)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "model '%s' has no learning rate",
			      rt_session_abi(s)->name);
	if (!(lr >= 0) || lr > 3.4e38f)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "learning rate %g: not a finite "
			      "number >= 0", (double)lr);
	memcpy(rt_session_param(s, i), &lr, sizeof lr);
	return NNCC_STATUS_OK;
}

int64_t
nncc_session_step(const nncc_session *s)
{
	int64_t step = 0;
	int i = s ? find_role(rt_session_abi(s), NNCC_ABI_ROLE_STEP) : -1;
	if (i >= 0)
		memcpy(&step, rt_session_param(s, i), sizeof step);
	return step;
}

/* The seed lives in the session and, for a step with random ops, in its
 * `seed` state, which the compiled code reads (rng, docs/training.md). */
void
nncc_session_set_seed(nncc_session *s, uint64_t seed)
{
	if (!s)
		return;
	*rt_session_seed(s) = seed;
	int i = find_role(rt_session_abi(s), NNCC_ABI_ROLE_SEED);
	if (i >= 0)
		memcpy(rt_session_param(s, i), &seed, sizeof seed);
}

uint64_t
nncc_session_seed(const nncc_session *s)
{
	uint64_t seed = 0;
	int i = s ? find_role(rt_session_abi(s), NNCC_ABI_ROLE_SEED) : -1;
	if (i >= 0)
		memcpy(&seed, rt_session_param(s, i), sizeof seed);
	else if (s)
		seed = *rt_session_seed((nncc_session *)s);
	return seed;
}

/* The param called name, with a message naming the model otherwise. */
static nncc_status find_param(const nncc_session *s, const char *name, int *idx, char **err)
{
	if (!s || !name)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "parameter access: no session or name");
	const nncc_abi_model *a = rt_session_abi(s);
	for (int32_t i = 0; i < a->nparams; i++)
		if (strcmp(a->params[i].name, name) == 0) {
			*idx = i;
			return NNCC_STATUS_OK;
		}
	return rt_err(err, NNCC_STATUS_NOT_FOUND, "model '%s' has no parameter '%s'", a->name, name);
}

nncc_status
nncc_session_get_param(const nncc_session *s, const char *name, void *data, int64_t nbytes,
		       char **err)
{
	nncc_status st;
	int i;
	if (err)
		*err = NULL;
	if ((st = find_param(s, name, &i, err)) != NNCC_STATUS_OK)
		return st;
	const nncc_abi_tensor *t = &rt_session_abi(s)->params[i];
	if (nbytes != t->nbytes || (nbytes > 0 && !data))
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "parameter '%s' has %lld bytes, %lld "
			      "asked for", name, (long long)t->nbytes, (long long)nbytes);
	if (nbytes > 0)
		memcpy(data, rt_session_param(s, i), (size_t)nbytes);
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_set_param(nncc_session *s, const char *name, const void *data, int64_t nbytes,
		       char **err)
{
	nncc_status st;
	int i;
	if (err)
		*err = NULL;
	if ((st = find_param(s, name, &i, err)) != NNCC_STATUS_OK)
		return st;
	const nncc_abi_tensor *t = &rt_session_abi(s)->params[i];
	if (!rt_session_param_writable(s, i))
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "parameter '%s' is constant in model "
			      "'%s' (read-only)", name, rt_session_abi(s)->name);
	if (nbytes != t->nbytes || (nbytes > 0 && !data))
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "parameter '%s' has %lld bytes, %lld "
			      "given", name, (long long)t->nbytes, (long long)nbytes);
	if (nbytes > 0)
		memcpy(rt_session_param(s, i), data, (size_t)nbytes);
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_save_weights(const nncc_session *s, const char *path, char **err)
{
	if (err)
		*err = NULL;
	if (!s || !path)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_save_weights: no session or path");
	const nncc_abi_model *a = rt_session_abi(s);
	RtTensor *t = rt_calloc(a->nparams > 0 ? (size_t)a->nparams : 1, sizeof *t);
	if (!t)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	for (int32_t i = 0; i < a->nparams; i++) {
		const nncc_abi_tensor *p = &a->params[i];
		if (p->rank > RT_MAX_RANK) {
			free(t);
			return rt_err(err, NNCC_STATUS_UNSUPPORTED, "parameter '%s': rank %d", p->name, p->rank);
		}
		t[i].name = (char *)p->name;
		t[i].dtype = p->dtype;
		t[i].rank = p->rank;
		for (int d = 0; d < p->rank; d++)
			t[i].dims[d] = p->dims[d];
		t[i].nbytes = p->nbytes;
		t[i].data = rt_session_param(s, i);
	}
	char step[32], seed[32];
	snprintf(step, sizeof step, "%lld", (long long)nncc_session_step(s));
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)nncc_session_seed(s));
	nncc_status st = rt_st_write(path, t, a->nparams, step, seed, err);
	free(t);
	return st;
}

/* Checks entry e of the file against param i of the model. */
static nncc_status check_entry(const nncc_session *s, const RtSt *f, const RtStEntry *e, int i,
			       const char *path, char **err)
{
	const nncc_abi_tensor *p = &rt_session_abi(s)->params[i];
	int same = e->dtype == p->dtype && e->rank == p->rank;
	for (int d = 0; same && d < e->rank; d++)
		same = e->dims[d] == p->dims[d];
	if (!same) {
		char want[256], got[256];
		rt_format_type(want, sizeof want, p->dtype, p->rank, p->dims);
		rt_format_type(got, sizeof got, e->dtype, e->rank, e->dims);
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "%s: tensor '%s': the model has %s, "
			      "the file %s", path, e->name, want, got);
	}
	if (!rt_session_param_writable(s, i) && p->nbytes > 0 &&
	    memcmp(rt_session_param(s, i), f->data + e->begin, (size_t)p->nbytes) != 0)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "%s: tensor '%s' is constant in model "
			      "'%s' (inference or --freeze) and the file holds other values", path,
			      e->name, rt_session_abi(s)->name);
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_load_weights(nncc_session *s, const char *path, char **err)
{
	void *buf = NULL;
	size_t len;
	RtSt f;
	nncc_status st;
	int *idx = NULL;

	if (err)
		*err = NULL;
	if (!s || !path)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_load_weights: no session or path");
	if ((st = rt_read_file(path, &buf, &len, err)) != NNCC_STATUS_OK)
		return st;
	if ((st = rt_st_parse(buf, len, &f, path, err)) != NNCC_STATUS_OK) {
		rt_free(buf);
		return st;
	}
	uint64_t seed = nncc_session_seed(s);
	if (f.meta_seed) {
		char *end;
		seed = strtoull(f.meta_seed, &end, 10);
		if (!*f.meta_seed || *end) {
			st = rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: metadata seed '%s' is not a number",
				    path, f.meta_seed);
			goto out;
		}
	}
	idx = rt_calloc(f.n > 0 ? (size_t)f.n : 1, sizeof *idx);
	if (!idx) {
		st = rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
		goto out;
	}
	for (int k = 0; k < f.n; k++) { /* everything checked before anything changes */
		int i;
		if ((st = find_param(s, f.t[k].name, &i, err)) != NNCC_STATUS_OK) {
			if (err) {
				free(*err);
				*err = NULL;
			}
			st = rt_err(err, NNCC_STATUS_NOT_FOUND, "%s: tensor '%s' is not a parameter of "
				    "model '%s'", path, f.t[k].name, rt_session_abi(s)->name);
			goto out;
		}
		if ((st = check_entry(s, &f, &f.t[k], i, path, err)) != NNCC_STATUS_OK)
			goto out;
		idx[k] = i;
	}
	for (int k = 0; k < f.n; k++)
		if (rt_session_param_writable(s, idx[k]) && f.t[k].end > f.t[k].begin)
			memcpy(rt_session_param(s, idx[k]), f.data + f.t[k].begin,
			       (size_t)(f.t[k].end - f.t[k].begin));
	nncc_session_set_seed(s, seed);
	st = NNCC_STATUS_OK;
out:
	free(idx);
	rt_st_free(&f);
	rt_free(buf);
	return st;
}
