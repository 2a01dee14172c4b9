/* test_lower.c — lowering of each op (codegen/lower*.c): every case builds a
 * small graph, infers shapes, lowers and plans it, and checks that
 * cg_interp on the kernels agrees with ir_eval on the graph (random inputs
 * from a fixed-seed generator, constants as params). */
#include "lower_check.h"
#include "runtime/abi.h"

/* --- elementwise ----------------------------------------------------------------- */

static void unary_case(Op op, DType t, const char *attr, double a1, const char *attr2, double a2)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, S(2, 3, 4));
	int src = x;
	if (op == OP_LOG || op == OP_SQRT) /* keep the argument positive */
		src = out(g, add(g, OP_EXP, "pos", IN(x)));
	int n = add(g, op, "u", IN(src));
	if (attr)
		ir_set_float(g, n, attr, a1);
	if (attr2)
		ir_set_float(g, n, attr2, a2);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(count_kind(&kl, KK_LOOP), src == x ? 1 : 2);
	assert_int_equal(kl.k[kl.nk - 1].nvar, 3);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_unary(void **state)
{
	(void)state;
	const Op ops[] = { OP_NEG, OP_ABS, OP_EXP, OP_LOG, OP_SQRT, OP_RELU, OP_SIGMOID, OP_TANH };
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
		unary_case(ops[i], DT_F32, NULL, 0, NULL, 0);
		unary_case(ops[i], DT_F64, NULL, 0, NULL, 0);
	}
	unary_case(OP_LEAKYRELU, DT_F32, "alpha", 0.2, NULL, 0);
	unary_case(OP_LEAKYRELU, DT_F32, NULL, 0, NULL, 0); /* default alpha */
	unary_case(OP_CLIP, DT_F32, "min", -0.5, "max", 0.7);
	unary_case(OP_CLIP, DT_F64, "max", 0.25, NULL, 0);
	unary_case(OP_CLIP, DT_I32, "min", -2.5, "max", 3.5);
	unary_case(OP_RELU, DT_I64, NULL, 0, NULL, 0);
	unary_case(OP_NEG, DT_I32, NULL, 0, NULL, 0);
	unary_case(OP_ABS, DT_I64, NULL, 0, NULL, 0);
}

static void binary_case(Op op, DType t, Shape sa, Shape sb, bool bconst)
{
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", t, sa);
	int b = bconst ? param(g, "b", t, sb, 1, 4) : ir_add_input(g, "b", t, sb);
	int n = add(g, op, "bin", IN(a, b));
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	assert_int_equal(kl.nparam, bconst ? 1 : 0);
	/* broadcast dims load with stride 0 */
	const Kx *body = kl.k[0].body;
	assert_int_equal(body->kind, KX_BINARY);
	const Shape *ys = &g->val[out(g, n)].shape;
	for (int v = 0; v < ys->rank; v++) {
		int j = v - (ys->rank - sb.rank);
		if (j < 0 || (sb.d[j].n == 1 && ys->d[v].n > 1))
			assert_int_equal(body->b->idx.k[v], 0);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_binary_broadcast(void **state)
{
	(void)state;
	const Op ops[] = { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
	for (size_t i = 0; i < 4; i++) {
		binary_case(ops[i], DT_F32, S(2, 3, 4), S(4), false);
		binary_case(ops[i], DT_F32, S(2, 1, 4), S(3, 1), false);
		binary_case(ops[i], DT_F64, S(1), S(2, 3), true);
		binary_case(ops[i], DT_F32, ir_shape_make(0, NULL), S(5), true);
		binary_case(ops[i], DT_I32, S(3, 4), S(3, 1), true);
		binary_case(ops[i], DT_I64, S(2, 2), S(2, 2), true);
	}
}

/* --- matmul ------------------------------------------------------------------------ */

static void matmul_case(DType t, Shape sa, Shape sb, int ta, int tb, KernelKind want)
{
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", t, sa);
	int b = param(g, "b", t, sb, -1, 1);
	int n = add(g, OP_MATMUL, "mm", IN(a, b));
	if (ta)
		ir_set_int(g, n, "trans_a", 1);
	if (tb)
		ir_set_int(g, n, "trans_b", 1);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	assert_int_equal(kl.k[0].kind, want);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_matmul(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		DType t = i ? DT_F64 : DT_F32;
		KernelKind kk = i ? KK_LOOP : KK_MATMUL;
		matmul_case(t, S(3, 4), S(4, 5), 0, 0, kk);
		matmul_case(t, S(2, 1, 3, 4), S(3, 4, 5), 0, 0, kk); /* batch broadcast both ways */
		matmul_case(t, S(2, 4, 3), S(5, 4), 1, 1, kk);
		matmul_case(t, S(4, 3), S(2, 4, 5), 1, 0, kk);
		matmul_case(t, S(3, 4), S(2, 5, 4), 0, 1, kk);
		matmul_case(t, S(4), S(2, 4, 5), 0, 0, kk);    /* 1-D left */
		matmul_case(t, S(2, 3, 4), S(4), 0, 0, kk);    /* 1-D right */
		matmul_case(t, S(4), S(4), 0, 0, kk);          /* dot: rank 0 */
		matmul_case(t, S(4), S(5, 4), 0, 1, kk);
	}
	matmul_case(DT_I32, S(2, 3, 4), S(4, 2), 0, 0, KK_LOOP);
	matmul_case(DT_I64, S(3, 4), S(1, 4, 2), 0, 0, KK_LOOP);
	/* more than 4 batch dims: f32 falls back to a loop */
	matmul_case(DT_F32, S(2, 1, 2, 1, 2, 3, 2), S(2, 2), 0, 0, KK_LOOP);
}

static void test_matmul_fields(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", DT_F32, S(2, 1, 4, 3));
	int b = ir_add_input(g, "b", DT_F32, S(3, 5, 4));
	int n = add(g, OP_MATMUL, "mm", IN(a, b));
	ir_set_int(g, n, "trans_a", 1);
	ir_set_int(g, n, "trans_b", 1);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	const Kernel *k = &kl.k[0];
	const int64_t want[] = { 2, 3, 12, 0, 0, 20, 45, 15, 3, 5, 4, 1, 1 };
	const int64_t got[] = { k->mm.bext[0], k->mm.bext[1], k->mm.sa[0], k->mm.sa[1], k->mm.sb[0],
				k->mm.sb[1], k->mm.sc[0], k->mm.sc[1], k->mm.m, k->mm.n, k->mm.k,
				k->mm.trans_a, k->mm.trans_b };
	assert_int_equal(k->mm.nbatch, 2);
	assert_memory_equal(got, want, sizeof want);
	cg_free(&kl);
	ir_graph_free(g);
}

/* --- conv ------------------------------------------------------------------------------ */

static void conv_case(Shape sx, Shape sw, bool bias, const int64_t *st, const int64_t *pads,
		      const int64_t *dil, int64_t group, bool want_scratch)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, sx);
	int w = param(g, "w", DT_F32, sw, -1, 1);
	int n;
	if (bias) {
		int b = param(g, "b", DT_F32, S(sw.d[0].n), -1, 1);
		n = add(g, OP_CONV, "conv1", IN(x, w, b));
	} else {
		n = add(g, OP_CONV, "conv1", IN(x, w));
	}
	if (st)
		ir_set_ints(g, n, "strides", st, 2);
	if (pads)
		ir_set_ints(g, n, "pads", pads, 4);
	if (dil)
		ir_set_ints(g, n, "dilations", dil, 2);
	if (group != 1)
		ir_set_int(g, n, "group", group);
	int r = add(g, OP_RELU, "", IN(out(g, n)));
	ir_add_output(g, out(g, r));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 2);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->kind, KK_CONV2D);
	assert_int_equal(k->conv.group, group);
	assert_int_equal(k->conv.bias >= 0, bias);
	assert_string_equal(k->name, "conv1");
	assert_string_equal(kl.k[1].name, "relu");
	if (want_scratch) {
		assert_true(k->conv.scratch >= 0);
		assert_int_equal(kl.buf[k->conv.scratch].kind, BUF_TEMP);
		int64_t ckk = k->conv.c / group * k->conv.kh * k->conv.kw, hw = k->conv.oh * k->conv.ow;
		/* im2col of one image (a first layer's: room for its lanes and a
		 * band, runtime/abi.h), or blocks of images */
		int64_t want = nncc_abi_conv_room(k->conv.c, k->conv.k, group, k->conv.oh, k->conv.ow, k->conv.kh,
						  k->conv.kw, k->conv.sh, k->conv.sw, k->conv.dh, k->conv.dw);
		int64_t nimg = nncc_abi_conv_images(k->conv.n, hw, ckk, k->conv.k / group);
		if (nncc_abi_conv_blocks(k->conv.n, k->conv.kw, k->conv.ow, hw))
			want = nncc_abi_wide_scratch(k->conv.n, k->conv.c, k->conv.k, group, k->conv.oh, k->conv.ow,
						     k->conv.kh, k->conv.kw, k->conv.dh, k->conv.dw);
		else if (nimg > 1) /* images side by side: their cols and the GEMM's product */
			want = nimg * hw * (ckk + k->conv.k / group);
		assert_int_equal(kl.buf[k->conv.scratch].numel, want);
	} else {
		assert_int_equal(k->conv.scratch, -1);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_conv(void **state)
{
	(void)state;
	conv_case(S(1, 1, 8, 8), S(3, 1, 3, 3), true, NULL, NULL, NULL, 1, true);
	conv_case(S(2, 4, 7, 6), S(6, 2, 3, 3), true, A(2, 1), A(1, 0, 2, 1), A(1, 2), 2, true);
	conv_case(S(1, 3, 5, 5), S(4, 3, 1, 1), false, NULL, NULL, NULL, 1, false);
	conv_case(S(2, 4, 5, 5), S(4, 1, 2, 2), false, A(2, 2), A(1, 1, 1, 1), NULL, 4, true); /* depthwise */
	conv_case(S(1, 2, 4, 4), S(2, 2, 1, 1), true, A(2, 2), NULL, NULL, 1, true);
	/* a stem (7 x 7, stride 2, 3 channels): less than one image's col */
	conv_case(S(2, 3, 64, 64), S(32, 3, 7, 7), true, A(2, 2), A(3, 3, 3, 3), NULL, 1, true);
	assert_true(nncc_abi_conv_room(3, 32, 1, 32, 32, 7, 7, 2, 2, 1, 1) * 3 < 147 * 32 * 32);
}

/* A weight gradient as autodiff writes it (passes/grad_conv.c
 * conv_wgrad): x [N, C, H, W] as [C, N, H, W] through a 5-D transpose,
 * the output adjoint through a 4-D one, the result transposed back. The
 * transposes fold into the call (lower_swap.c): one kernel, its operands
 * read and its result written where they lie; a transposed value with
 * another reader keeps its copy. cg_interp, which reads the flags, agrees
 * with ir_eval. */
static void wgrad_case(bool x_also_output)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(5, 6, 16, 16));
	int dy = ir_add_input(g, "dy", DT_F32, S(5, 7, 16, 16));
	int r = add(g, OP_RESHAPE, "r", IN(x));
	ir_set_ints(g, r, "shape", A(5, 1, 6, 16, 16), 5);
	int t = add(g, OP_TRANSPOSE, "xt", IN(out(g, r)));
	ir_set_ints(g, t, "perm", A(2, 1, 0, 3, 4), 5);
	int r2 = add(g, OP_RESHAPE, "r2", IN(out(g, t)));
	ir_set_ints(g, r2, "shape", A(6, 5, 16, 16), 4);
	int gt = add(g, OP_TRANSPOSE, "gt", IN(dy));
	ir_set_ints(g, gt, "perm", A(1, 0, 2, 3), 4);
	int cv = add(g, OP_CONV, "wgrad", IN(out(g, r2), out(g, gt)));
	ir_set_ints(g, cv, "pads", A(1, 1, 1, 1), 4);
	int back = add(g, OP_TRANSPOSE, "back", IN(out(g, cv)));
	ir_set_ints(g, back, "perm", A(1, 0, 2, 3), 4);
	ir_add_output(g, out(g, back));
	if (x_also_output)
		ir_add_output(g, out(g, t));
	KernelList kl;
	check_graph(g, &kl);
	int conv = -1;
	for (int i = 0; i < kl.nk; i++)
		if (kl.k[i].kind == KK_CONV2D)
			conv = i;
	assert_true(conv >= 0);
	assert_int_equal(nncc_abi_conv_swaps(6, 5, 16, 16, 7, 3, 3, 16, 16, 1, 1, 1, 1, 1),
			 NNCC_CONV_SWAP_X | NNCC_CONV_SWAP_W | NNCC_CONV_SWAP_Y);
	if (x_also_output) {
		assert_int_equal(kl.k[conv].conv.swap, NNCC_CONV_SWAP_W | NNCC_CONV_SWAP_Y);
		assert_int_equal(count_kind(&kl, KK_LOOP), 1); /* x's transpose, read twice */
	} else {
		assert_int_equal(kl.k[conv].conv.swap, NNCC_CONV_SWAP_X | NNCC_CONV_SWAP_W | NNCC_CONV_SWAP_Y);
		assert_int_equal(kl.nk, 1);
		assert_int_equal(kl.buf[kl.k[conv].conv.x].kind, BUF_INPUT);
		assert_int_equal(kl.buf[kl.k[conv].conv.y].kind, BUF_OUTPUT);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_conv_swaps(void **state)
{
	(void)state;
	wgrad_case(false);
	wgrad_case(true);
}

/* --- pooling ------------------------------------------------------------------------------ */

static void pool_case(Op op, Shape sx, const int64_t *kern, const int64_t *st, const int64_t *pads,
		      const int64_t *dil, int ceil_mode, int cip, bool const_div)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, sx);
	int n = add(g, op, "pool", IN(x));
	ir_set_ints(g, n, "kernel", kern, 2);
	if (st)
		ir_set_ints(g, n, "strides", st, 2);
	if (pads)
		ir_set_ints(g, n, "pads", pads, 4);
	if (dil)
		ir_set_ints(g, n, "dilations", dil, 2);
	if (ceil_mode)
		ir_set_int(g, n, "ceil_mode", 1);
	if (cip)
		ir_set_int(g, n, "count_include_pad", 1);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->nout_var, 4);
	assert_int_equal(k->nvar, 6);
	if (op == OP_AVGPOOL) {
		assert_int_equal(k->body->op, KB_DIV);
		assert_int_equal(k->body->b->kind, const_div ? KX_CONST : KX_REDUCE);
	} else {
		assert_int_equal(k->body->kind, KX_REDUCE);
		assert_int_equal(k->body->op, KR_MAX);
		assert_int_equal(k->body->a->nguard > 0, pads != NULL || ceil_mode);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_pool(void **state)
{
	(void)state;
	pool_case(OP_MAXPOOL, S(1, 2, 8, 8), A(2, 2), A(2, 2), NULL, NULL, 0, 0, false);
	pool_case(OP_MAXPOOL, S(2, 3, 7, 9), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 1, 0, false);
	pool_case(OP_MAXPOOL, S(1, 2, 9, 9), A(2, 3), A(1, 2), A(0, 1, 1, 0), A(2, 1), 0, 0, false);
	pool_case(OP_MAXPOOL, S(1, 1, 6, 6), A(3, 3), A(2, 2), NULL, NULL, 1, 0, false);
	pool_case(OP_AVGPOOL, S(1, 2, 8, 8), A(2, 2), A(2, 2), NULL, NULL, 0, 0, true);
	pool_case(OP_AVGPOOL, S(2, 3, 7, 9), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 0, 0, false);
	pool_case(OP_AVGPOOL, S(2, 3, 7, 9), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 0, 1, true);
	pool_case(OP_AVGPOOL, S(1, 2, 7, 8), A(3, 2), A(2, 3), A(1, 0, 1, 1), NULL, 1, 1, true);
	pool_case(OP_AVGPOOL, S(1, 1, 6, 6), A(3, 3), A(2, 2), NULL, NULL, 1, 1, false); /* ceil window past the pad */
	pool_case(OP_AVGPOOL, S(1, 2, 7, 8), A(3, 2), A(2, 3), A(1, 0, 1, 1), NULL, 1, 0, false);
	pool_case(OP_AVGPOOL, S(1, 1, 6, 6), A(3, 3), A(2, 2), NULL, NULL, 1, 0, false);
}

/* --- reductions and normalization ---------------------------------------------------------- */

static void reduce_case(Op op, DType t, const int64_t *axes, int na, int keep, int want_rank)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, S(2, 3, 4));
	int n = add(g, op, "red", IN(x));
	if (axes)
		ir_set_ints(g, n, "axes", axes, na);
	if (keep >= 0)
		ir_set_int(g, n, "keepdims", keep);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(g->val[out(g, n)].shape.rank, want_rank);
	assert_int_equal(kl.k[0].nout_var, want_rank);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_reduce(void **state)
{
	(void)state;
	const Op ops[] = { OP_REDUCE_SUM, OP_REDUCE_MEAN, OP_REDUCE_MAX };
	for (int i = 0; i < 3; i++) {
		reduce_case(ops[i], DT_F32, INTS(1), 0, 2);
		reduce_case(ops[i], DT_F32, INTS(0, 2), 1, 3);
		reduce_case(ops[i], DT_F64, INTS(-1), -1, 3); /* keepdims defaults to 1 */
		reduce_case(ops[i], DT_F32, NULL, 0, 0, 0);  /* every axis, rank 0 */
		reduce_case(ops[i], DT_F32, NULL, 0, 1, 3);
	}
	reduce_case(OP_REDUCE_SUM, DT_I32, INTS(2, 0), 0, 1);
	reduce_case(OP_REDUCE_MAX, DT_I64, INTS(1), 1, 3);
}

static void softmax_case(Op op, int64_t axis)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 4));
	int n = add(g, op, "sm", IN(x));
	if (axis != 99)
		ir_set_int(g, n, "axis", axis);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 3);
	assert_int_equal(count_buf(&kl, BUF_TEMP), 2);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_softmax(void **state)
{
	(void)state;
	softmax_case(OP_SOFTMAX, 1); /* middle axis */
	softmax_case(OP_SOFTMAX, 0);
	softmax_case(OP_SOFTMAX, 99); /* default: last */
	softmax_case(OP_LOGSOFTMAX, 1);
	softmax_case(OP_LOGSOFTMAX, -1);
}

static void test_batchnorm(void **state)
{
	(void)state;
	for (int r = 0; r < 2; r++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", DT_F32, r ? S(2, 3) : S(2, 3, 4, 5));
		int sc = param(g, "scale", DT_F32, S(3), -1, 1);
		int b = param(g, "bias", DT_F32, S(3), -1, 1);
		int mu = param(g, "mean", DT_F32, S(3), -1, 1);
		int var = param(g, "var", DT_F32, S(3), 0.1, 2);
		int n = add(g, OP_BATCHNORM, "bn", IN(x, sc, b, mu, var));
		ir_set_float(g, n, "epsilon", 1e-3);
		ir_add_output(g, out(g, n));
		KernelList kl;
		check_graph(g, &kl);
		assert_int_equal(kl.nk, 1);
		assert_int_equal(kl.nparam, 4);
		cg_free(&kl);
		ir_graph_free(g);
	}
}

/* --- data movement ---------------------------------------------------------------------------- */

static void test_pad(void **state)
{
	(void)state;
	const DType ts[] = { DT_F32, DT_I64, DT_U8 };
	for (int i = 0; i < 3; i++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", ts[i], S(2, 3));
		int n = add(g, OP_PAD, "pad", IN(x));
		ir_set_ints(g, n, "pads", A(1, 0, 2, 3), 4);
		ir_set_float(g, n, "value", 7);
		ir_add_output(g, out(g, n));
		KernelList kl;
		check_graph(g, &kl);
		assert_int_equal(kl.k[0].body->nguard, 2);
		cg_free(&kl);
		ir_graph_free(g);
	}
}

static void test_transpose(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", i == 2 ? DT_I32 : DT_F32, S(2, 3, 4));
		int n = add(g, OP_TRANSPOSE, "tr", IN(x));
		if (i != 1)
			ir_set_ints(g, n, "perm", A(2, 0, 1), 3);
		ir_add_output(g, out(g, n));
		check_graph(g, NULL);
		ir_graph_free(g);
	}
}

static void test_concat(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", DT_F32, S(2, 1, 3));
	int b = ir_add_input(g, "b", DT_F32, S(2, 2, 3));
	int c = param(g, "c", DT_F32, S(2, 4, 3), -1, 1);
	int n = add(g, OP_CONCAT, "cat", IN(a, b, c));
	ir_set_int(g, n, "axis", -2);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 3);
	assert_int_equal(kl.k[1].out_idx.c, 3); /* b starts at row 1 */
	assert_int_equal(kl.k[2].out_idx.c, 9);
	cg_free(&kl);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unary),
		cmocka_unit_test(test_binary_broadcast),
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_matmul_fields),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_conv_swaps),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_transpose),
		cmocka_unit_test(test_concat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
