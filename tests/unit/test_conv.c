/* test_conv.c — the conv family's differential tests: conv_transpose over
 * 1, 2 and 3 spatial dims (strides, pads, output_padding, dilations,
 * groups, bias, a fused relu epilogue, images in blocks), 3-D conv, a 2-D conv in bands
 * of output rows, 2-D conv epilogues the kernel library applies (or not),
 * and 1-D, 2-D and 3-D pooling. Each
 * case lowers a small graph and checks the kernel interpreter against
 * ir_eval (lower_check.h), then compiles the same kernel list with the
 * LLVM backend, links and dlopens it, runs it on fresh random inputs and
 * compares with ir_eval again (|got - ref| <= 1e-4 + 1e-4 |ref|). */
#include "lower_check.h"

#include <dlfcn.h>
#include <unistd.h>

#include "codegen/cpu/cpu.h"
#include "runtime/abi.h"

static char dir[256]; /* temp folder for objects and libraries */
static int nbuilt;    /* libraries built, for unique names */

/* Compiles kl, runs it on random inputs and compares with ir_eval. */
static void check_compiled(Graph *g, KernelList *kl)
{
	Diag d;
	diag_init(&d);
	char obj[512], so[512];
	snprintf(obj, sizeof obj, "%s/m%d.o", dir, nbuilt);
	snprintf(so, sizeof so, "%s/m%d.so", dir, nbuilt++);
	CpuOptions o = {.opt_level = 2};
	if (cg_cpu_emit(kl, &o, obj, 0, &d) != 0)
		fail_msg("cg_cpu_emit: %s", d.msg);
	if (cg_link_so(obj, so, &d) != 0)
		fail_msg("cg_link_so: %s", d.msg);
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fail_msg("dlopen: %s", dlerror());
	const nncc_abi_model *m = dlsym(h, "nncc_model");
	assert_non_null(m);
	assert_true(g->ninput <= 4 && g->noutput == 1 && m->nparams <= 8);
	Tensor in[4], ref[1];
	const void *inp[4];
	for (int i = 0; i < g->ninput; i++) {
		const Value *v = &g->val[g->input[i]];
		int64_t n = ir_shape_numel(&v->shape);
		in[i] = (Tensor){v->dtype, v->shape, malloc((size_t)n * 8 + 8)};
		fill(v->dtype, in[i].data, n, ir_dtype_is_float(v->dtype) ? -2 : 0, ir_dtype_is_float(v->dtype) ? 2 : 250);
		inp[i] = in[i].data;
	}
	if (ir_eval(g, in, ref, &d) < 0)
		fail_msg("ir_eval: %s", d.msg);
	int64_t n = ir_shape_numel(&ref[0].shape);
	size_t esz = ir_dtype_size(ref[0].dtype);
	unsigned char *y = malloc((size_t)n * esz + 8);
	void *outp[1] = {y};
	const void *params[8] = {0};
	for (int i = 0; i < m->nparams; i++)
		params[i] = m->params[i].data;
	void *arena = NULL;
	if (m->arena_bytes)
		assert_int_equal(posix_memalign(&arena, 64, (size_t)m->arena_bytes), 0);
	m->run(arena, inp, outp, params, NULL);
	Tensor ki[1];
	if (cg_interp(kl, in, ki, &d) < 0)
		fail_msg("cg_interp: %s", d.msg);
	for (int64_t i = 0; i < n; i++) {
		double r = elem(&ref[0], i), q = elem(&ki[0], i), v = ir_elem_get(ref[0].dtype, y + (size_t)i * esz);
		if (fabs(v - r) > 1e-4 + 1e-4 * fabs(r))
			fail_msg("element %lld: compiled %.9g, eval %.9g", (long long)i, v, r);
		if (fabs(q - r) > 1e-5 + 1e-5 * fabs(r))
			fail_msg("element %lld: kernel interpreter %.9g, eval %.9g", (long long)i, q, r);
	}
	ir_tensor_free(&ki[0]);
	free(arena);
	free(y);
	ir_tensor_free(&ref[0]);
	for (int i = 0; i < g->ninput; i++)
		ir_tensor_free(&in[i]);
	dlclose(h);
}

/* Window attributes of node n over s spatial dims (NULL: absent). */
static void window(Graph *g, int n, int s, const int64_t *st, const int64_t *pads, const int64_t *dil)
{
	if (st)
		ir_set_ints(g, n, "strides", st, s);
	if (pads)
		ir_set_ints(g, n, "pads", pads, 2 * s);
	if (dil)
		ir_set_ints(g, n, "dilations", dil, s);
}

/* op(x, w[, b]) then relu, fused into one kernel when fuse is set. */
static void conv_case(Op op, Shape sx, Shape sw, bool bias, const int64_t *st, const int64_t *pads,
		      const int64_t *dil, const int64_t *opad, int64_t group, bool fuse)
{
	Graph *g = ir_graph_new("m");
	int s = sx.rank - 2;
	int x = ir_add_input(g, "x", DT_F32, sx);
	int w = param(g, "w", DT_F32, sw, -1, 1);
	int64_t kout = op == OP_CONV ? sw.d[0].n : sw.d[1].n * group;
	int n = bias ? add(g, op, "cv", IN(x, w, param(g, "b", DT_F32, S(kout), -1, 1)))
		     : add(g, op, "cv", IN(x, w));
	window(g, n, s, st, pads, dil);
	if (opad)
		ir_set_ints(g, n, "output_padding", opad, s);
	if (group != 1)
		ir_set_int(g, n, "group", group);
	int r = add(g, OP_RELU, "", IN(out(g, n)));
	ir_add_output(g, out(g, r));
	KernelList kl;
	check_graph(g, &kl); /* unfused: kernels vs eval */
	if (fuse) { /* relu as the call's epilogue */
		Diag d;
		diag_init(&d);
		cg_free(&kl);
		g->node[n].group = g->node[r].group = 1;
		if (cg_lower(g, &kl, &d) < 0)
			fail_msg("cg_lower: %s", d.msg);
		cg_plan(&kl);
		check_plan(&kl);
	}
	assert_int_equal(kl.nk, fuse ? 1 : 2);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->kind, KK_CONV2D);
	assert_int_equal(k->conv.transpose, op == OP_CONV_TRANSPOSE);
	assert_int_equal(k->conv.nd, op == OP_CONV_TRANSPOSE || s == 3);
	assert_int_equal(k->body != NULL, fuse);
	check_compiled(g, &kl);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_conv_transpose(void **state)
{
	(void)state;
	/* PyTorch's ConvTranspose2d(stride 2, padding 1, output_padding 1) */
	conv_case(OP_CONV_TRANSPOSE, S(2, 3, 5, 4), S(3, 4, 3, 3), true, A(2, 2), A(1, 1, 1, 1), NULL, A(1, 1), 1, true);
	conv_case(OP_CONV_TRANSPOSE, S(1, 4, 3, 5), S(4, 3, 2, 3), false, A(3, 2), A(0, 2, 1, 0), A(2, 1), NULL, 2, false);
	conv_case(OP_CONV_TRANSPOSE, S(2, 2, 7), S(2, 3, 4), true, A(3), A(1, 2), NULL, A(2), 1, false);   /* 1-D */
	conv_case(OP_CONV_TRANSPOSE, S(1, 2, 3, 4, 2), S(2, 2, 2, 3, 2), true, A(2, 1, 2), A(0, 1, 0, 1, 0, 1),
		  A(1, 2, 1), NULL, 2, true); /* 3-D, depthwise-like groups */
	conv_case(OP_CONV_TRANSPOSE, S(3, 6, 4, 4), S(6, 1, 3, 3), true, NULL, NULL, NULL, NULL, 6, false);
	/* col2im gathered per output row: DCGAN's 4x4 stride 2 (even and odd
	 * columns interleaved, a second vector and a short one), stride 1 over
	 * two vectors, a dilated height with stride 2 */
	conv_case(OP_CONV_TRANSPOSE, S(1, 8, 20, 20), S(8, 5, 4, 4), true, A(2, 2), A(1, 1, 1, 1), NULL, NULL, 1, true);
	conv_case(OP_CONV_TRANSPOSE, S(2, 3, 6, 20), S(3, 2, 3, 3), false, NULL, A(1, 1, 1, 1), NULL, NULL, 1, false);
	conv_case(OP_CONV_TRANSPOSE, S(1, 2, 5, 9), S(2, 3, 3, 4), true, A(2, 2), A(2, 0, 1, 1), A(2, 1), A(1, 1), 1,
		  false);
	/* blocks of images, one GEMM each (nncc_abi_convt_images): 8 images
	 * of 100 positions in blocks of 6 and 2 (a strided input gradient's
	 * shape); 7 of 64 in one block, 2 groups, fused relu */
	conv_case(OP_CONV_TRANSPOSE, S(8, 5, 10, 10), S(5, 3, 3, 3), true, A(2, 2), A(1, 1, 1, 1), NULL, A(1, 1), 1,
		  false);
	conv_case(OP_CONV_TRANSPOSE, S(7, 4, 8, 8), S(4, 3, 3, 3), false, A(2, 2), A(1, 1, 1, 1), NULL, NULL, 2, true);
}

static void test_conv3d(void **state)
{
	(void)state;
	conv_case(OP_CONV, S(2, 3, 5, 6, 4), S(4, 3, 3, 2, 2), true, A(2, 1, 1), A(1, 0, 1, 1, 1, 0), A(1, 2, 1), NULL,
		  1, true);
	conv_case(OP_CONV, S(1, 4, 4, 4, 4), S(6, 2, 1, 3, 1), false, NULL, NULL, NULL, NULL, 2, false);
	conv_case(OP_CONV, S(2, 3, 9), S(5, 3, 3), true, A(2), A(1, 1), A(2), NULL, 1, true); /* 1-D: the 2-D call */
}

static void pool_case_t(Op op, DType t, Shape sx, const int64_t *kern, const int64_t *st, const int64_t *pads,
			const int64_t *dil, int ceil_mode, int cip)
{
	Graph *g = ir_graph_new("m");
	int s = sx.rank - 2;
	int n = add(g, op, "pool", IN(ir_add_input(g, "x", t, sx)));
	ir_set_ints(g, n, "kernel", kern, s);
	window(g, n, s, st, pads, dil);
	ir_set_int(g, n, "ceil_mode", ceil_mode);
	if (op == OP_AVGPOOL)
		ir_set_int(g, n, "count_include_pad", cip);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	check_compiled(g, &kl);
	cg_free(&kl);
	ir_graph_free(g);
}

static void pool_case(Op op, Shape sx, const int64_t *kern, const int64_t *st, const int64_t *pads,
		      const int64_t *dil, int ceil_mode, int cip)
{
	pool_case_t(op, DT_F32, sx, kern, st, pads, dil, ceil_mode, cip);
}

/* A first layer's 7x7 stride-2 convolution over three channels: its col
 * (147 rows of 3025) goes in bands of output rows, the last one short. */
static void test_conv2d_bands(void **state)
{
	(void)state;
	conv_case(OP_CONV, S(1, 3, 110, 110), S(16, 3, 7, 7), true, A(2, 2), A(3, 3, 3, 3), NULL, NULL, 1, true);
	conv_case(OP_CONV, S(2, 3, 40, 70), S(8, 3, 3, 3), false, NULL, A(1, 1, 1, 1), NULL, NULL, 1, false);
}

/* A 3x3 convolution (n images, bias) with an epilogue fused into its
 * kernel: the chain ops[0..nops) applied in order (OP_ADD adds the input
 * r, of the output's shape or rshape when it has one), then whether the
 * CPU backend hands that epilogue to the kernel library (llvm_epi.c) as
 * expected, and the compiled result against ir_eval. */
static void epi_case(int64_t n, const Op *ops, int nops, const Shape *rshape, bool lib)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(n, 4, 9, 10));
	int cv = add(g, OP_CONV, "cv", IN(x, param(g, "w", DT_F32, S(6, 4, 3, 3), -1, 1),
					      param(g, "b", DT_F32, S(6), -1, 1)));
	window(g, cv, 2, NULL, A(1, 1, 1, 1), NULL);
	g->node[cv].group = 1;
	int v = out(g, cv);
	for (int i = 0; i < nops; i++) {
		int r = -1;
		if (ops[i] == OP_ADD)
			r = ir_add_input(g, "r", DT_F32, rshape ? *rshape : S(n, 6, 9, 10));
		int e = ops[i] == OP_ADD ? add(g, OP_ADD, "", IN(v, r)) : add(g, ops[i], "", IN(v));
		if (ops[i] == OP_CLIP) {
			ir_set_float(g, e, "min", 0);
			ir_set_float(g, e, "max", 0.75);
		}
		g->node[e].group = 1;
		v = out(g, e);
	}
	ir_add_output(g, v);
	infer(g);
	KernelList kl;
	Diag d;
	diag_init(&d);
	if (cg_lower(g, &kl, &d) < 0)
		fail_msg("cg_lower: %s", d.msg);
	cg_plan(&kl);
	check_plan(&kl);
	assert_int_equal(kl.nk, 1);
	assert_non_null(kl.k[0].body);
	Kc c = {.kl = &kl, .k = &kl.k[0]};
	CpuEpi e;
	assert_int_equal(cpu_conv_epi(&c, &e), lib);
	check_compiled(g, &kl);
	cg_free(&kl);
	ir_graph_free(g);
}

/* Epilogues the library applies (ReLU, a clamp, a residual add before
 * them, over one image or two) and ones it leaves to the loop (an add
 * after ReLU, a sigmoid, a residual broadcast per channel). */
static void test_conv_epilogue(void **state)
{
	(void)state;
	Shape chan = S(1, 6, 1, 1);
	epi_case(1, (Op[]){OP_RELU}, 1, NULL, true);
	epi_case(1, (Op[]){OP_CLIP}, 1, NULL, true);
	epi_case(2, (Op[]){OP_ADD, OP_RELU}, 2, NULL, true);
	epi_case(1, (Op[]){OP_ADD}, 1, NULL, true);
	epi_case(2, (Op[]){OP_RELU, OP_ADD}, 2, NULL, false);
	epi_case(1, (Op[]){OP_ADD, OP_CLIP}, 2, NULL, true);
	epi_case(2, (Op[]){OP_SIGMOID}, 1, NULL, false);
	epi_case(1, (Op[]){OP_ADD, OP_RELU}, 2, &chan, false);
}

static void test_pool_nd(void **state)
{
	(void)state;
	pool_case(OP_MAXPOOL, S(2, 3, 11), A(3), A(2), A(1, 1), NULL, 1, 0);
	pool_case(OP_AVGPOOL, S(1, 2, 10), A(4), A(3), A(2, 1), A(2), 0, 1);
	pool_case(OP_MAXPOOL, S(1, 2, 5, 6, 7), A(2, 3, 2), A(2, 1, 2), A(0, 1, 1, 1, 0, 1), A(1, 1, 2), 0, 0);
	pool_case(OP_AVGPOOL, S(1, 2, 6, 6, 7), A(3, 2, 2), A(2, 2, 1), A(1, 1, 0, 1, 0, 1), A(2, 1, 3), 1, 0);
	pool_case(OP_AVGPOOL, S(1, 2, 6, 6, 7), A(3, 2, 2), A(2, 2, 1), A(1, 1, 0, 1, 0, 1), A(2, 1, 3), 1, 1);
	/* 2-D f32 pools: the kernel library's call (runtime/pooling.c) */
	pool_case(OP_MAXPOOL, S(2, 3, 31, 31), A(3, 3), A(2, 2), A(0, 0, 0, 0), NULL, 1, 0);
	pool_case(OP_MAXPOOL, S(1, 2, 20, 40), A(3, 3), A(1, 1), A(1, 1, 1, 1), NULL, 0, 0);
	pool_case(OP_AVGPOOL, S(1, 2, 13, 37), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 1, 1);
	pool_case(OP_AVGPOOL, S(1, 2, 13, 37), A(2, 5), A(3, 3), A(1, 2, 0, 2), A(2, 1), 0, 0);
	/* integer maxpool (u8 images; i32), padded windows */
	pool_case_t(OP_MAXPOOL, DT_U8, S(1, 3, 7, 6), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 1, 0);
	pool_case_t(OP_MAXPOOL, DT_I32, S(2, 2, 9), A(2), A(2), A(1, 0), NULL, 0, 0);
}

int main(void)
{
	char base[] = "/tmp/nncc_test_conv_XXXXXX";
	if (!mkdtemp(base))
		return 1;
	snprintf(dir, sizeof dir, "%s", base);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_transpose),
		cmocka_unit_test(test_conv3d),
		cmocka_unit_test(test_conv2d_bands),
		cmocka_unit_test(test_conv_epilogue),
		cmocka_unit_test(test_pool_nd),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		r = 1;
	return r;
}
