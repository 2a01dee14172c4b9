/* kprint.c — prints a KernelList as readable loop nests (--emit=kernels):
 * a buffer table, then one line per kernel, e.g.
 *   k3 "relu1" f32: for v0 in 0..4, v1 in 0..6: t5[v0*6 + v1] = relu(t4[v0*6 + v1])
 *   k4 "pool" f32: for v0 in 0..1, ...: t6[...] = max(v4 in 0..3, v5 in 0..3: t5[...] if 0 <= v2*2 + v4 - 1 < 28 else -inf)
 *   k5 "conv1": conv2d x=i0 w=p1 bias=p2 -> t3 [N=1 C=1 H=28 W=28 ...]
 * A call's fused epilogue follows as "; then for ...: t3[...] = relu(t3[...])"
 * and a kernel computing several graph nodes ends with its ops and node
 * names, "  # fused: conv c1, add bias, relu act".
 * Buffers are named by kind letter (i input, o output, p param, t temp)
 * followed by the buffer index, so every name is unique. */
#include <inttypes.h>
#include <math.h>

#include "codegen.h"
#include "../runtime/abi.h"

static const char *const kind_word[] = {
	[BUF_INPUT] = "input", [BUF_OUTPUT] = "output", [BUF_PARAM] = "param", [BUF_TEMP] = "temp",
	[BUF_STATE] = "state",
};

static void print_buf(const KernelList *kl, int b, FILE *f)
{
	if (b < 0 || b >= kl->nbuf) {
		fprintf(f, "?%d", b);
		return;
	}
	fprintf(f, "%c%d", "iopt"[kl->buf[b].kind], b);
}

static void print_num(double c, FILE *f)
{
	if (isinf(c))
		fputs(c < 0 ? "-inf" : "inf", f);
	else
		fprintf(f, "%.9g", c);
}

/* "v0*864 + v1 - 3"; "0" for an empty index. */
static void print_aff(const Aff *a, int nvar, FILE *f)
{
	bool any = false;
	for (int v = 0; v < nvar; v++) {
		int64_t k = a->k[v];
		if (!k)
			continue;
		if (any)
			fputs(k < 0 ? " - " : " + ", f);
		else if (k < 0)
			fputs("-", f);
		int64_t m = k < 0 ? -k : k;
		if (m == 1)
			fprintf(f, "v%d", v);
		else
			fprintf(f, "v%d*%" PRId64, v, m);
		any = true;
	}
	if (!any)
		fprintf(f, "%" PRId64, a->c);
	else if (a->c)
		fprintf(f, " %c %" PRId64, a->c < 0 ? '-' : '+', a->c < 0 ? -a->c : a->c);
}

static void print_guards(const Kx *x, int nvar, FILE *f)
{
	for (int i = 0; i < x->nguard; i++) {
		fprintf(f, "%s%" PRId64 " <= ", i ? " && " : "", x->guard[i].lo);
		print_aff(&x->guard[i].e, nvar, f);
		fprintf(f, " < %" PRId64, x->guard[i].hi);
	}
}

/* The schedule of output var v (sched.c): " parallel(16 chunks)",
 * " vectorize(8)" or " vectorize"; nothing for a plain loop. */
static void print_sched(const Kernel *k, int v, FILE *f)
{
	const Sched *s = &k->sched;
	if (v >= k->nout_var)
		return;
	if (v == s->par_var && s->par_chunks > 1)
		fprintf(f, " parallel(%" PRId64 " chunks)", s->par_chunks);
	if (v == s->vec_var && s->vec_width > 0)
		fprintf(f, " vectorize(%d)", s->vec_width);
	else if (v == s->vec_var && s->par_chunks > 0) /* a zeroed Sched is not a schedule */
		fputs(" vectorize", f);
}

static void print_vars(const KernelList *kl, const Kernel *k, int from, int to, FILE *f)
{
	for (int v = from; v < to; v++) {
		fprintf(f, "%sv%d in 0..%" PRId64, v > from ? ", " : "", v, k->extent[v]);
		if (v == 0 && k->batch_var0 && kl->batch_max > 0) /* dynamic batch: runs to batch * this */
			fprintf(f, " (batch*%" PRId64 ")", k->extent[0] / kl->batch_max);
		print_sched(k, v, f);
	}
}

static void print_kx(const KernelList *kl, const Kernel *k, const Kx *x, FILE *f)
{
	static const char *const un[] = {
		[KU_NEG] = "neg", [KU_ABS] = "abs", [KU_EXP] = "exp", [KU_LOG] = "log",
		[KU_SQRT] = "sqrt", [KU_RELU] = "relu", [KU_SIGMOID] = "sigmoid", [KU_TANH] = "tanh",
		[KU_NOT] = "not", [KU_BITNOT] = "bitnot", [KU_SIN] = "sin", [KU_COS] = "cos",
		[KU_TAN] = "tan", [KU_ASIN] = "asin", [KU_ACOS] = "acos", [KU_ATAN] = "atan",
		[KU_SINH] = "sinh", [KU_COSH] = "cosh", [KU_ASINH] = "asinh", [KU_ACOSH] = "acosh",
		[KU_ATANH] = "atanh", [KU_ERF] = "erf", [KU_FLOOR] = "floor", [KU_CEIL] = "ceil",
		[KU_ROUND] = "round", [KU_SIGN] = "sign", [KU_RECIP] = "recip", [KU_ISNAN] = "isnan",
		[KU_ISINF] = "isinf", [KU_ISPOSINF] = "isposinf", [KU_ISNEGINF] = "isneginf",
		[KU_BITCAST] = "bitcast",
	};
	static const char *const bin[] = {
		[KB_ADD] = "+", [KB_SUB] = "-", [KB_MUL] = "*", [KB_DIV] = "/",
		[KB_MAX] = "max", [KB_MIN] = "min", [KB_POW] = "pow",
		[KB_EQ] = "==", [KB_LT] = "<", [KB_LE] = "<=", [KB_GT] = ">", [KB_GE] = ">=",
		[KB_AND] = "&", [KB_OR] = "|", [KB_XOR] = "^", [KB_MOD] = "mod", [KB_FMOD] = "fmod",
		[KB_SHL] = "<<", [KB_SHR] = ">>",
	};
	static const char *const red[] = { [KR_SUM] = "sum", [KR_MAX] = "max", [KR_MIN] = "min",
		[KR_PROD] = "prod", [KR_ARGMAX] = "argmax", [KR_ARGMIN] = "argmin" };
	switch (x->kind) {
	case KX_CONST:
		print_num(x->c, f);
		break;
	case KX_LOAD:
		if (x->nguard)
			fputs("(", f);
		print_buf(kl, x->buf, f);
		fputs("[", f);
		print_aff(&x->idx, k->nvar, f);
		if (x->a) {
			fputs(" + ", f);
			print_kx(kl, k, x->a, f);
		}
		fputs("]", f);
		if (x->nguard) {
			fputs(" if ", f);
			print_guards(x, k->nvar, f);
			fputs(" else ", f);
			print_num(x->fill, f);
			fputs(")", f);
		}
		break;
	case KX_VALID:
		fputs("valid(", f);
		print_guards(x, k->nvar, f);
		fputs(")", f);
		break;
	case KX_UNARY:
		fprintf(f, "%s(", un[x->op]);
		print_kx(kl, k, x->a, f);
		fputs(")", f);
		break;
	case KX_BINARY:
		if (x->op == KB_MAX || x->op == KB_MIN || x->op == KB_POW || x->op == KB_MOD ||
		    x->op == KB_FMOD) {
			fprintf(f, "%s(", bin[x->op]);
			print_kx(kl, k, x->a, f);
			fputs(", ", f);
			print_kx(kl, k, x->b, f);
			fputs(")", f);
		} else {
			fputs("(", f);
			print_kx(kl, k, x->a, f);
			fprintf(f, " %s ", bin[x->op]);
			print_kx(kl, k, x->b, f);
			fputs(")", f);
		}
		break;
	case KX_SELECT:
		fputs("select(", f);
		print_kx(kl, k, x->cond, f);
		fputs(", ", f);
		print_kx(kl, k, x->a, f);
		fputs(", ", f);
		print_kx(kl, k, x->b, f);
		fputs(")", f);
		break;
	case KX_REDUCE:
		fprintf(f, "%s(", red[x->op]);
		print_vars(kl, k, k->nout_var, k->nvar, f);
		fputs(": ", f);
		print_kx(kl, k, x->a, f);
		if (x->b) { /* an arg reduction's payload */
			fputs(" -> ", f);
			print_kx(kl, k, x->b, f);
		}
		fputs(")", f);
		break;
	case KX_RANDOM: /* random(seed, step, stream, index) */
		fputs("random(", f);
		print_kx(kl, k, x->a, f);
		fputs(", ", f);
		print_kx(kl, k, x->b, f);
		fprintf(f, ", %.0f, ", x->c);
		print_aff(&x->idx, k->nvar, f);
		fputs(")", f);
		break;
	case KX_IDX: /* idx(i, extent)*stride, chained with + (cidx: a constant known in range) */
		fputs(x->op ? "cidx(" : "idx(", f);
		print_kx(kl, k, x->a, f);
		fprintf(f, ", %" PRId64 ")*%" PRId64, x->ext, x->stride);
		if (x->b) {
			fputs(" + ", f);
			print_kx(kl, k, x->b, f);
		}
		break;
	}
}

static void print_i64s(const char *name, const int64_t *v, int n, FILE *f)
{
	fprintf(f, " %s=", name);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%" PRId64, i ? "x" : "", v[i]);
}

/* "for v0 in 0..4, v1 in 0..6: t5[v0*6 + v1] = body" */
static void print_store(const KernelList *kl, const Kernel *k, FILE *f)
{
	if (k->nout_var) {
		fputs("for ", f);
		print_vars(kl, k, 0, k->nout_var, f);
		fputs(": ", f);
	}
	print_buf(kl, k->out, f);
	fputs("[", f);
	print_aff(&k->out_idx, k->nvar, f);
	if (k->out_dyn) {
		fputs(" + ", f);
		print_kx(kl, k, k->out_dyn, f);
	}
	fputs("] = ", f);
	if (k->body)
		print_kx(kl, k, k->body, f);
}

/* The graph nodes a fused kernel computes (op and name: an ONNX node may
 * become several, e.g. Gemm's matmul and add). */
static void print_fused(const KernelList *kl, const Kernel *k, FILE *f)
{
	if (k->nnodes < 2 || !kl->g)
		return;
	fputs("  # fused:", f);
	for (int j = 0; j < k->nnodes; j++) {
		const Node *n = &kl->g->node[k->nodes[j]];
		fprintf(f, "%s %s", j ? "," : "", ir_ops[n->op].name);
		if (n->name && n->name[0])
			fprintf(f, " %s", n->name);
	}
}

static void print_kernel(const KernelList *kl, int i, FILE *f)
{
	const Kernel *k = &kl->k[i];
	fprintf(f, "k%d \"%s\"", i, k->name ? k->name : "");
	switch (k->kind) {
	case KK_LOOP:
		fprintf(f, " %s: ", ir_dtype_name(k->body ? k->body->dtype : DT_UNDEF));
		print_store(kl, k, f);
		break;
	case KK_MATMUL:
		fputs(": matmul a=", f);
		print_buf(kl, k->mm.a, f);
		fputs(" b=", f);
		print_buf(kl, k->mm.b, f);
		fputs(" -> ", f);
		print_buf(kl, k->mm.c, f);
		fputs(" [", f);
		if (k->mm.nbatch) {
			print_i64s("batch", k->mm.bext, k->mm.nbatch, f);
			print_i64s("sa", k->mm.sa, k->mm.nbatch, f);
			print_i64s("sb", k->mm.sb, k->mm.nbatch, f);
			print_i64s("sc", k->mm.sc, k->mm.nbatch, f);
			fputs(" ", f);
		}
		fprintf(f, "m=%" PRId64 " n=%" PRId64 " k=%" PRId64 " trans_a=%d trans_b=%d]",
			k->mm.m, k->mm.n, k->mm.k, k->mm.trans_a, k->mm.trans_b);
		if (k->batch_call)
			fputs(k->batch_call == KB_CALL_M ? " (m: batch*m/max)" : " (batch[0]: the run's batch)", f);
		break;
	case KK_CONV2D:
		fputs(k->conv.nd ? (k->conv.transpose ? ": conv_transpose_nd x=" : ": conv_nd x=") : ": conv2d x=", f);
		print_buf(kl, k->conv.x, f);
		fputs(" w=", f);
		print_buf(kl, k->conv.wt, f);
		if (k->conv.bias >= 0) {
			fputs(" bias=", f);
			print_buf(kl, k->conv.bias, f);
		}
		fputs(" -> ", f);
		print_buf(kl, k->conv.y, f);
		fprintf(f, " [N=%" PRId64 " C=%" PRId64 " H=%" PRId64 " W=%" PRId64 " K=%" PRId64
			" OH=%" PRId64 " OW=%" PRId64 " kernel=%" PRId64 "x%" PRId64
			" stride=%" PRId64 ",%" PRId64 " pad=%" PRId64 ",%" PRId64
			" dilation=%" PRId64 ",%" PRId64 " group=%" PRId64 "]",
			k->conv.n, k->conv.c, k->conv.h, k->conv.w, k->conv.k, k->conv.oh, k->conv.ow,
			k->conv.kh, k->conv.kw, k->conv.sh, k->conv.sw, k->conv.ph, k->conv.pw,
			k->conv.dh, k->conv.dw, k->conv.group);
		if (k->conv.swap) /* operands laid out otherwise (lower_swap.c) */
			fprintf(f, " (%s%s%s%s)", k->conv.swap & NNCC_CONV_SWAP_X ? " x: [C, N]" : "",
				k->conv.swap & NNCC_CONV_SWAP_W ? " w: [C, K]" : "",
				k->conv.swap & NNCC_CONV_FLIP_W ? " w: flipped" : "",
				k->conv.swap & NNCC_CONV_SWAP_Y ? " y: [K, N]" : "");
		if (k->batch_call == KB_CALL_N)
			fputs(" (N: the run's batch)", f);
		if (k->conv.nd)
			fprintf(f, " [D=%" PRId64 " OD=%" PRId64 " kd=%" PRId64 " sd=%" PRId64 " pd=%" PRId64
				" dd=%" PRId64 "]", k->conv.d, k->conv.od, k->conv.kd, k->conv.sd, k->conv.pd, k->conv.dd);
		if (k->conv.scratch >= 0) {
			fputs(" scratch=", f);
			print_buf(kl, k->conv.scratch, f);
		}
		break;
	}
	if (k->kind != KK_LOOP && k->body) {
		fputs("; then ", f);
		print_store(kl, k, f);
	}
	print_fused(kl, k, f);
	fputs("\n", f);
}

void cg_print(const KernelList *kl, FILE *f)
{
	const Graph *g = kl->g;
	fprintf(f, "kernels \"%s\": %d buffers, %d kernels, arena %" PRId64 " bytes\n",
		g && g->name ? g->name : "", kl->nbuf, kl->nk, kl->arena_bytes);
	fputs("buffers:\n", f);
	for (int i = 0; i < kl->nbuf; i++) {
		const Buf *b = &kl->buf[i];
		char sh[256];
		fputs("  ", f);
		print_buf(kl, i, f);
		fprintf(f, " %s", kind_word[b->kind]);
		if (b->alias >= 0) {
			fputs(" = ", f);
			print_buf(kl, b->alias, f);
			fprintf(f, "[+%" PRId64 "]", b->alias_offset);
		} else if (b->kind == BUF_TEMP)
			fprintf(f, " @%" PRId64, b->offset);
		else
			fprintf(f, " %d", b->index);
		if (g && b->value >= 0) {
			const Value *v = &g->val[b->value];
			fprintf(f, " %s%s \"%s\"", ir_dtype_name(b->dtype), ir_shape_str(g, &v->shape, sh, sizeof sh),
				v->name ? v->name : "");
		} else {
			fprintf(f, " %s[%" PRId64 "] scratch", ir_dtype_name(b->dtype), b->numel);
		}
		fprintf(f, " (%" PRId64 " bytes)\n", b->nbytes);
	}
	for (int i = 0; i < kl->nk; i++)
		print_kernel(kl, i, f);
}
