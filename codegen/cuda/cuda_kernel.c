/* cuda_kernel.c — renders a planned KernelList as one CUDA C module
 * (cg_cuda_render): the device memory layout, then per kernel one or two
 * __global__ functions taking the base pointer m of the model's device
 * memory (every buffer at a constant offset of it), and the launches of one
 * step in order.
 *
 *   - A loop nest (KK_LOOP) becomes `k<N>`: a grid-stride loop over its
 *     flattened output space, one thread per output point (the vars decoded
 *     from the flat index), the expression DAG as local variables and each
 *     reduction as a sequential loop nest in that thread. A kernel with a
 *     run-time store index (a scatter: the last update wins) runs on one
 *     thread in order.
 *   - A matmul becomes `k<N>_mm`, a 64x64-tiled shared-memory SGEMM (each
 *     thread 4x4 outputs, blockIdx.z the batch); a 2-D convolution `k<N>_cv`,
 *     the same GEMM over an implicit im2col (blockIdx.z the group, bias in
 *     the store); the general convolution (3-D, transposed) `k<N>_cv`, one
 *     thread per output element. A fused epilogue runs after the call as
 *     the loop kernel `k<N>_e`, in place over the call's output. */
#include "cu.h"
#include "../../runtime/abi.h"

#include <stdlib.h>
#include <string.h>

enum {
	CU_BLOCK = 256,         /* threads per block of loop kernels */
	CU_MAX_BLOCKS = 65536,  /* blocks of a grid-stride loop at most */
	CU_SLOT_ALIGN = 256,    /* alignment of every slot of the device memory */
	GM_TILE = 64,           /* GEMM output tile (rows and columns) */
	GM_K = 16,              /* GEMM depth step */
	CU_BLOCK_TRIPS = 256,   /* reduction points from which a block shares a reduction */
};

static int64_t align_up(int64_t x) { return (x + CU_SLOT_ALIGN - 1) / CU_SLOT_ALIGN * CU_SLOT_ALIGN; }

/* --- device memory layout ----------------------------------------------------- */

/* Assigns a slot to every index of kind `kind` that some buffer uses. */
static void slots(const KernelList *kl, BufKind kind, BufKind kind2, int n, int64_t *off, int64_t *size,
		  int64_t *at)
{
	for (int i = 0; i < n; i++)
		off[i] = -1;
	for (int b = 0; b < kl->nbuf; b++) {
		const Buf *bf = &kl->buf[b];
		if ((bf->kind == kind || bf->kind == kind2) && bf->index >= 0 && bf->index < n && bf->nbytes > size[bf->index])
			size[bf->index] = bf->nbytes;
	}
	for (int i = 0; i < n; i++) {
		if (!size[i])
			continue;
		off[i] = *at;
		*at = align_up(*at + size[i]);
	}
}

static void layout(const KernelList *kl, CuLayout *lay)
{
	const Graph *g = kl->g;
	lay->nin = g->ninput;
	lay->nout = g->noutput;
	lay->npar = kl->nparam;
	lay->boff = xcalloc((size_t)kl->nbuf + 1, sizeof *lay->boff);
	lay->in_off = xcalloc((size_t)lay->nin + 1, sizeof *lay->in_off);
	lay->out_off = xcalloc((size_t)lay->nout + 1, sizeof *lay->out_off);
	lay->par_off = xcalloc((size_t)lay->npar + 1, sizeof *lay->par_off);
	int64_t at = align_up(kl->arena_bytes > 0 ? kl->arena_bytes : 1);
	int64_t *size = xcalloc((size_t)(lay->nin + lay->nout + lay->npar) + 1, sizeof *size);
	slots(kl, BUF_INPUT, BUF_INPUT, lay->nin, lay->in_off, size, &at);
	slots(kl, BUF_OUTPUT, BUF_OUTPUT, lay->nout, lay->out_off, size + lay->nin, &at);
	int64_t *ps = size + lay->nin + lay->nout;
	for (int i = 0; i < lay->npar; i++) { /* the whole parameter, as the runtime copies it */
		const Value *v = &g->val[kl->param_value[i]];
		ps[i] = ir_shape_numel(&v->shape) * (int64_t)ir_dtype_size(v->dtype);
	}
	slots(kl, BUF_PARAM, BUF_STATE, lay->npar, lay->par_off, ps, &at);
	free(size);
	lay->bytes = at;
	for (int b = 0; b < kl->nbuf; b++) {
		const Buf *bf = &kl->buf[b];
		switch (bf->kind) {
		case BUF_INPUT: lay->boff[b] = lay->in_off[bf->index]; break;
		case BUF_OUTPUT: lay->boff[b] = lay->out_off[bf->index]; break;
		case BUF_PARAM: case BUF_STATE: lay->boff[b] = lay->par_off[bf->index]; break;
		case BUF_TEMP: lay->boff[b] = bf->offset; break;
		}
	}
	for (int b = 0; b < kl->nbuf; b++)
		if (kl->buf[b].alias >= 0)
			lay->boff[b] = lay->boff[kl->buf[b].alias] + kl->buf[b].alias_offset;
}

/* --- checks ---------------------------------------------------------------------- */

static int check_dtype(const Kernel *k, DType t, Diag *d)
{
	if (cu_type(t))
		return 0;
	return diag(d, "kernel %s: the cuda target does not support dtype %s yet", k->name, ir_dtype_name(t));
}

static int check_kernel(const KernelList *kl, const Kernel *k, Diag *d)
{
	if (k->kind != KK_LOOP) {
		int bufs[5] = {k->mm.a, k->mm.b, k->mm.c, -1, -1};
		if (k->kind == KK_CONV2D) {
			int cb[5] = {k->conv.x, k->conv.wt, k->conv.y, k->conv.bias, -1};
			memcpy(bufs, cb, sizeof bufs);
		}
		for (int i = 0; i < 5; i++)
			if (bufs[i] >= 0 && kl->buf[bufs[i]].dtype != DT_F32)
				return diag(d, "kernel %s: the cuda target's matmul and convolution are f32 only", k->name);
		if (k->kind == KK_MATMUL && (k->mm.nbatch < 0 || k->mm.nbatch > 4))
			return diag(d, "kernel %s: %d batch dims (at most 4)", k->name, k->mm.nbatch);
	}
	if (!k->body)
		return 0;
	if (check_dtype(k, kl->buf[k->out].dtype, d))
		return -1;
	KxDag dag;
	cg_kx_dag(k, &dag);
	int rc = 0;
	for (int i = 0; i < dag.n && !rc; i++) {
		const Kx *x = dag.node[i].x;
		rc = check_dtype(k, x->dtype, d);
		if (!rc && x->kind == KX_LOAD)
			rc = check_dtype(k, kl->buf[x->buf].dtype, d);
	}
	cg_kx_dag_free(&dag);
	return rc;
}

/* --- loop kernels ---------------------------------------------------------------- */

static void launch(CuModule *m, int ki, const char *fmt, int64_t gx, int64_t gy, int64_t gz, int bx)
{
	m->launch = xrealloc(m->launch, (size_t)(m->nlaunch + 1) * sizeof *m->launch);
	CuLaunch *l = &m->launch[m->nlaunch++];
	snprintf(l->name, sizeof l->name, fmt, ki);
	l->kernel = ki;
	l->grid[0] = (uint32_t)gx;
	l->grid[1] = (uint32_t)gy;
	l->grid[2] = (uint32_t)gz;
	l->block[0] = (uint32_t)bx;
	l->block[1] = l->block[2] = 1;
}

/* Whether the kernel reads bytes of its output other than the element it
 * stores (a recurrence through memory): then it runs on one thread in
 * order, as the interpreter defines it. */
static bool reads_elsewhere(const Cu *c)
{
	const Kernel *k = c->k;
	int64_t lo = c->lay->boff[k->out], hi = lo + c->kl->buf[k->out].nbytes;
	for (int i = 0; i < c->dag.n; i++) {
		const Kx *x = c->dag.node[i].x;
		if (x->kind != KX_LOAD)
			continue;
		int64_t a = c->lay->boff[x->buf], b = a + c->kl->buf[x->buf].nbytes;
		if (b > lo && a < hi &&
		    !(a == lo && !x->a && !k->out_dyn && memcmp(&x->idx, &k->out_idx, sizeof x->idx) == 0))
			return true;
	}
	return false;
}

/* Declares output vars from..to-1 from the flat index `t` over them. */
static void decode(Cu *c, const char *t, int from, int to)
{
	const Kernel *k = c->k;
	if (to <= from)
		return;
	bool narrow = cg_span(k, from, to) <= INT32_MAX;
	cu_line(c, "%s q = (%s)%s;", narrow ? "u32" : "u64", narrow ? "u32" : "u64", t);
	for (int v = to - 1; v >= from; v--) {
		if (k->extent[v] == 1)
			cu_line(c, "const i64 i%d = 0;", v);
		else if (v == from)
			cu_line(c, "const i64 i%d = (i64)q;", v);
		else
			cu_line(c, "const i64 i%d = (i64)(q %% %lldu); q /= %lldu;", v, (long long)k->extent[v],
				(long long)k->extent[v]);
	}
	cu_line(c, "(void)q;");
}

static void store(Cu *c)
{
	const Kernel *k = c->k;
	char v[32];
	snprintf(v, sizeof v, "v%d", cu_get(c, k->body));
	for (int t = 0; t < c->ind; t++)
		fputc('\t', c->f);
	if (k->out_dyn)
		fprintf(c->f, "if (v%d >= 0) ", cu_get(c, k->out_dyn));
	if (c->block && !c->hoist)
		fprintf(c->f, "if (threadIdx.x == 0) ");
	cu_base(c, k->out);
	fputc('[', c->f);
	cu_aff(c, &k->out_idx);
	if (k->out_dyn)
		fprintf(c->f, " + v%d", cu_get(c, k->out_dyn));
	fputs("] = ", c->f);
	cu_conv(c, v, k->body->dtype, c->kl->buf[k->out].dtype);
	fputs(";\n", c->f);
}

/* k<ki><suffix>: the body of k over its output space (a loop kernel, or a
 * call's epilogue); adds its launch. Without reductions, one thread per
 * output point. With them, the parallel space is the output vars the
 * reductions depend on (a row), and the vars inside it are walked per row
 * after the reductions (softmax: max and sum once per row); when every
 * reduction is a float sum/product/max/min over at least CU_BLOCK_TRIPS
 * points, each row gets a block whose threads share the reductions. */
static void loop_kernel(Cu *c, CuModule *m, int ki, const char *suffix)
{
	const Kernel *k = c->k;
	int64_t total = cg_span(k, 0, k->nout_var);
	if (!k->body || total <= 0)
		return;
	cg_kx_dag(k, &c->dag);
	c->done = xcalloc((size_t)c->dag.n + 1, sizeof *c->done);
	int level = 0;
	bool serial = k->out_dyn || reads_elsewhere(c); /* in order, on one thread */
	bool red = false, blockable = !serial;
	for (int i = 0; i < c->dag.n; i++) {
		const Kx *x = c->dag.node[i].x;
		if (x->kind == KX_REDUCE) {
			red = true;
			if (c->dag.node[i].level > level)
				level = c->dag.node[i].level;
		}
		blockable = blockable && cu_block_ok(x);
	}
	int outer = red ? level : k->nout_var; /* output vars of the parallel space */
	c->hoist = outer < k->nout_var;
	c->block = red && blockable && cg_span(k, k->nout_var, k->nvar) >= CU_BLOCK_TRIPS;
	int64_t points = cg_span(k, 0, outer);
	char fmt[16];
	snprintf(fmt, sizeof fmt, "k%%d%s", suffix);
	fprintf(c->f, "\n/* %s */\nextern \"C\" __global__ void __launch_bounds__(%d) k%d%s(unsigned char *m)\n{\n",
		k->name, CU_BLOCK, ki, suffix);
	c->ind = 1;
	if (c->block)
		cu_line(c, "for (i64 t = blockIdx.x; t < %lldLL; t += gridDim.x) {", (long long)points);
	else
		cu_line(c, "for (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < %lldLL; t += (i64)gridDim.x * "
			   "blockDim.x) {", (long long)points);
	c->ind = 2;
	decode(c, "t", 0, outer);
	for (int i = 0; i < c->dag.n; i++)
		if (!c->dag.node[i].inner && (!c->hoist || c->dag.node[i].level <= outer))
			cu_node(c, i);
	if (c->hoist) {
		if (c->block)
			cu_line(c, "for (i64 u = threadIdx.x; u < %lldLL; u += blockDim.x) {",
				(long long)cg_span(k, outer, k->nout_var));
		else
			cu_line(c, "for (i64 u = 0; u < %lldLL; u++) {", (long long)cg_span(k, outer, k->nout_var));
		c->ind = 3;
		decode(c, "u", outer, k->nout_var);
		for (int i = 0; i < c->dag.n; i++)
			if (!c->dag.node[i].inner && c->dag.node[i].level > outer)
				cu_node(c, i);
		store(c);
		c->ind = 2;
		cu_line(c, "}");
	} else {
		store(c);
	}
	fputs("\t}\n}\n", c->f);
	free(c->done);
	c->done = NULL;
	cg_kx_dag_free(&c->dag);
	int64_t blocks = c->block ? points : (points + CU_BLOCK - 1) / CU_BLOCK;
	if (serial) /* in order: a scatter's last update wins, a recurrence sees the earlier points */
		launch(m, ki, fmt, 1, 1, 1, 1);
	else
		launch(m, ki, fmt, blocks < CU_MAX_BLOCKS ? blocks : CU_MAX_BLOCKS, 1, 1, CU_BLOCK);
	c->block = c->hoist = false;
}

/* --- epilogues fused into a call's store ----------------------------------------- */

/* Whether k's epilogue can run inside the call's store, element by element:
 * a plain loop over the output in row-major order (its index is the
 * element's), and every read of the output's bytes is of that element. */
static bool fusable(const Cu *c)
{
	const Kernel *k = c->k;
	const Buf *ob = &c->kl->buf[k->out];
	if (!k->body || k->out_dyn || k->nvar != k->nout_var || k->out_idx.c != 0 || cg_span(k, 0, k->nout_var) != ob->numel)
		return false;
	for (int v = 0; v < KV_MAX; v++)
		if (k->out_idx.k[v] != (v < k->nout_var ? cg_span(k, v + 1, k->nout_var) : 0))
			return false;
	KxDag dag;
	cg_kx_dag(k, &dag);
	bool ok = true;
	int64_t lo = c->lay->boff[k->out], hi = lo + ob->nbytes;
	for (int i = 0; i < dag.n && ok; i++) {
		const Kx *x = dag.node[i].x;
		if (x->kind == KX_REDUCE || x->kind == KX_RANDOM)
			ok = false;
		if (x->kind != KX_LOAD)
			continue;
		int64_t a = c->lay->boff[x->buf], b = a + c->kl->buf[x->buf].nbytes;
		if (b > lo && a < hi) /* it reads the output: only the element itself */
			ok = a == lo && c->kl->buf[x->buf].dtype == ob->dtype && !x->nguard && !x->a &&
			     memcmp(&x->idx, &k->out_idx, sizeof x->idx) == 0;
	}
	cg_kx_dag_free(&dag);
	return ok;
}

bool cu_is_self(const Cu *c, const Kx *x)
{
	const Kernel *k = c->k;
	return c->self && x->kind == KX_LOAD && c->lay->boff[x->buf] == c->lay->boff[k->out] && !x->nguard && !x->a &&
	       memcmp(&x->idx, &k->out_idx, sizeof x->idx) == 0;
}

/* Stores value `val` (f32) at element `idx` of buf: plainly, or with c->fuse
 * through k's epilogue (its vars decoded from idx, its reads of the
 * element replaced by val). */
static void put(Cu *c, int buf, const char *idx, const char *val)
{
	if (!c->fuse) {
		cu_base(c, buf);
		fprintf(c->f, "[%s] = %s;", idx, val);
		return;
	}
	const Kernel *k = c->k;
	int ind = c->ind;
	fprintf(c->f, "{\n");
	c->ind = ind + 1;
	cu_line(c, "const i64 e = %s;", idx);
	cu_line(c, "const float y = %s;", val);
	decode(c, "e", 0, k->nout_var);
	memset(c->done, 0, (size_t)c->dag.n * sizeof *c->done);
	c->self = "y";
	for (int i = 0; i < c->dag.n; i++)
		cu_node(c, i);
	c->self = NULL;
	char v[32];
	snprintf(v, sizeof v, "v%d", cu_get(c, k->body));
	for (int t = 0; t < c->ind; t++)
		fputc('\t', c->f);
	cu_base(c, k->out);
	fputs("[e] = ", c->f);
	cu_conv(c, v, k->body->dtype, c->kl->buf[k->out].dtype);
	fputs(";\n", c->f);
	c->ind = ind;
	for (int t = 0; t < c->ind; t++)
		fputc('\t', c->f);
	fputc('}', c->f);
}

/* --- GEMM-shaped calls ------------------------------------------------------------ */

/* How one GEMM-shaped kernel reads A(i, p), B(p, j) and stores C(i, j). */
typedef struct Gemm {
	int64_t M, N, K;                  /* sizes */
	void (*pre)(Cu *c);               /* declarations from blockIdx.z */
	void (*a)(Cu *c);                 /* expression of A at i, p */
	void (*b)(Cu *c);                 /* expression of B at p, j */
	void (*store)(Cu *c);             /* statement storing `s` at i, j */
} Gemm;

static void gemm_kernel(Cu *c, const char *name, const Gemm *g)
{
	FILE *f = c->f;
	fprintf(f, "\n/* %s */\nextern \"C\" __global__ void __launch_bounds__(256) %s(unsigned char *m)\n{\n",
		c->k->name, name);
	fprintf(f, "\t__shared__ float As[%d][%d], Bs[%d][%d];\n", GM_K, GM_TILE + 4, GM_K, GM_TILE + 4);
	fprintf(f, "\tconst int tid = threadIdx.x, tx = tid %% 16, ty = tid / 16;\n");
	fprintf(f, "\tconst i64 bm = (i64)blockIdx.y * %d, bn = (i64)blockIdx.x * %d;\n", GM_TILE, GM_TILE);
	fprintf(f, "\tconst i64 M = %lldLL, N = %lldLL, K = %lldLL;\n", (long long)g->M, (long long)g->N,
		(long long)g->K);
	c->ind = 1;
	g->pre(c);
	c->ind = 2;
	fprintf(f, "\tfloat acc[4][4];\n\tfor (int r = 0; r < 4; r++) for (int s = 0; s < 4; s++) acc[r][s] = 0.0f;\n");
	fprintf(f, "\tfor (i64 p0 = 0; p0 < K; p0 += %d) {\n", GM_K);
	fprintf(f, "\t\tfor (int l = 0; l < 4; l++) {\n\t\t\tconst int e = tid + l * 256;\n");
	fprintf(f, "\t\t\t{ const i64 i = bm + e / 16, p = p0 + e %% 16;\n\t\t\t  As[e %% 16][e / 16] = i < M && p < K ? ");
	g->a(c);
	fprintf(f, " : 0.0f; }\n");
	fprintf(f, "\t\t\t{ const i64 p = p0 + e / 64, j = bn + e %% 64;\n\t\t\t  Bs[e / 64][e %% 64] = p < K && j < N ? ");
	g->b(c);
	fprintf(f, " : 0.0f; }\n\t\t}\n\t\t__syncthreads();\n");
	fprintf(f, "#pragma unroll\n\t\tfor (int q = 0; q < %d; q++) {\n\t\t\tfloat a[4], b[4];\n"
		   "\t\t\tfor (int r = 0; r < 4; r++) { a[r] = As[q][ty + 16 * r]; b[r] = Bs[q][tx + 16 * r]; }\n"
		   "\t\t\tfor (int r = 0; r < 4; r++) for (int s = 0; s < 4; s++) acc[r][s] += a[r] * b[s];\n"
		   "\t\t}\n\t\t__syncthreads();\n\t}\n", GM_K);
	fprintf(f, "\tfor (int r = 0; r < 4; r++) for (int s = 0; s < 4; s++) {\n"
		   "\t\tconst i64 i = bm + ty + 16 * r, j = bn + tx + 16 * s;\n"
		   "\t\tconst float sum = acc[r][s];\n\t\tif (i < M && j < N) ");
	g->store(c);
	fprintf(f, "\n\t}\n}\n");
}

static int64_t grid_dim(int64_t n) { return (n + GM_TILE - 1) / GM_TILE; }

/* matmul: batch offsets from blockIdx.z */
static void mm_pre(Cu *c)
{
	const Kernel *k = c->k;
	cu_line(c, "i64 bz = blockIdx.z, oa = 0, ob = 0, oc = 0;");
	for (int j = k->mm.nbatch - 1; j >= 0; j--) {
		cu_line(c, "{ const i64 b = bz %% %lldLL; bz /= %lldLL; oa += b * %lldLL; ob += b * %lldLL; oc += b * "
			   "%lldLL; }", (long long)k->mm.bext[j], (long long)k->mm.bext[j], (long long)k->mm.sa[j],
			(long long)k->mm.sb[j], (long long)k->mm.sc[j]);
	}
}

static void mm_a(Cu *c)
{
	cu_base(c, c->k->mm.a);
	fprintf(c->f, c->k->mm.trans_a ? "[oa + p * M + i]" : "[oa + i * K + p]");
}

static void mm_b(Cu *c)
{
	cu_base(c, c->k->mm.b);
	fprintf(c->f, c->k->mm.trans_b ? "[ob + j * K + p]" : "[ob + p * N + j]");
}

static void mm_store(Cu *c)
{
	put(c, c->k->mm.c, "oc + i * N + j", "sum");
}

/* 2-D convolution as an implicit GEMM per group: A = weights [K/G, C/G*kh*kw],
 * B = im2col [C/G*kh*kw, n*oh*ow], C = the output of every image. */
static void cv_pre(Cu *c)
{
	cu_line(c, "const i64 g = blockIdx.z;");
}

static void cv_a(Cu *c)
{
	const Kernel *k = c->k;
	int64_t kg = k->conv.k / k->conv.group, r = k->conv.c / k->conv.group * k->conv.kh * k->conv.kw;
	int64_t kk = k->conv.kh * k->conv.kw;
	cu_base(c, k->conv.wt);
	if (!(k->conv.swap & (NNCC_CONV_SWAP_W | NNCC_CONV_FLIP_W))) {
		fprintf(c->f, "[(g * %lldLL + i) * %lldLL + p]", (long long)kg, (long long)r);
		return;
	}
	/* group 1, planes [c][k] and/or taps reversed (runtime/abi.h NNCC_CONV_SWAP_*) */
	if (k->conv.swap & NNCC_CONV_SWAP_W)
		fprintf(c->f, "[(p / %lldLL * %lldLL + i) * %lldLL + ", (long long)kk, (long long)k->conv.k, (long long)kk);
	else
		fprintf(c->f, "[(i * %lldLL + p / %lldLL) * %lldLL + ", (long long)(r / kk), (long long)kk, (long long)kk);
	if (k->conv.swap & NNCC_CONV_FLIP_W)
		fprintf(c->f, "%lldLL - p %% %lldLL]", (long long)(kk - 1), (long long)kk);
	else
		fprintf(c->f, "p %% %lldLL]", (long long)kk);
}

static void cv_b(Cu *c)
{
	const Kernel *k = c->k;
	int64_t cg = k->conv.c / k->conv.group, hw = k->conv.oh * k->conv.ow, kk = k->conv.kh * k->conv.kw;
	fprintf(c->f, "nn_im2col(");
	cu_base(c, k->conv.x);
	fprintf(c->f, ", j / %lldLL, j %% %lldLL, p / %lldLL + g * %lldLL, p %% %lldLL)", (long long)hw,
		(long long)hw, (long long)kk, (long long)cg, (long long)kk);
}

static void cv_store(Cu *c)
{
	const Kernel *k = c->k;
	int64_t kg = k->conv.k / k->conv.group, hw = k->conv.oh * k->conv.ow;
	char idx[160], val[160];
	if (k->conv.swap & NNCC_CONV_SWAP_Y) /* group 1: planes [k][n] */
		snprintf(idx, sizeof idx, "(i * %lldLL + j / %lldLL) * %lldLL + j %% %lldLL", (long long)k->conv.n,
			 (long long)hw, (long long)hw, (long long)hw);
	else
		snprintf(idx, sizeof idx, "(j / %lldLL * %lldLL + g * %lldLL + i) * %lldLL + j %% %lldLL",
			 (long long)hw, (long long)k->conv.k, (long long)kg, (long long)hw, (long long)hw);
	if (k->conv.bias >= 0)
		snprintf(val, sizeof val, "sum + ((const float *)(m + %lldLL))[g * %lldLL + i]",
			 (long long)c->lay->boff[k->conv.bias], (long long)kg);
	else
		snprintf(val, sizeof val, "sum");
	put(c, k->conv.y, idx, val);
}

/* The im2col element of a 2-D convolution: image n, output position pix,
 * input channel ch, window position w; 0 in the padding. */
static void im2col_fn(Cu *c, int ki)
{
	const Kernel *k = c->k;
	fprintf(c->f, "\nstatic __device__ __forceinline__ float k%d_im2col(const float *x, i64 n, i64 pix, i64 ch, "
		      "i64 w)\n{\n", ki);
	fprintf(c->f, "\tconst i64 y = pix / %lldLL * %lldLL + w / %lldLL * %lldLL - %lldLL;\n", (long long)k->conv.ow,
		(long long)k->conv.sh, (long long)k->conv.kw, (long long)k->conv.dh, (long long)k->conv.ph);
	fprintf(c->f, "\tconst i64 xx = pix %% %lldLL * %lldLL + w %% %lldLL * %lldLL - %lldLL;\n",
		(long long)k->conv.ow, (long long)k->conv.sw, (long long)k->conv.kw, (long long)k->conv.dw,
		(long long)k->conv.pw);
	int sx = k->conv.swap & NNCC_CONV_SWAP_X; /* group 1: planes [c][n] */
	fprintf(c->f, "\treturn y >= 0 && y < %lldLL && xx >= 0 && xx < %lldLL ? x[((%s * %lldLL + %s) * %lldLL + y) * "
		      "%lldLL + xx] : 0.0f;\n}\n#define nn_im2col k%d_im2col\n", (long long)k->conv.h, (long long)k->conv.w,
		sx ? "ch" : "n", (long long)(sx ? k->conv.n : k->conv.c), sx ? "n" : "ch", (long long)k->conv.h,
		(long long)k->conv.w, ki);
}

/* The general convolution (3-D windows, conv-transpose): one thread per
 * output element, as codegen/kinterp.c defines it. */
static void conv_nd(Cu *c, CuModule *m, int ki)
{
	const Kernel *k = c->k;
	int64_t cg = k->conv.c / k->conv.group, kg = k->conv.k / k->conv.group;
	int64_t iv[3] = {k->conv.d, k->conv.h, k->conv.w}, ov[3] = {k->conv.od, k->conv.oh, k->conv.ow};
	int64_t kv[3] = {k->conv.kd, k->conv.kh, k->conv.kw}, st[3] = {k->conv.sd, k->conv.sh, k->conv.sw};
	int64_t pb[3] = {k->conv.pd, k->conv.ph, k->conv.pw}, dl[3] = {k->conv.dd, k->conv.dh, k->conv.dw};
	int64_t ovol = ov[0] * ov[1] * ov[2], kvol = kv[0] * kv[1] * kv[2], ivol = iv[0] * iv[1] * iv[2];
	int64_t total = k->conv.n * k->conv.k * ovol;
	if (total <= 0)
		return;
	FILE *f = c->f;
	fprintf(f, "\n/* %s */\nextern \"C\" __global__ void __launch_bounds__(%d) k%d_cv(unsigned char *m)\n{\n",
		k->name, CU_BLOCK, ki);
	fprintf(f, "\tconst float *X = (const float *)(m + %lldLL), *W = (const float *)(m + %lldLL);\n",
		(long long)c->lay->boff[k->conv.x], (long long)c->lay->boff[k->conv.wt]);
	fprintf(f, "\tconst i64 iv[3] = {%lldLL, %lldLL, %lldLL}, ov[3] = {%lldLL, %lldLL, %lldLL}, kv[3] = {%lldLL, "
		   "%lldLL, %lldLL};\n", (long long)iv[0], (long long)iv[1], (long long)iv[2], (long long)ov[0],
		(long long)ov[1], (long long)ov[2], (long long)kv[0], (long long)kv[1], (long long)kv[2]);
	fprintf(f, "\tconst i64 st[3] = {%lldLL, %lldLL, %lldLL}, pb[3] = {%lldLL, %lldLL, %lldLL}, dl[3] = {%lldLL, "
		   "%lldLL, %lldLL};\n", (long long)st[0], (long long)st[1], (long long)st[2], (long long)pb[0],
		(long long)pb[1], (long long)pb[2], (long long)dl[0], (long long)dl[1], (long long)dl[2]);
	fprintf(f, "\tfor (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < %lldLL; t += (i64)gridDim.x * "
		   "blockDim.x) {\n", (long long)total);
	fprintf(f, "\t\tconst i64 op = t %% %lldLL, o = t / %lldLL %% %lldLL, n = t / %lldLL;\n", (long long)ovol,
		(long long)ovol, (long long)k->conv.k, (long long)(ovol * k->conv.k));
	fprintf(f, "\t\tconst i64 oi[3] = {op / (ov[1] * ov[2]), op / ov[2] %% ov[1], op %% ov[2]};\n");
	fprintf(f, "\t\tconst i64 g = o / %lldLL, ko = o %% %lldLL;\n\t\t(void)ko;\n", (long long)kg, (long long)kg);
	if (k->conv.bias >= 0)
		fprintf(f, "\t\tfloat s = ((const float *)(m + %lldLL))[o];\n", (long long)c->lay->boff[k->conv.bias]);
	else
		fprintf(f, "\t\tfloat s = 0.0f;\n");
	fprintf(f, "\t\tfor (i64 ch = 0; ch < %lldLL; ch++)\n\t\tfor (i64 j = 0; j < %lldLL; j++) {\n", (long long)cg,
		(long long)kvol);
	fprintf(f, "\t\t\tconst i64 ji[3] = {j / (kv[1] * kv[2]), j / kv[2] %% kv[1], j %% kv[2]};\n"
		   "\t\t\ti64 ii[3];\n\t\t\tbool ok = true;\n\t\t\tfor (int a = 0; a < 3; a++) {\n");
	if (!k->conv.transpose)
		fprintf(f, "\t\t\t\tii[a] = oi[a] * st[a] - pb[a] + ji[a] * dl[a];\n");
	else
		fprintf(f, "\t\t\t\tconst i64 q = oi[a] + pb[a] - ji[a] * dl[a];\n"
			   "\t\t\t\tok = ok && q >= 0 && q %% st[a] == 0;\n\t\t\t\tii[a] = q / st[a];\n");
	fprintf(f, "\t\t\t\tok = ok && ii[a] >= 0 && ii[a] < iv[a];\n\t\t\t}\n\t\t\tif (!ok)\n\t\t\t\tcontinue;\n");
	fprintf(f, "\t\t\tconst i64 xi = (n * %lldLL + g * %lldLL + ch) * %lldLL + (ii[0] * iv[1] + ii[1]) * iv[2] + "
		   "ii[2];\n", (long long)k->conv.c, (long long)cg, (long long)ivol);
	if (k->conv.transpose)
		fprintf(f, "\t\t\tconst i64 wi = ((g * %lldLL + ch) * %lldLL + ko) * %lldLL + j;\n", (long long)cg,
			(long long)kg, (long long)kvol);
	else
		fprintf(f, "\t\t\tconst i64 wi = (o * %lldLL + ch) * %lldLL + j;\n", (long long)cg, (long long)kvol);
	fprintf(f, "\t\t\ts += X[xi] * W[wi];\n\t\t}\n\t\t");
	c->ind = 2;
	put(c, k->conv.y, "t", "s");
	fprintf(f, "\n\t}\n}\n");
	int64_t blocks = (total + CU_BLOCK - 1) / CU_BLOCK;
	launch(m, ki, "k%d_cv", blocks < CU_MAX_BLOCKS ? blocks : CU_MAX_BLOCKS, 1, 1, CU_BLOCK);
}

static int call_kernel(Cu *c, CuModule *m, int ki, Diag *d)
{
	const Kernel *k = c->k;
	char name[32];
	Gemm g;
	int64_t gz;
	if (k->kind == KK_MATMUL) {
		g = (Gemm){k->mm.m, k->mm.n, k->mm.k, mm_pre, mm_a, mm_b, mm_store};
		gz = 1;
		for (int j = 0; j < k->mm.nbatch; j++)
			gz *= k->mm.bext[j];
		snprintf(name, sizeof name, "k%d_mm", ki);
	} else if (k->conv.nd) {
		conv_nd(c, m, ki);
		return 0;
	} else {
		int64_t hw = k->conv.oh * k->conv.ow;
		g = (Gemm){k->conv.k / k->conv.group, k->conv.n * hw, k->conv.c / k->conv.group * k->conv.kh * k->conv.kw,
			   cv_pre, cv_a, cv_b, cv_store};
		gz = k->conv.group;
		im2col_fn(c, ki);
		snprintf(name, sizeof name, "k%d_cv", ki);
	}
	if (g.M <= 0 || g.N <= 0 || gz <= 0)
		return 0;
	if (grid_dim(g.M) > 65535 || gz > 65535 || grid_dim(g.N) > INT32_MAX)
		return diag(d, "kernel %s: a %lldx%lld GEMM (x%lld) exceeds the CUDA grid", k->name, (long long)g.M,
			    (long long)g.N, (long long)gz);
	gemm_kernel(c, name, &g);
	if (k->kind == KK_CONV2D)
		fprintf(c->f, "#undef nn_im2col\n");
	launch(m, ki, k->kind == KK_MATMUL ? "k%d_mm" : "k%d_cv", grid_dim(g.N), grid_dim(g.M), gz, 256);
	return 0;
}

/* --- the module ------------------------------------------------------------------ */

int cg_cuda_render(const KernelList *kl, CuModule *m, Diag *d)
{
	memset(m, 0, sizeof *m);
	for (int i = 0; i < kl->nk; i++)
		if (check_kernel(kl, &kl->k[i], d))
			return -1;
	layout(kl, &m->lay);
	FILE *f = open_memstream(&m->src, &m->len);
	if (!f) {
		cg_cuda_module_free(m);
		return diag(d, "cannot render CUDA C: out of memory");
	}
	fputs(cu_preamble, f);
	int rc = 0;
	for (int i = 0; i < kl->nk && !rc; i++) {
		Cu c = {.kl = kl, .k = &kl->k[i], .lay = &m->lay, .f = f};
		if (kl->k[i].kind == KK_LOOP) {
			loop_kernel(&c, m, i, "");
			continue;
		}
		c.fuse = fusable(&c);
		if (c.fuse) {
			cg_kx_dag(c.k, &c.dag);
			c.done = xcalloc((size_t)c.dag.n + 1, sizeof *c.done);
		}
		rc = call_kernel(&c, m, i, d);
		if (c.fuse) {
			free(c.done);
			cg_kx_dag_free(&c.dag);
		} else if (!rc) {
			loop_kernel(&c, m, i, "_e"); /* the epilogue after the call, in place */
		}
	}
	if (fclose(f) != 0 && !rc)
		rc = diag(d, "cannot render CUDA C: out of memory");
	if (rc)
		cg_cuda_module_free(m);
	return rc;
}

void cg_cuda_module_free(CuModule *m)
{
	free(m->src);
	free(m->launch);
	free(m->lay.boff);
	free(m->lay.in_off);
	free(m->lay.out_off);
	free(m->lay.par_off);
	memset(m, 0, sizeof *m);
}
