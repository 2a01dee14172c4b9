/* lower.c — graph -> KernelList (codegen.h): the driver, buffer assignment
 * and the helpers every lowering file shares (lower.h).
 *
 * Buffers: graph inputs, used constants (params) and graph outputs map to
 * the caller's arrays; every other node output gets a BUF_TEMP placed later
 * by cg_plan(). A view op (OPF_VIEW) makes no kernel: its output shares its
 * input's buffer. A node whose output is a graph output writes straight into
 * the output buffer; outputs that cannot (views, inputs, constants, repeated
 * values) get a copy kernel at the end. A fusion group (Node.group, see
 * lower_fuse.c) lowers at its root into one kernel; its other members get
 * neither a buffer nor a kernel. A concat input may live inside the
 * concat's output (Buf.alias, lower_ew.c) instead of being copied there. Assumes a verified, shape-inferred graph;
 * every shape must be static. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"

/* --- diagnostics --------------------------------------------------------- */

int lw_err(Lower *L, int node, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const Node *n = &L->g->node[node];
	/* same form as the shape rules' messages (ir/shape.c) */
	return diag(L->d, "node %d (%s \"%s\"): %s", node, ir_ops[n->op].name, n->name ? n->name : "", msg);
}

int lw_unsupported(Lower *L, int node, DType t)
{
	const char *op = ir_ops[L->g->node[node].op].name;
	return lw_err(L, node, "cannot lower %s for %s", op, ir_dtype_name(t));
}

/* --- values, buffers, kernels -------------------------------------------- */

const Value *lw_in(Lower *L, int node, int k)
{
	return &L->g->val[L->g->node[node].in[k]];
}

const Value *lw_out(Lower *L, int node)
{
	return &L->g->val[L->g->node[node].out[0]];
}

int lw_inbuf(Lower *L, int node, int k)
{
	int b = L->vbuf[L->g->node[node].in[k]];
	NN_ASSERT(b >= 0);
	return b;
}

int lw_outbuf(Lower *L, int node)
{
	int b = L->vbuf[L->g->node[node].out[0]];
	NN_ASSERT(b >= 0);
	return b;
}

static int new_buf(Lower *L, BufKind kind, DType t, int64_t numel, int index, int value)
{
	int64_t nbytes;
	if (numel < 0 || !ck_mul(numel, (int64_t)ir_dtype_size(t), &nbytes))
		return -1;
	KernelList *kl = L->kl;
	if (kl->nbuf == L->capbuf) {
		L->capbuf = L->capbuf ? 2 * L->capbuf : 16;
		kl->buf = xrealloc(kl->buf, (size_t)L->capbuf * sizeof *kl->buf);
	}
	Buf *b = &kl->buf[kl->nbuf];
	*b = (Buf){ .kind = kind, .dtype = t, .numel = numel, .nbytes = nbytes,
		    .index = index, .offset = 0, .value = value, .inplace = -1, .alias = -1 };
	return kl->nbuf++;
}

int lw_temp(Lower *L, DType t, int64_t numel, int value)
{
	return new_buf(L, BUF_TEMP, t, numel, -1, value);
}

Kernel *lw_kernel(Lower *L, int node, KernelKind kind)
{
	KernelList *kl = L->kl;
	if (kl->nk == L->capk) {
		L->capk = L->capk ? 2 * L->capk : 16;
		kl->k = xrealloc(kl->k, (size_t)L->capk * sizeof *kl->k);
	}
	Kernel *k = &kl->k[kl->nk++];
	memset(k, 0, sizeof *k);
	k->kind = kind;
	k->node = node;
	k->out = -1;
	k->mm.a = k->mm.b = k->mm.c = -1;
	k->conv.x = k->conv.wt = k->conv.bias = k->conv.y = k->conv.scratch = -1;
	if (node >= 0) {
		const Node *n = &L->g->node[node];
		k->name = n->name && n->name[0] ? n->name : ir_ops[n->op].name;
	} else {
		k->name = "copy";
	}
	return k;
}

Kernel *lw_loop(Lower *L, int node, const Shape *s, int out)
{
	Kernel *k = lw_kernel(L, node, KK_LOOP);
	k->nvar = k->nout_var = s->rank;
	for (int i = 0; i < s->rank; i++)
		k->extent[i] = s->d[i].n;
	k->out = out;
	k->out_idx = lw_contig(s, 0);
	return k;
}

int lw_addvar(Lower *L, Kernel *k, int64_t extent)
{
	if (k->nvar >= KV_MAX) {
		L->manyvar = true;
		return 0;
	}
	k->extent[k->nvar] = extent;
	return k->nvar++;
}

/* --- index arithmetic ------------------------------------------------------ */

int64_t lw_mul(Lower *L, int64_t a, int64_t b)
{
	int64_t r;
	if (!ck_mul(a, b, &r)) {
		L->ovf = true;
		return 0;
	}
	return r;
}

int64_t lw_add(Lower *L, int64_t a, int64_t b)
{
	int64_t r;
	if (!ck_add(a, b, &r)) {
		L->ovf = true;
		return 0;
	}
	return r;
}

/* Shapes here are static with a checked numel, so strides cannot overflow. */
void lw_strides(const Shape *s, int64_t *st)
{
	int64_t m = 1;
	for (int i = s->rank - 1; i >= 0; i--) {
		st[i] = m;
		m *= s->d[i].n > 0 ? s->d[i].n : 1;
	}
}

Aff lw_contig(const Shape *s, int var0)
{
	Aff a;
	memset(&a, 0, sizeof a);
	int64_t st[IR_MAX_RANK];
	lw_strides(s, st);
	for (int i = 0; i < s->rank; i++)
		a.k[var0 + i] = s->d[i].n == 1 ? 0 : st[i]; /* extent-1 vars are always 0 */
	return a;
}

int lw_norm_axis(Lower *L, int node, int64_t axis, int rank, int *res)
{
	if (axis < -rank || axis >= rank)
		return lw_err(L, node, "axis %lld out of range for rank %d", (long long)axis, rank);
	*res = (int)(axis < 0 ? axis + rank : axis);
	return 0;
}

bool lw_is_float(DType t)
{
	return t == DT_F32 || t == DT_F64;
}

bool lw_is_arith(DType t)
{
	return t == DT_F32 || t == DT_F64 || ir_dtype_is_int(t);
}

void lw_int_range(DType t, double *lo, double *hi)
{
	int bits = (int)ir_dtype_size(t) * 8;
	if (ir_dtype_is_unsigned(t)) {
		*lo = 0;
		*hi = bits == 64 ? 0x1p64 - 2048 : ldexp(1, bits) - 1;
	} else {
		*lo = -ldexp(1, bits - 1);
		*hi = bits == 64 ? 0x1p63 - 1024 : ldexp(1, bits - 1) - 1;
	}
}

/* --- expression builders --------------------------------------------------- */

static Kx *kx_new(Lower *L, KxKind kind, DType t)
{
	Kx *x = arena_alloc(&L->kl->arena, sizeof *x);
	x->kind = kind;
	x->dtype = t;
	x->buf = -1;
	return x;
}

Kx *kx_const(Lower *L, DType t, double c)
{
	Kx *x = kx_new(L, KX_CONST, t);
	x->c = c;
	return x;
}

Kx *kx_load(Lower *L, DType t, int buf, Aff idx)
{
	Kx *x = kx_new(L, KX_LOAD, t);
	x->buf = buf;
	x->idx = idx;
	return x;
}

void kx_guard(Lower *L, Kx *x, Aff e, int64_t lo, int64_t hi)
{
	Guard *g = arena_alloc(&L->kl->arena, (size_t)(x->nguard + 1) * sizeof *g);
	if (x->nguard)
		memcpy(g, x->guard, (size_t)x->nguard * sizeof *g);
	g[x->nguard] = (Guard){ .e = e, .lo = lo, .hi = hi };
	x->guard = g;
	x->nguard++;
}

Kx *kx_valid(Lower *L, DType t)
{
	return kx_new(L, KX_VALID, t);
}

Kx *kx_un(Lower *L, KuOp op, Kx *a)
{
	Kx *x = kx_new(L, KX_UNARY, a->dtype);
	x->op = (int)op;
	x->a = a;
	return x;
}

Kx *kx_bin(Lower *L, KbOp op, Kx *a, Kx *b)
{
	Kx *x = kx_new(L, KX_BINARY, a->dtype);
	x->op = (int)op;
	x->a = a;
	x->b = b;
	return x;
}

Kx *kx_sel(Lower *L, Kx *cond, Kx *a, Kx *b)
{
	Kx *x = kx_new(L, KX_SELECT, a->dtype);
	x->cond = cond;
	x->a = a;
	x->b = b;
	return x;
}

Kx *kx_red(Lower *L, KrOp op, Kx *a)
{
	Kx *x = kx_new(L, KX_REDUCE, a->dtype);
	x->op = (int)op;
	x->a = a;
	return x;
}

/* --- driver ---------------------------------------------------------------- */

typedef int (*LowerFn)(Lower *L, int node);

static const LowerFn lower_fn[OP_COUNT] = {
	[OP_MATMUL] = lw_matmul,
	[OP_CONV] = lw_conv,
	[OP_MAXPOOL] = lw_pool,
	[OP_AVGPOOL] = lw_pool,
	[OP_REDUCE_SUM] = lw_reduce,
	[OP_REDUCE_MEAN] = lw_reduce,
	[OP_REDUCE_MAX] = lw_reduce,
	[OP_SOFTMAX] = lw_softmax,
	[OP_LOGSOFTMAX] = lw_softmax,
	[OP_BATCHNORM] = lw_batchnorm,
	[OP_PAD] = lw_pad,
	[OP_TRANSPOSE] = lw_transpose,
	[OP_CONCAT] = lw_concat,
	[OP_GATHER] = lw_gather, /* lower_extra.c */
	[OP_CAST] = lw_cast,     /* lower_extra.c */

	/* --- ew --- */

	/* --- red --- */
	[OP_REDUCE_MIN] = lw_reduce,
	[OP_REDUCE_PROD] = lw_reduce,
	[OP_ARGMAX] = lw_argmax, /* lower_red_ext.c */
	[OP_ARGMIN] = lw_argmax,
	[OP_CUMSUM] = lw_cumsum,
	[OP_CUMPROD] = lw_cumsum,
	[OP_TOPK] = lw_topk,

	/* --- idx --- */
	[OP_SLICE] = lw_slice,
	[OP_EXPAND] = lw_expand,
	[OP_TRILU] = lw_trilu,
	[OP_GATHER_ELEMENTS] = lw_gather_elements,
	[OP_GATHER_ND] = lw_gather_nd,
	[OP_SCATTER_ELEMENTS] = lw_scatter,
	[OP_SCATTER_ND] = lw_scatter,

	/* --- conv --- */
	[OP_CONV_TRANSPOSE] = lw_conv_transpose,

	/* --- train --- */
	/* bn */
	[OP_BUFFER_UPDATE] = lw_buffer_update, /* lower_train.c */
	/* trn */
	[OP_ASSIGN] = lw_assign, /* lower_train.c */
	/* rng */
	[OP_RANDOM_UNIFORM] = lw_random_uniform, /* lower_rng.c */

};

/* Checks that v has a dtype and a static shape; node < 0 for graph inputs
 * and outputs. */
static int check_value(Lower *L, int node, int v)
{
	const Value *x = &L->g->val[v];
	char sh[256];
	if (x->dtype == DT_UNDEF || x->shape.rank < 0) {
		if (node >= 0)
			return lw_err(L, node, "value \"%s\" has no inferred type; run shape inference first", x->name);
		return diag(L->d, "value \"%s\": no inferred type; run shape inference first", x->name);
	}
	int64_t bytes;
	if (ir_shape_static(&x->shape) && (ir_shape_numel(&x->shape) < 0 ||
		!ck_mul(ir_shape_numel(&x->shape), (int64_t)ir_dtype_size(x->dtype), &bytes))) {
		ir_shape_str(L->g, &x->shape, sh, sizeof sh);
		if (node >= 0)
			return lw_err(L, node, "value \"%s\" has a shape of more than 2^63 bytes, %s",
				      x->name, sh);
		return diag(L->d, "value \"%s\" has a shape of more than 2^63 bytes, %s", x->name, sh);
	}
	if (!ir_shape_static(&x->shape)) {
		ir_shape_str(L->g, &x->shape, sh, sizeof sh);
		if (node >= 0 && L->g->node[node].op == OP_RESHAPE_DYN)
			return lw_err(L, node, "value \"%s\" has shape %s: its target shape is computed at run "
				      "time, which is not supported (nncc needs it at compile time)", x->name, sh);
		if (node >= 0)
			return lw_err(L, node, "value \"%s\" has non-static shape %s; "
				      "bind its symbolic dims with --shape NAME=D0,D1,...", x->name, sh);
		return diag(L->d, "value \"%s\" has non-static shape %s; "
			    "bind its symbolic dims with --shape NAME=D0,D1,...", x->name, sh);
	}
	return 0;
}

/* Marks live nodes (those reaching a graph output or with side effects)
 * and live values; checks every live value is static. */
static int mark_live(Lower *L, bool *nlive, bool *vlive)
{
	const Graph *g = L->g;
	for (int i = 0; i < g->noutput; i++)
		vlive[g->output[i]] = true;
	for (int i = g->nnode - 1; i >= 0; i--) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool l = (ir_ops[n->op].flags & OPF_SIDE_EFFECT) != 0;
		for (int k = 0; k < n->nout; k++)
			l = l || vlive[n->out[k]];
		if (!l)
			continue;
		nlive[i] = true;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] >= 0)
				vlive[n->in[k]] = true;
	}
	int rc = 0;
	for (int i = 0; i < g->ninput; i++)
		rc |= check_value(L, -1, g->input[i]);
	for (int i = 0; i < g->nnode && rc == 0; i++) {
		const Node *n = &g->node[i];
		if (!nlive[i])
			continue;
		for (int k = 0; k < n->nin && rc == 0; k++)
			if (n->in[k] >= 0)
				rc |= check_value(L, i, n->in[k]);
		for (int k = 0; k < n->nout && rc == 0; k++)
			rc |= check_value(L, i, n->out[k]);
	}
	for (int i = 0; i < g->noutput && rc == 0; i++)
		rc |= check_value(L, -1, g->output[i]);
	return rc ? -1 : 0;
}

static int value_buf(Lower *L, BufKind kind, int index, int v)
{
	const Value *x = &L->g->val[v];
	int b = new_buf(L, kind, x->dtype, ir_shape_numel(&x->shape), index, v);
	if (b < 0)
		diag(L->d, "value \"%s\": size overflows", x->name);
	return b;
}

/* Buffers for inputs, params and outputs; marks which outputs need a copy. */
static int assign_io(Lower *L, const bool *vlive, bool *copy)
{
	const Graph *g = L->g;
	KernelList *kl = L->kl;
	for (int i = 0; i < g->ninput; i++)
		if ((L->vbuf[g->input[i]] = value_buf(L, BUF_INPUT, i, g->input[i])) < 0)
			return -1;
	for (int v = 0; v < g->nval; v++) {
		if (g->val[v].kind != VK_CONST || !vlive[v])
			continue;
		if (kl->nparam == L->capparam) {
			L->capparam = L->capparam ? 2 * L->capparam : 16;
			kl->param_value = xrealloc(kl->param_value, (size_t)L->capparam * sizeof(int));
		}
		kl->param_value[kl->nparam] = v;
		BufKind kind = g->val[v].state ? BUF_STATE : BUF_PARAM; /* training state is writable */
		if ((L->vbuf[v] = value_buf(L, kind, kl->nparam, v)) < 0)
			return -1;
		kl->nparam++;
	}
	for (int i = 0; i < g->noutput; i++) {
		int v = g->output[i];
		int b = value_buf(L, BUF_OUTPUT, i, v);
		if (b < 0)
			return -1;
		const Value *x = &g->val[v];
		bool view = x->kind == VK_NODE && (ir_ops[g->node[x->def].op].flags & OPF_VIEW);
		copy[i] = x->kind != VK_NODE || view || L->vbuf[v] >= 0;
		if (!copy[i])
			L->vbuf[v] = b;
	}
	return 0;
}

/* Records the nodes kernels k0.. compute, for reports: node i alone, or
 * its group's members. */
static void set_nodes(Lower *L, int i, int k0)
{
	int *mem, n;
	if (L->g->node[i].group > 0) {
		n = lw_group_members(L, i, &mem);
	} else {
		n = 1;
		mem = arena_alloc(&L->kl->arena, sizeof *mem);
		mem[0] = i;
	}
	for (int j = k0; j < L->kl->nk; j++) {
		L->kl->k[j].node = i;
		L->kl->k[j].nodes = mem;
		L->kl->k[j].nnodes = n;
	}
}

/* Lowers node i, alone or as the root of its fusion group. */
static int lower_node(Lower *L, int i)
{
	const Graph *g = L->g;
	const Node *n = &g->node[i];
	if ((ir_ops[n->op].flags & OPF_VIEW) || (L->absorbed && L->absorbed[i])) {
		/* a view, or a transpose a conv reads or writes through (lower_swap.c) */
		NN_ASSERT(n->nin >= 1 && n->in[0] >= 0 && L->vbuf[n->in[0]] >= 0);
		for (int k = 0; k < n->nout; k++) {
			NN_ASSERT(L->vbuf[n->out[k]] < 0 || L->vbuf[n->out[k]] == L->vbuf[n->in[0]]);
			L->vbuf[n->out[k]] = L->vbuf[n->in[0]];
		}
		return 0;
	}
	bool empty = false;
	for (int k = 0; k < n->nout; k++) {
		int v = n->out[k];
		if (ir_shape_numel(&g->val[v].shape) == 0)
			empty = true;
		if (L->vbuf[v] < 0 && (L->vbuf[v] = value_buf(L, BUF_TEMP, -1, v)) < 0)
			return -1;
	}
	if (empty)
		return 0; /* nothing to compute */
	LowerFn fn = (ir_ops[n->op].flags & OPF_ELEMWISE) ? lw_elemwise : lower_fn[n->op];
	if (!fn)
		return lw_unsupported(L, i, g->val[n->out[0]].dtype);
	L->ovf = L->manyvar = false;
	L->group = n->group;
	L->call = -1;
	lw_memo_reset(L);
	int k0 = L->kl->nk, call = n->group > 0 ? lw_group_call(L, i) : -1;
	int rc = call >= 0 ? lw_call_group(L, i, call) : fn(L, i);
	L->group = 0;
	L->call = -1;
	if (rc < 0)
		return -1;
	if (L->ovf)
		return lw_err(L, i, "index arithmetic overflows");
	if (L->manyvar)
		return lw_err(L, i, "needs more than %d loop variables", KV_MAX);
	set_nodes(L, i, k0);
	return 0;
}

int cg_lower(const Graph *g, KernelList *kl, Diag *d)
{
	memset(kl, 0, sizeof *kl);
	kl->g = g;
	Lower L = { .g = g, .kl = kl, .d = d, .call = -1, .callbuf = -1 };
	L.vbuf = xmalloc((size_t)(g->nval ? g->nval : 1) * sizeof(int));
	for (int v = 0; v < g->nval; v++)
		L.vbuf[v] = -1;
	bool *nlive = xcalloc((size_t)g->nnode + 1, 1);
	bool *vlive = xcalloc((size_t)g->nval + 1, 1);
	bool *copy = xcalloc((size_t)g->noutput + 1, 1);
	int *root = NULL; /* root of each fusion group */
	L.nlive = nlive;
	int rc = mark_live(&L, nlive, vlive);
	if (rc == 0)
		rc = lw_check_groups(&L, &root);
	if (rc == 0)
		rc = assign_io(&L, vlive, copy);
	if (rc == 0)
		rc = lw_plan_swaps(&L);
	for (int i = 0; i < g->nnode && rc == 0; i++) {
		int gid = g->node[i].group;
		if (nlive[i] && (gid <= 0 || root[gid] == i) && g->node[i].op != OP_ASSIGN)
			rc = lower_node(&L, i);
	}
	for (int i = 0; i < g->nnode && rc == 0; i++) /* state writes after every read */
		if (nlive[i] && g->node[i].op == OP_ASSIGN)
			rc = lower_node(&L, i);
	for (int i = 0; i < g->noutput && rc == 0; i++) {
		int v = g->output[i];
		if (!copy[i] || ir_shape_numel(&g->val[v].shape) == 0)
			continue;
		int dst = -1;
		for (int b = 0; b < kl->nbuf; b++)
			if (kl->buf[b].kind == BUF_OUTPUT && kl->buf[b].index == i)
				dst = b;
		rc = lw_copy(&L, -1, L.vbuf[v], dst, &g->val[v]);
	}
	free(L.vbuf);
	free(nlive);
	free(vlive);
	free(copy);
	free(root);
	free(L.swap);
	free(L.absorbed);
	lw_free_fuse(&L);
	if (rc == 0) {
		lw_state_inplace(kl); /* training state: updates in place where safe */
		rc = cg_state_check(kl, d);
	}
	if (rc == 0 && g->batch_max > 0) /* dynamic batch: the kernels keep rows apart */
		rc = cg_batch_check(kl, d);
	if (rc < 0) {
		cg_free(kl);
		kl->g = g;
		return -1;
	}
	return 0;
}

void cg_free(KernelList *kl)
{
	free(kl->buf);
	free(kl->k);
	free(kl->param_value);
	arena_free(&kl->arena);
	memset(kl, 0, sizeof *kl);
}
