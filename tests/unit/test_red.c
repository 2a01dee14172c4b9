/* test_red.c — the reduction family's own ops (reduce_min, reduce_prod,
 * argmax, argmin, cumsum, cumprod, topk): their interpreter rules on hand-checked
 * examples (ties, NaN, empty axes, exclusive/reverse sums), their shape
 * rules, and their lowering: cg_interp on the kernels against ir_eval on
 * random inputs (lower_check.h), over dtypes, axes and flags. */
#include "lower_check.h"

/* --- the interpreter on small examples ------------------------------------------ */

/* Runs op on one f64 input of shape s holding v; returns the output as
 * doubles in res (at most 16) and its element count. */
static int run1(Op op, Shape s, const double *v, DType t, double *res, void (*attrs)(Graph *, int))
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, s);
	int n = add(g, op, "n", IN(x));
	attrs(g, n);
	ir_add_output(g, out(g, n));
	infer(g);
	int64_t numel = ir_shape_numel(&s);
	Tensor in = {t, s, malloc((size_t)numel * ir_dtype_size(t) + 1)}, o;
	for (int64_t i = 0; i < numel; i++)
		ir_elem_put(t, (char *)in.data + i * (int64_t)ir_dtype_size(t), v[i]);
	Diag d;
	diag_init(&d);
	if (ir_eval(g, &in, &o, &d) < 0)
		fail_msg("ir_eval: %s", d.msg);
	int64_t no = ir_shape_numel(&o.shape);
	assert_true(no <= 16);
	for (int64_t i = 0; i < no; i++)
		res[i] = ir_elem_get(o.dtype, (char *)o.data + i * (int64_t)ir_dtype_size(o.dtype));
	free(in.data);
	ir_tensor_free(&o);
	ir_graph_free(g);
	return (int)no;
}

static void ax1(Graph *g, int n) { ir_set_int(g, n, "axis", 1); }
static void ax1_last(Graph *g, int n)
{
	ir_set_int(g, n, "axis", 1);
	ir_set_int(g, n, "select_last_index", 1);
}
static void ax0_excl(Graph *g, int n)
{
	ir_set_int(g, n, "axis", 0);
	ir_set_int(g, n, "exclusive", 1);
}
static void ax0_rev(Graph *g, int n)
{
	ir_set_int(g, n, "axis", 0);
	ir_set_int(g, n, "reverse", 1);
}
static void ax0_rev_excl(Graph *g, int n)
{
	ax0_rev(g, n);
	ir_set_int(g, n, "exclusive", 1);
}
static void axes1(Graph *g, int n) { ir_set_ints(g, n, "axes", INTS(1)); }

static void test_eval_examples(void **state)
{
	(void)state;
	double r[16];
	/* rows [1 3 3 2] and [nan 5 nan 0]: first and last maximum, NaN wins */
	const double a[] = {1, 3, 3, 2, NAN, 5, NAN, 0};
	assert_int_equal(run1(OP_ARGMAX, S(2, 4), a, DT_F32, r, ax1), 2);
	assert_true(r[0] == 1 && r[1] == 0);
	assert_int_equal(run1(OP_ARGMAX, S(2, 4), a, DT_F32, r, ax1_last), 2);
	assert_true(r[0] == 2 && r[1] == 2);
	assert_int_equal(run1(OP_ARGMIN, S(2, 4), a, DT_F32, r, ax1), 2);
	assert_true(r[0] == 0 && r[1] == 0);
	const double b[] = {4, -1, -1, 7};
	assert_int_equal(run1(OP_ARGMIN, S(1, 4), b, DT_I64, r, ax1_last), 1);
	assert_true(r[0] == 2);

	const double c[] = {1, 2, 3, 4};
	run1(OP_CUMSUM, S(4), c, DT_F64, r, ax0_excl);
	assert_true(r[0] == 0 && r[1] == 1 && r[2] == 3 && r[3] == 6);
	run1(OP_CUMSUM, S(4), c, DT_I32, r, ax0_rev);
	assert_true(r[0] == 10 && r[1] == 9 && r[2] == 7 && r[3] == 4);
	run1(OP_CUMSUM, S(4), c, DT_F32, r, ax0_rev_excl);
	assert_true(r[0] == 9 && r[1] == 7 && r[2] == 4 && r[3] == 0);
	run1(OP_CUMPROD, S(4), c, DT_I64, r, ax0_excl);
	assert_true(r[0] == 1 && r[1] == 1 && r[2] == 2 && r[3] == 6);
	run1(OP_CUMPROD, S(4), c, DT_F64, r, ax0_rev);
	assert_true(r[0] == 24 && r[1] == 24 && r[2] == 12 && r[3] == 4);

	/* reduce_min / reduce_prod over axis 1 of [[2 -3], [5 nan]]; over an empty axis */
	const double e[] = {2, -3, 5, NAN};
	run1(OP_REDUCE_MIN, S(2, 2), e, DT_F32, r, axes1);
	assert_true(r[0] == -3 && isnan(r[1]));
	run1(OP_REDUCE_PROD, S(2, 2), e, DT_F64, r, axes1);
	assert_true(r[0] == -6 && isnan(r[1]));
	assert_int_equal(run1(OP_REDUCE_MIN, S(2, 0), e, DT_F32, r, axes1), 2);
	assert_true(isinf(r[0]) && r[0] > 0);
	run1(OP_REDUCE_PROD, S(2, 0), e, DT_F32, r, axes1);
	assert_true(r[0] == 1 && r[1] == 1);
	run1(OP_REDUCE_MIN, S(2, 2), b, DT_I32, r, axes1);
	assert_true(r[0] == -1 && r[1] == -1);
}

/* --- shape rules ----------------------------------------------------------------- */

static void test_shapes(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 4));
	int a = add(g, OP_ARGMAX, "a", IN(x));
	ir_set_int(g, a, "axis", -2);
	ir_set_int(g, a, "keepdims", 0);
	int c = add(g, OP_CUMSUM, "c", IN(x));
	ir_set_int(g, c, "axis", 2);
	int p = add(g, OP_REDUCE_PROD, "p", IN(x));
	ir_set_ints(g, p, "axes", INTS(0, 2));
	infer(g);
	const Value *va = &g->val[out(g, a)], *vc = &g->val[out(g, c)], *vp = &g->val[out(g, p)];
	assert_int_equal(va->dtype, DT_I64);
	Shape s24 = S(2, 4), s234 = S(2, 3, 4), s131 = S(1, 3, 1);
	assert_true(ir_shape_eq(&va->shape, &s24));
	assert_true(ir_shape_eq(&vc->shape, &s234));
	assert_true(ir_shape_eq(&vp->shape, &s131));

	/* out-of-range axes and an empty argmax axis are errors naming the node */
	Diag d;
	diag_init(&d);
	ir_set_int(g, a, "axis", 3);
	assert_int_equal(ir_infer_node(g, a, &d), -1);
	assert_non_null(strstr(d.msg, "out of range"));
	int z = ir_add_input(g, "z", DT_F32, S(2, 0));
	int az = add(g, OP_ARGMIN, "az", IN(z));
	ir_set_int(g, az, "axis", 1);
	diag_init(&d);
	assert_int_equal(ir_infer_node(g, az, &d), -1);
	assert_non_null(strstr(d.msg, "empty"));
	ir_graph_free(g);
}

/* --- lowering: kernels against the interpreter ------------------------------------ */

static void red_case(Op op, DType t, Shape s, const int64_t *axes, int na, int keep)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, s);
	int n = add(g, op, "red", IN(x));
	if (axes)
		ir_set_ints(g, n, "axes", axes, na);
	ir_set_int(g, n, "keepdims", keep);
	ir_add_output(g, out(g, n));
	check_graph(g, NULL);
	ir_graph_free(g);
}

static void test_lower_reduce(void **state)
{
	(void)state;
	const DType ts[] = {DT_F32, DT_F64, DT_I32, DT_I64};
	for (int i = 0; i < 4; i++) {
		red_case(OP_REDUCE_MIN, ts[i], S(2, 3, 4), INTS(1), 0);
		red_case(OP_REDUCE_MIN, ts[i], S(2, 3, 4), INTS(0, 2), 1);
		red_case(OP_REDUCE_PROD, ts[i], S(2, 3, 4), INTS(-1), 1);
		red_case(OP_REDUCE_PROD, ts[i], S(3, 2), NULL, 0, 0);
	}
	/* an empty reduced axis: +inf and 1 */
	red_case(OP_REDUCE_MIN, DT_F32, S(2, 0, 3), INTS(1), 1);
	red_case(OP_REDUCE_PROD, DT_F64, S(2, 0, 3), INTS(1), 0);
}

static void arg_case(Op op, DType t, Shape s, int64_t axis, int keep, int last)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, s);
	int n = add(g, op, "arg", IN(x));
	ir_set_int(g, n, "axis", axis);
	ir_set_int(g, n, "keepdims", keep);
	ir_set_int(g, n, "select_last_index", last);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	assert_int_equal(kl.k[0].nvar, kl.k[0].nout_var + 1);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_lower_arg(void **state)
{
	(void)state;
	const DType ts[] = {DT_F32, DT_F64, DT_I32, DT_I64, DT_U8};
	for (int i = 0; i < 5; i++)
		for (int last = 0; last < 2; last++) {
			arg_case(OP_ARGMAX, ts[i], S(3, 5, 4), 1, 1, last);
			arg_case(OP_ARGMIN, ts[i], S(3, 5, 4), -1, 0, last);
			arg_case(OP_ARGMAX, ts[i], S(7), 0, 0, last);
		}
}

static void cum_case(Op op, DType t, Shape s, int64_t axis, int excl, int rev)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, s);
	int n = add(g, op, "cum", IN(x));
	ir_set_int(g, n, "axis", axis);
	ir_set_int(g, n, "exclusive", excl);
	ir_set_int(g, n, "reverse", rev);
	ir_add_output(g, out(g, n));
	check_graph(g, NULL);
	ir_graph_free(g);
}

static void test_lower_cumsum(void **state)
{
	(void)state;
	const DType ts[] = {DT_F32, DT_F64, DT_I32, DT_I64};
	for (int i = 0; i < 4; i++)
		for (int f = 0; f < 4; f++) {
			cum_case(OP_CUMSUM, ts[i], S(2, 5, 3), 1, f & 1, f >> 1);
			cum_case(OP_CUMSUM, ts[i], S(6), -1, f & 1, f >> 1);
			cum_case(OP_CUMPROD, ts[i], S(2, 5, 3), 1, f & 1, f >> 1);
			cum_case(OP_CUMPROD, ts[i], S(6), -1, f & 1, f >> 1);
		}
}

static void topk_case(DType t, Shape s, int64_t axis, int64_t k, int largest)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, s);
	int n = ir_add_node(g, OP_TOPK, "topk", &x, 1, 2, NULL);
	ir_set_int(g, n, "axis", axis);
	ir_set_int(g, n, "k", k);
	ir_set_int(g, n, "largest", largest);
	ir_add_output(g, ir_out(g, n, 0));
	ir_add_output(g, ir_out(g, n, 1));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 4); /* pair order, rank, indices, values */
	cg_free(&kl);
	ir_graph_free(g);
}

/* Integers from a small range meet ties: equal values go by index. */
static void test_lower_topk(void **state)
{
	(void)state;
	const DType ts[] = {DT_F32, DT_F64, DT_I32, DT_I64};
	for (int i = 0; i < 4; i++)
		for (int largest = 0; largest < 2; largest++) {
			topk_case(ts[i], S(3, 6, 2), 1, 4, largest);
			topk_case(ts[i], S(2, 5), -1, 5, largest);
			topk_case(ts[i], S(7), 0, 1, largest);
		}
}

static void k3(Graph *g, int n)
{
	ir_set_int(g, n, "axis", 0);
	ir_set_int(g, n, "k", 3);
}

/* topk's interpreter rule: ties by index, a NaN first (as argmax). */
static void test_eval_topk(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(5));
	int n = ir_add_node(g, OP_TOPK, "topk", &x, 1, 2, NULL);
	k3(g, n);
	ir_add_output(g, ir_out(g, n, 0));
	ir_add_output(g, ir_out(g, n, 1));
	infer(g);
	float v[5] = {2, 7, NAN, 7, 1};
	Tensor in = {DT_F32, S(5), v}, o[2];
	Diag d;
	diag_init(&d);
	if (ir_eval(g, &in, o, &d) < 0)
		fail_msg("ir_eval: %s", d.msg);
	const float *ov = o[0].data;
	const int64_t *oi = o[1].data;
	assert_true(isnan(ov[0]) && ov[1] == 7 && ov[2] == 7);
	assert_true(oi[0] == 2 && oi[1] == 1 && oi[2] == 3);
	ir_tensor_free(&o[0]);
	ir_tensor_free(&o[1]);
	ir_graph_free(g);
}

/* Unsupported dtypes are reported naming the op, never computed wrong. */
static void test_lower_errors(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_BOOL, S(2, 3));
	int n = add(g, OP_REDUCE_PROD, "rb", IN(x));
	ir_add_output(g, out(g, n));
	Diag d;
	assert_non_null(strstr(lower_error(g, &d), "cannot lower reduce_prod for bool"));
	ir_graph_free(g);
}

/* reduce_max / reduce_min over bool are any / all: interpreter and
 * kernels on every pattern of a 3-element row. */
static void test_bool_any_all(void **state)
{
	(void)state;
	for (int mx = 0; mx < 2; mx++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", DT_BOOL, S(8, 3));
		int n = add(g, mx ? OP_REDUCE_MAX : OP_REDUCE_MIN, "r", IN(x));
		ir_set_ints(g, n, "axes", INTS(1));
		ir_set_int(g, n, "keepdims", 0);
		ir_add_output(g, out(g, n));
		infer(g);
		uint8_t v[24];
		for (int i = 0; i < 24; i++)
			v[i] = (uint8_t)((i / 3) >> (i % 3) & 1);
		Tensor in = {DT_BOOL, S(8, 3), v}, ref, got;
		Diag d;
		diag_init(&d);
		if (ir_eval(g, &in, &ref, &d) < 0)
			fail_msg("ir_eval: %s", d.msg);
		KernelList kl;
		if (cg_lower(g, &kl, &d) < 0)
			fail_msg("cg_lower: %s", d.msg);
		cg_plan(&kl);
		if (cg_interp(&kl, &in, &got, &d) < 0)
			fail_msg("cg_interp: %s", d.msg);
		for (int r = 0; r < 8; r++) {
			uint8_t want = mx ? r != 0 : r == 7; /* row r holds the bits of r */
			assert_int_equal(((uint8_t *)ref.data)[r], want);
			assert_int_equal(((uint8_t *)got.data)[r], want);
		}
		ir_tensor_free(&ref);
		ir_tensor_free(&got);
		cg_free(&kl);
		ir_graph_free(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_examples),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_lower_reduce),
		cmocka_unit_test(test_lower_arg),
		cmocka_unit_test(test_lower_cumsum),
		cmocka_unit_test(test_lower_topk),
		cmocka_unit_test(test_eval_topk),
		cmocka_unit_test(test_lower_errors),
		cmocka_unit_test(test_bool_any_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
