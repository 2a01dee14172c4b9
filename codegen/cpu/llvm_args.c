/* llvm_args.c — what a kernel touches, for the CPU backend: the argument
 * list of its function (one pointer per distinct storage, see
 * cpu_kernel_args), which arguments may be marked noalias, and the checks
 * a kernel passes before it is rendered (a bad kernel is reported, never
 * rendered into an invalid module). Bodies are DAGs: every walk goes over
 * the distinct nodes (cg_kx_dag), never down every path. */
#include "cpu.h"
#include "../../runtime/abi.h"

#include <limits.h>

/* Arguments */

/* Where a buffer's bytes are: a storage (the arena, or one caller tensor)
 * and a byte range in it. An alias (Buf.alias) lies inside its parent. */
typedef struct Loc {
	BufKind kind;       /* BUF_TEMP: the arena */
	int index;          /* caller tensor, unused for the arena */
	int64_t start, end; /* byte range */
} Loc;

static Loc loc(const KernelList *kl, int i)
{
	const Buf *b = &kl->buf[i];
	int64_t off = 0;
	if (b->alias >= 0) {
		off = b->alias_offset;
		b = &kl->buf[b->alias];
	}
	if (b->kind == BUF_TEMP)
		off += b->offset;
	int64_t n = kl->buf[i].nbytes;
	return (Loc){ .kind = b->kind, .index = b->kind == BUF_TEMP ? -1 : b->index, .start = off, .end = off + n };
}

/* Buffers share storage when they start at the same byte of the same
 * caller tensor or of the arena (an in-place update, or an alias at the
 * start of its parent); such a kernel gets one pointer, so LLVM sees the
 * load and the store through the same base. */
static bool same_storage(const KernelList *kl, int i, int j)
{
	Loc a = loc(kl, i), b = loc(kl, j);
	return a.kind == b.kind && a.index == b.index && a.start == b.start;
}

/* Distinct buffers whose byte ranges intersect: in the arena, or in one
 * caller tensor (a concat output and its aliases). Distinct caller tensors
 * are assumed never to overlap one another. */
static bool may_overlap(const KernelList *kl, int i, int j)
{
	Loc a = loc(kl, i), b = loc(kl, j);
	if (a.kind != b.kind || a.index != b.index || a.start == a.end || b.start == b.end)
		return false;
	return a.start < b.end && b.start < a.end;
}

static void add(const KernelList *kl, int buf, int *args, int *n)
{
	if (buf < 0 || cpu_buf_arg(kl, args, *n, buf) >= 0)
		return;
	args[(*n)++] = buf;
}

/* Every buffer the body loads (each distinct node once: bodies are DAGs). */
static void add_body(const KernelList *kl, const Kernel *k, int *args, int *n)
{
	KxDag d;
	cg_kx_dag(k, &d);
	for (int i = 0; i < d.n; i++)
		if (d.node[i].x->kind == KX_LOAD)
			add(kl, d.node[i].x->buf, args, n);
	cg_kx_dag_free(&d);
}

int cpu_kernel_args(const KernelList *kl, const Kernel *k, int *args)
{
	int n = 0;
	switch (k->kind) {
	case KK_LOOP:
		add(kl, k->out, args, &n);
		break;
	case KK_MATMUL:
		add(kl, k->mm.a, args, &n);
		add(kl, k->mm.b, args, &n);
		add(kl, k->mm.c, args, &n);
		break;
	case KK_CONV2D:
		add(kl, k->conv.x, args, &n);
		add(kl, k->conv.wt, args, &n);
		add(kl, k->conv.bias, args, &n);
		add(kl, k->conv.y, args, &n);
		add(kl, k->conv.scratch, args, &n);
		break;
	}
	if (k->body) {
		add(kl, k->out, args, &n);
		add_body(kl, k, args, &n);
	}
	return n;
}

bool cpu_bufs_overlap(const KernelList *kl, int i, int j)
{
	return same_storage(kl, i, j) || may_overlap(kl, i, j);
}

int cpu_buf_arg(const KernelList *kl, const int *args, int nargs, int buf)
{
	for (int j = 0; j < nargs; j++)
		if (same_storage(kl, args[j], buf))
			return j;
	return -1;
}

bool cpu_arg_noalias(const KernelList *kl, const int *args, int nargs, int j)
{
	for (int i = 0; i < nargs; i++)
		if (i != j && may_overlap(kl, args[i], args[j]))
			return false;
	return true;
}

/* Validation: bad kernels are reported, not rendered. */

static int check_buf(Cg *cg, const Kernel *k, int buf, bool f32, Diag *d)
{
	if (buf < 0 || buf >= cg->kl->nbuf)
		return diag(d, "kernel %s: buffer %d out of range", k->name, buf);
	DType t = cg->kl->buf[buf].dtype;
	if (!cpu_type(cg, t))
		return diag(d, "kernel %s: buffer %d has unsupported dtype %s", k->name, buf,
		            ir_dtype_name(t));
	if (f32 && t != DT_F32)
		return diag(d, "kernel %s: library call needs f32, buffer %d is %s", k->name, buf,
		            ir_dtype_name(t));
	return 0;
}

static int check_aff(const Kernel *k, const Aff *a, int nvar, Diag *d)
{
	for (int v = nvar; v < KV_MAX; v++)
		if (a->k[v])
			return diag(d, "kernel %s: index uses var %d outside its loops", k->name, v);
	return 0;
}

static int check_node(Cg *cg, const Kernel *k, const Kx *x, Diag *d)
{
	if (!cpu_type(cg, x->dtype))
		return diag(d, "kernel %s: unsupported dtype %s", k->name, ir_dtype_name(x->dtype));
	bool need_a = x->kind >= KX_UNARY,
	     need_b = x->kind == KX_BINARY || x->kind == KX_SELECT || x->kind == KX_RANDOM;
	if ((x->kind == KX_LOAD && x->a && x->a->kind != KX_IDX) ||
	    (x->kind == KX_IDX && x->b && x->b->kind != KX_IDX))
		return diag(d, "kernel %s: a run-time offset must be a KX_IDX", k->name);
	if ((need_a && !x->a) || (need_b && !x->b) || (x->kind == KX_SELECT && !x->cond))
		return diag(d, "kernel %s: missing operand", k->name);
	switch (x->kind) {
	case KX_CONST:
		return 0;
	case KX_LOAD:
		if (check_buf(cg, k, x->buf, false, d) || check_aff(k, &x->idx, k->nvar, d))
			return -1;
		/* fall through */
	case KX_VALID:
		if (x->nguard < 0 || (x->nguard && !x->guard))
			return diag(d, "kernel %s: bad guard list", k->name);
		for (int i = 0; i < x->nguard; i++)
			if (check_aff(k, &x->guard[i].e, k->nvar, d))
				return -1;
		return 0;
	case KX_UNARY:
		if (x->op < KU_NEG || x->op > KU_BITCAST)
			return diag(d, "kernel %s: unknown unary op %d", k->name, x->op);
		return 0;
	case KX_BINARY:
		if (x->op < KB_ADD || x->op > KB_SHR)
			return diag(d, "kernel %s: unknown binary op %d", k->name, x->op);
		return 0;
	case KX_SELECT:
		return 0;
	case KX_REDUCE:
		if (x->op < KR_SUM || x->op > KR_ARGMIN)
			return diag(d, "kernel %s: unknown reduce op %d", k->name, x->op);
		return 0;
	case KX_IDX:
		if (x->dtype != DT_I64 || ir_dtype_is_float(x->a->dtype) || x->ext < 0)
			return diag(d, "kernel %s: bad run-time index", k->name);
		return 0;
	case KX_RANDOM:
		if (x->dtype != DT_F32 || x->a->dtype != DT_I64 || x->b->dtype != DT_I64 ||
		    check_aff(k, &x->idx, k->nvar, d))
			return diag(d, "kernel %s: bad random node", k->name);
		return 0;
	}
	return diag(d, "kernel %s: unknown expression kind %d", k->name, (int)x->kind);
}

/* The loops, the store and every node of the body (each once). */
static int check_body(Cg *cg, const Kernel *k, Diag *d)
{
	if (k->nvar < 0 || k->nvar > KV_MAX || k->nout_var < 0 || k->nout_var > k->nvar)
		return diag(d, "kernel %s: bad loop variables (%d, %d)", k->name, k->nout_var, k->nvar);
	if (!k->body)
		return diag(d, "kernel %s: missing operand", k->name);
	if (check_buf(cg, k, k->out, false, d) || check_aff(k, &k->out_idx, k->nout_var, d))
		return -1;
	if (k->out_dyn && (k->kind != KK_LOOP || k->out_dyn->kind != KX_IDX || k->sched.par_var >= 0))
		return diag(d, "kernel %s: a run-time store index needs a serial loop and a KX_IDX", k->name);
	const Sched *s = &k->sched;
	int64_t span;
	if (s->par_chunks > 1 && s->par_var >= 0 &&
	    (s->par_var >= k->nout_var || !ck_mul(s->par_chunks + 1, k->extent[s->par_var], &span)))
		return diag(d, "kernel %s: bad schedule (parallel var %d in %lld chunks)", k->name,
		            s->par_var, (long long)s->par_chunks);
	KxDag dag;
	cg_kx_dag(k, &dag);
	int rc = dag.node[cg_kx_find(&dag, k->body)].inner ? diag(d, "kernel %s: a reduction var is used outside a reduction", k->name) : 0;
	for (int i = 0; i < dag.n && !rc; i++)
		rc = check_node(cg, k, dag.node[i].x, d);
	cg_kx_dag_free(&dag);
	return rc;
}

/* A call's epilogue updates the call's output. */
static int check_epilogue(Cg *cg, const Kernel *k, int out, Diag *d)
{
	if (!k->body)
		return 0;
	if (k->out != out)
		return diag(d, "kernel %s: the epilogue stores to buffer %d, not to the call's output %d", k->name,
		            k->out, out);
	return check_body(cg, k, d);
}

/* A buffer of at least `need` floats (need is -1 after an overflow). */
static int check_floats(Cg *cg, const Kernel *k, int buf, int64_t need, const char *what, Diag *d)
{
	int64_t bytes;
	if (need < 0 || !ck_mul(need, 4, &bytes) || cg->kl->buf[buf].nbytes < bytes)
		return diag(d, "kernel %s: the %s buffer is smaller than the convolution needs", k->name, what);
	return 0;
}

/* Extents the kernel library hands to BLAS (an int each). */
static bool blas_int(int64_t v)
{
	return v >= 0 && v <= INT_MAX;
}

/* Product of n values, -1 on overflow. */
static int64_t prod(int n, const int64_t *v)
{
	int64_t r = 1;
	for (int i = 0; i < n; i++)
		if (!ck_mul(r, v[i], &r))
			return -1;
	return r;
}

/* The geometry nncc_rt_conv2d_f32 trusts (runtime/abi.h): positive sizes,
 * whole groups, GEMM extents within int, buffers large enough (so the
 * per-image offsets of llvm_kernel.c cannot overflow), and scratch unless
 * the 1x1 fast path or the depthwise path needs none. */
static int check_conv(Cg *cg, const Kernel *k, Diag *d)
{
	int64_t n = k->conv.n, c = k->conv.c, kk = k->conv.k, g = k->conv.group;
	int64_t kh = k->conv.kh, kw = k->conv.kw, oh = k->conv.oh, ow = k->conv.ow;
	if (n < 0 || c < 0 || k->conv.h < 0 || k->conv.w < 0 || kk < 0 || oh < 0 || ow < 0 || kh < 1 ||
	    kw < 1 || k->conv.sh < 1 || k->conv.sw < 1 || k->conv.dh < 1 || k->conv.dw < 1 ||
	    k->conv.ph < 0 || k->conv.pw < 0 || g < 1 || c % g || kk % g)
		return diag(d, "kernel %s: bad convolution geometry", k->name);
	int64_t cpg = c / g, ckk = prod(3, (int64_t[]){cpg, kh, kw}), hw = prod(2, (int64_t[]){oh, ow});
	if (!blas_int(ckk) || !blas_int(hw) || !blas_int(kk / g))
		return diag(d, "kernel %s: convolution too large for BLAS (extents beyond %d)", k->name, INT_MAX);
	bool fast = kh == 1 && kw == 1 && k->conv.sh == 1 && k->conv.sw == 1 && k->conv.ph == 0 &&
	            k->conv.pw == 0 && oh == k->conv.h && ow == k->conv.w;
	bool depthwise = cpg == 1 && g > 1;
	if (k->conv.scratch < 0 && !fast && !depthwise)
		return diag(d, "kernel %s: convolution without im2col scratch", k->name);
	/* one image's im2col, or a first layer's room for its lanes and a
	 * band; a wide window's (a weight gradient's) takes the scratch its
	 * rule gives, which may hold one channel's (abi.h) */
	int64_t col = prod(2, (int64_t[]){ckk, hw});
	if (col >= 0 && nncc_abi_conv_blocks(n, kw, ow, hw))
		col = (k->conv.lean ? nncc_abi_wide_scratch_lean : nncc_abi_wide_scratch)(n, c, kk, g, oh, ow, kh, kw,
											 k->conv.dh, k->conv.dw);
	else if (col >= 0 && k->conv.lean &&
		 nncc_abi_wino(n, c, k->conv.h, k->conv.w, kk, oh, ow, kh, kw, k->conv.sh, k->conv.sw, k->conv.dh,
			       k->conv.dw, g)) /* its im2col fallback one band at a time */
		col = nncc_abi_conv_band_rows_lean(oh, ow, ckk) * ow * ckk;
	else if (col >= 0)
		col = nncc_abi_conv_room(c, kk, g, oh, ow, kh, kw, k->conv.sh, k->conv.sw, k->conv.dh, k->conv.dw);
	if (check_floats(cg, k, k->conv.x, prod(4, (int64_t[]){n, c, k->conv.h, k->conv.w}), "input", d) ||
	    check_floats(cg, k, k->conv.y, prod(3, (int64_t[]){n, kk, hw}), "output", d) ||
	    check_floats(cg, k, k->conv.wt, prod(2, (int64_t[]){kk, ckk}), "weight", d) ||
	    (k->conv.bias >= 0 && check_floats(cg, k, k->conv.bias, kk, "bias", d)) ||
	    (k->conv.scratch >= 0 && !fast && !depthwise && check_floats(cg, k, k->conv.scratch, col, "scratch", d)))
		return -1;
	return 0;
}

/* The geometry nncc_rt_convnd_f32 trusts: positive sizes, whole groups,
 * GEMM extents within int, buffers large enough, scratch always. */
static int check_conv_nd(Cg *cg, const Kernel *k, Diag *d)
{
	int64_t n = k->conv.n, c = k->conv.c, kk = k->conv.k, g = k->conv.group;
	int64_t in[3] = {k->conv.d, k->conv.h, k->conv.w}, out[3] = {k->conv.od, k->conv.oh, k->conv.ow};
	int64_t kv[3] = {k->conv.kd, k->conv.kh, k->conv.kw}, st[3] = {k->conv.sd, k->conv.sh, k->conv.sw};
	int64_t pb[3] = {k->conv.pd, k->conv.ph, k->conv.pw}, dl[3] = {k->conv.dd, k->conv.dh, k->conv.dw};
	bool bad = n < 0 || c < 0 || kk < 0 || g < 1 || c % g || kk % g || k->conv.scratch < 0;
	for (int a = 0; a < 3; a++)
		bad = bad || in[a] < 0 || out[a] < 0 || kv[a] < 1 || st[a] < 1 || dl[a] < 1 || pb[a] < 0;
	if (bad)
		return diag(d, "kernel %s: bad convolution geometry", k->name);
	int64_t ivol = prod(3, in), ovol = prod(3, out), kvol = prod(3, kv);
	int64_t rows = prod(2, (int64_t[]){k->conv.transpose ? kk / g : c / g, kvol});
	int64_t cols = k->conv.transpose ? ivol : ovol;
	int64_t wsz = prod(3, (int64_t[]){k->conv.transpose ? c : kk, k->conv.transpose ? kk / g : c / g, kvol});
	if (!blas_int(rows) || !blas_int(cols) || !blas_int(kk / g) || !blas_int(c / g))
		return diag(d, "kernel %s: convolution too large for BLAS (extents beyond %d)", k->name, INT_MAX);
	if (check_floats(cg, k, k->conv.x, prod(3, (int64_t[]){n, c, ivol}), "input", d) ||
	    check_floats(cg, k, k->conv.y, prod(3, (int64_t[]){n, kk, ovol}), "output", d) ||
	    check_floats(cg, k, k->conv.wt, wsz, "weight", d) ||
	    (k->conv.bias >= 0 && check_floats(cg, k, k->conv.bias, kk, "bias", d)) ||
	    check_floats(cg, k, k->conv.scratch, prod(2, (int64_t[]){rows, cols}), "scratch", d))
		return -1;
	return 0;
}

int cpu_check_kernel(Cg *cg, const Kernel *k, Diag *d)
{
	switch (k->kind) {
	case KK_LOOP:
		return check_body(cg, k, d);
	case KK_MATMUL:
		if (k->mm.nbatch < 0 || k->mm.nbatch > 4)
			return diag(d, "kernel %s: %d batch dims (at most 4)", k->name, k->mm.nbatch);
		if (check_buf(cg, k, k->mm.a, true, d) || check_buf(cg, k, k->mm.b, true, d))
			return -1;
		if (check_buf(cg, k, k->mm.c, true, d))
			return -1;
		if (!blas_int(k->mm.m) || !blas_int(k->mm.n) || !blas_int(k->mm.k))
			return diag(d, "kernel %s: matmul %lldx%lldx%lld too large for BLAS (extents beyond %d)",
			            k->name, (long long)k->mm.m, (long long)k->mm.n, (long long)k->mm.k, INT_MAX);
		return check_epilogue(cg, k, k->mm.c, d);
	case KK_CONV2D:
		if (check_buf(cg, k, k->conv.x, true, d) || check_buf(cg, k, k->conv.wt, true, d) ||
		    check_buf(cg, k, k->conv.y, true, d))
			return -1;
		if (k->conv.bias >= 0 && check_buf(cg, k, k->conv.bias, true, d))
			return -1;
		if (k->conv.scratch >= 0 && check_buf(cg, k, k->conv.scratch, true, d))
			return -1;
		if (k->conv.nd ? check_conv_nd(cg, k, d) : check_conv(cg, k, d))
			return -1;
		return check_epilogue(cg, k, k->conv.y, d);
	}
	return diag(d, "kernel %s: unknown kind %d", k->name, (int)k->kind);
}
