/* split.c — the halves of a training step (nncc --train --split-step,
 * docs/distributed.md): compute the gradients into one flat buffer, let
 * the application change that buffer (average it across processes,
 * runtime/dist.c), then apply the optimizer's update from it.
 *
 * The artifact holds the fused step (its descriptor is the model's) and
 * two more descriptors, NAME__grads and NAME__update (model.c finds them).
 * The halves share the session's training state by name: each param of a
 * half that is training state points at the session's writable copy of the
 * step's param of that name (same dtype and size, checked once); a
 * constant param uses the half's own embedded data. Inputs are the
 * session's inputs by name, except the update's `grad.P`, which are slots
 * of the gradient buffer.
 *
 * The gradient buffer: the grads half's outputs after the loss, `grad.P`
 * for each trained parameter P, side by side in output order, each slot
 * starting at a multiple of 16 floats (64 bytes, the alignment every
 * runtime buffer has); the gaps stay zero. nncc_model_grad_info gives each
 * slot. The halves run in one arena: the step's, when it is large enough
 * (it holds only temporaries between runs), else one of their own. */
#include <stdlib.h>
#include <string.h>

#include "rt.h"

enum { SLOT_ALIGN = RT_ALIGN / 4 }; /* floats: slots start 64-byte aligned */

typedef struct RtSplit {
	const nncc_abi_model *h[2]; /* the gradients half, the update half */
	const void **par[2];        /* per half: its params (session state or its constants) */
	const void **in[2];         /* per half: its inputs (session inputs or gradient slots) */
	void **out[2];              /* per half: its outputs */
	void **own;                 /* buffers allocated here: the update's outputs */
	int nown;                   /* entries of own */
	float *loss;                /* the grads half's output 0 */
	float *grad;                /* the gradient buffer, ngrad floats */
	int64_t ngrad;              /* floats of grad */
	void *arena;                /* the halves' arena */
	void *own_arena;            /* arena when the step's is too small, else NULL */
} RtSplit;

void
rt_split_free(RtSplit *p)
{
	if (!p)
		return;
	for (int h = 0; h < 2; h++) {
		free(p->par[h]);
		free(p->in[h]);
		free(p->out[h]);
	}
	for (int i = 0; i < p->nown; i++)
		rt_free(p->own[i]);
	free(p->own);
	rt_free(p->loss);
	rt_free(p->grad);
	rt_free(p->own_arena);
	free(p);
}

/* Where the grads half's output `upto` (>= 1) starts in the gradient
 * buffer, in floats. */
static int64_t
slot_end(const nncc_abi_model *g, int upto)
{
	int64_t off = 0;
	for (int i = 1; i <= upto && i < g->noutputs; i++) {
		off = (off + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
		if (i < upto)
			off += g->outputs[i].nbytes / 4;
	}
	return off;
}

static int
find(const nncc_abi_tensor *t, int32_t n, const char *name)
{
	for (int32_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The grads half's outputs: loss (f32 scalar), then grad.P (f32). */
static nncc_status
check_grads_half(const nncc_abi_model *g, char **err)
{
	if (g->noutputs < 2 || g->outputs[0].dtype != NNCC_DTYPE_F32 || g->outputs[0].rank != 0)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "'%s': not a gradients half (loss, grad.P...)",
			      g->name);
	for (int i = 1; i < g->noutputs; i++)
		if (strncmp(g->outputs[i].name, "grad.", 5) != 0 || g->outputs[i].dtype != NNCC_DTYPE_F32)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "'%s': output '%s' is not an f32 grad.P",
				      g->name, g->outputs[i].name);
	return NNCC_STATUS_OK;
}

int
nncc_model_num_grads(const nncc_model *m)
{
	const nncc_abi_model *g = m ? rt_model_half(m, 0) : NULL;
	return g && check_grads_half(g, NULL) == NNCC_STATUS_OK ? g->noutputs - 1 : 0;
}

nncc_status
nncc_model_grad_info(const nncc_model *m, int i, nncc_grad_info *out)
{
	if (!out || i < 0 || i >= nncc_model_num_grads(m))
		return NNCC_STATUS_INVALID_ARGUMENT;
	const nncc_abi_model *g = rt_model_half(m, 0);
	out->param = g->outputs[i + 1].name + 5;
	out->offset = slot_end(g, i + 1);
	out->count = g->outputs[i + 1].nbytes / 4;
	return NNCC_STATUS_OK;
}

/* Half h's params: its constants, or the session's state of the same name. */
static nncc_status
bind_params(nncc_session *s, RtSplit *p, int h, char **err)
{
	const nncc_abi_model *a = rt_session_abi(s), *x = p->h[h];
	for (int32_t i = 0; i < x->nparams; i++) {
		const nncc_abi_tensor *t = &x->params[i];
		if (!x->param_role || x->param_role[i] == NNCC_ABI_ROLE_CONST) {
			p->par[h][i] = t->data;
			continue;
		}
		int j = find(a->params, a->nparams, t->name);
		if (j < 0 || !rt_session_param_writable(s, j) || a->params[j].dtype != t->dtype ||
		    a->params[j].nbytes != t->nbytes || a->param_role[j] != x->param_role[i])
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "'%s': state '%s' is not the step's",
				      x->name, t->name);
		p->par[h][i] = rt_session_param(s, j);
	}
	return NNCC_STATUS_OK;
}

/* Half h's inputs: the session's by name, or (update) gradient slots. */
static nncc_status
bind_inputs(nncc_session *s, RtSplit *p, int h, char **err)
{
	const nncc_abi_model *a = rt_session_abi(s), *x = p->h[h], *g = p->h[0];
	for (int32_t i = 0; i < x->ninputs; i++) {
		const nncc_abi_tensor *t = &x->inputs[i];
		int j = h == 1 ? find(g->outputs, g->noutputs, t->name) : -1;
		if (j >= 1) {
			if (g->outputs[j].nbytes != t->nbytes || t->dtype != NNCC_DTYPE_F32)
				return rt_err(err, NNCC_STATUS_BAD_MODEL, "'%s': input '%s' does not match "
					      "its gradient", x->name, t->name);
			p->in[h][i] = p->grad + slot_end(g, j);
			continue;
		}
		j = find(a->inputs, a->ninputs, t->name);
		if (j < 0 || a->inputs[j].nbytes != t->nbytes || a->inputs[j].dtype != t->dtype)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "'%s': input '%s' is not the step's",
				      x->name, t->name);
		p->in[h][i] = rt_session_inputs(s)[j];
	}
	return NNCC_STATUS_OK;
}

static nncc_status
bind_outputs(RtSplit *p, char **err)
{
	const nncc_abi_model *g = p->h[0], *u = p->h[1];
	p->out[0][0] = p->loss;
	for (int32_t i = 1; i < g->noutputs; i++)
		p->out[0][i] = p->grad + slot_end(g, i);
	for (int32_t i = 0; i < u->noutputs; i++) {
		if (!(p->own[p->nown] = rt_alloc(u->outputs[i].nbytes)))
			return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
		p->out[1][i] = p->own[p->nown++];
	}
	return NNCC_STATUS_OK;
}

static void *
ptrs(int32_t n)
{
	return rt_calloc(n > 0 ? (size_t)n : 1, sizeof(void *));
}

/* The session's split state, made on first use. */
static nncc_status
get(nncc_session *s, const char *fn, RtSplit **out, char **err)
{
	if (err)
		*err = NULL;
	if (!s)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "%s: no session", fn);
	RtSplit **slot = rt_session_split(s);
	if (*slot) {
		*out = *slot;
		return NNCC_STATUS_OK;
	}
	const nncc_model *m = rt_session_model(s);
	const nncc_abi_model *a = rt_session_abi(s);
	if (!rt_model_half(m, 0))
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: model '%s' has no split step (compile "
			      "it with nncc --train --split-step)", fn, a->name);
	nncc_status st = check_grads_half(rt_model_half(m, 0), err);
	if (st != NNCC_STATUS_OK)
		return st;
	RtSplit *p = rt_calloc(1, sizeof *p);
	if (!p)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	for (int h = 0; h < 2; h++) {
		p->h[h] = rt_model_half(m, h);
		p->par[h] = ptrs(p->h[h]->nparams);
		p->in[h] = ptrs(p->h[h]->ninputs);
		p->out[h] = ptrs(p->h[h]->noutputs);
		if (!p->par[h] || !p->in[h] || !p->out[h])
			goto oom;
	}
	const nncc_abi_model *g = p->h[0];
	p->ngrad = slot_end(g, g->noutputs - 1) + g->outputs[g->noutputs - 1].nbytes / 4;
	int64_t need = g->arena_bytes > p->h[1]->arena_bytes ? g->arena_bytes : p->h[1]->arena_bytes;
	p->own = ptrs(p->h[1]->noutputs);
	p->loss = rt_alloc(sizeof(float));
	p->grad = rt_alloc(p->ngrad * (int64_t)sizeof(float));
	if (need > a->arena_bytes && !(p->own_arena = rt_alloc(need)))
		goto oom;
	p->arena = p->own_arena ? p->own_arena : rt_session_arena(s);
	if (!p->own || !p->loss || !p->grad)
		goto oom;
	for (int h = 0; h < 2; h++)
		if ((st = bind_params(s, p, h, err)) != NNCC_STATUS_OK ||
		    (st = bind_inputs(s, p, h, err)) != NNCC_STATUS_OK) {
			rt_split_free(p);
			return st;
		}
	if ((st = bind_outputs(p, err)) != NNCC_STATUS_OK) {
		rt_split_free(p);
		return st;
	}
	*slot = *out = p;
	return NNCC_STATUS_OK;
oom:
	rt_split_free(p);
	return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "model '%s': cannot allocate the split step's "
		      "memory", a->name);
}

nncc_status
nncc_session_compute_grads(nncc_session *s, float *loss, char **err)
{
	RtSplit *p;
	nncc_status st = get(s, "nncc_session_compute_grads", &p, err);
	if (st == NNCC_STATUS_OK)
		st = rt_session_ready(s, err);
	if (st != NNCC_STATUS_OK)
		return st;
	p->h[0]->run(p->arena, p->in[0], (void *const *)p->out[0], p->par[0], rt_session_ctx(s));
	if (loss)
		*loss = *p->loss;
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_grad_buffer(nncc_session *s, float **data, int64_t *count, char **err)
{
	RtSplit *p;
	nncc_status st = get(s, "nncc_session_grad_buffer", &p, err);
	if (st != NNCC_STATUS_OK)
		return st;
	if (data)
		*data = p->grad;
	if (count)
		*count = p->ngrad;
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_apply_update(nncc_session *s, char **err)
{
	RtSplit *p;
	nncc_status st = get(s, "nncc_session_apply_update", &p, err);
	if (st == NNCC_STATUS_OK)
		st = rt_session_ready(s, err);
	if (st != NNCC_STATUS_OK)
		return st;
	p->h[1]->run(p->arena, p->in[1], (void *const *)p->out[1], p->par[1], rt_session_ctx(s));
	return NNCC_STATUS_OK;
}
