/* test_shape.c — every shape rule in ir/shape.c: known, symbolic and
 * unknown dims, attribute defaults, and the error messages (each must start
 * with `node N (op "name")`). Shapes are written as text, "[N, 3, ?]", and
 * parsed by a tiny helper here; results are compared via ir_shape_str. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* "[N, 3, ?]" -> Shape (symbols interned in g); "*" -> unknown rank. */
static Shape S(Graph *g, const char *s)
{
	Shape r = ir_shape_unknown();
	if (*s == '*')
		return r;
	assert_int_equal(*s, '[');
	r.rank = 0;
	s++;
	while (*s && *s != ']') {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == ']')
			break;
		Dim *d = &r.d[r.rank++];
		if (isdigit((unsigned char)*s)) {
			*d = (Dim){strtoll(s, (char **)&s, 10), 0};
		} else if (*s == '?') {
			*d = (Dim){-1, 0};
			s++;
		} else {
			char name[32];
			int n = 0;
			while (isalnum((unsigned char)*s))
				name[n++] = *s++;
			name[n] = 0;
			*d = (Dim){-1, ir_sym(g, name)};
		}
	}
	return r;
}

static int in(Graph *g, const char *name, DType t, const char *shape)
{
	return ir_add_input(g, name, t, S(g, shape));
}

static int node(Graph *g, Op op, const char *name, int a, int b)
{
	int ins[2] = {a, b};
	return ir_add_node(g, op, name, ins, b >= 0 ? 2 : 1, 1, NULL);
}

/* Infers node n and checks its output's dtype and shape text. */
static void ok(Graph *g, int n, DType t, const char *want)
{
	Diag d;
	diag_init(&d);
	int r = ir_infer_node(g, n, &d);
	if (r)
		print_error("unexpected error: %s", d.msg);
	assert_int_equal(r, 0);
	char buf[256];
	const Value *v = &g->val[ir_out(g, n, 0)];
	assert_string_equal(ir_shape_str(g, &v->shape, buf, sizeof buf), want);
	assert_int_equal(v->dtype, t);
}

/* Infers node n, expects failure with a message holding every needle. */
static void bad(Graph *g, int n, const char *prefix, const char *needle, const char *needle2)
{
	Diag d;
	diag_init(&d);
	assert_int_equal(ir_infer_node(g, n, &d), -1);
	if (strncmp(d.msg, prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' lacks prefix '%s'", d.msg, prefix);
	if (needle && !strstr(d.msg, needle))
		fail_msg("message '%s' lacks '%s'", d.msg, needle);
	if (needle2 && !strstr(d.msg, needle2))
		fail_msg("message '%s' lacks '%s'", d.msg, needle2);
}

static void test_broadcast(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a = in(g, "a", DT_F32, "[2, 1, 3]"), b = in(g, "b", DT_F32, "[4, 1]");
	ok(g, node(g, OP_ADD, "a1", a, b), DT_F32, "[2, 4, 3]");
	int s = in(g, "s", DT_F32, "[]"), v = in(g, "v", DT_F32, "[5]");
	ok(g, node(g, OP_MUL, "m1", s, v), DT_F32, "[5]");
	int n1 = in(g, "n1", DT_F32, "[N, 1]"), r3 = in(g, "r3", DT_F32, "[1, 3]");
	ok(g, node(g, OP_SUB, "s1", n1, r3), DT_F32, "[N, 3]");
	int n3 = in(g, "n3", DT_F32, "[N, 3]");
	ok(g, node(g, OP_DIV, "d1", n3, n3), DT_F32, "[N, 3]");
	int nn = in(g, "nn", DT_F32, "[N]"), five = in(g, "five", DT_F32, "[5]");
	ok(g, node(g, OP_ADD, "a2", nn, five), DT_F32, "[5]");     /* sym vs n>1 -> n */
	ok(g, node(g, OP_ADD, "a3", five, nn), DT_F32, "[5]");
	int mm = in(g, "mm", DT_F32, "[M]"), one = in(g, "one", DT_F32, "[1]");
	ok(g, node(g, OP_ADD, "a4", nn, mm), DT_F32, "[?]");      /* two symbols: unknown */
	ok(g, node(g, OP_ADD, "a5", one, nn), DT_F32, "[N]");     /* 1 vs sym -> sym */
	int q = in(g, "q", DT_F32, "[?, 4]");
	ok(g, node(g, OP_ADD, "a6", q, in(g, "w4", DT_F32, "[7, 4]")), DT_F32, "[7, 4]");
	int z = in(g, "z", DT_F32, "[0, 3]");
	ok(g, node(g, OP_ADD, "a7", z, r3), DT_F32, "[0, 3]");

	/* unary ops keep shape and dtype, symbols included */
	int x = in(g, "x", DT_F64, "[N, ?, 2]");
	const Op un[] = {OP_NEG, OP_ABS, OP_EXP, OP_LOG, OP_SQRT, OP_RELU, OP_SIGMOID, OP_TANH,
		OP_LEAKYRELU, OP_CLIP};
	for (size_t i = 0; i < sizeof un / sizeof *un; i++)
		ok(g, node(g, un[i], "u", x, -1), DT_F64, "[N, ?, 2]");

	/* unknown rank: output unknown, not an error */
	int u = in(g, "u", DT_F32, "*");
	ok(g, node(g, OP_ADD, "a8", u, a), DT_F32, "[*]");

	/* errors */
	int e1 = in(g, "e1", DT_F32, "[2, 3]"), e2 = in(g, "e2", DT_F32, "[4, 3]");
	bad(g, node(g, OP_ADD, "bad1", e1, e2), "node ", "(add \"bad1\")", "[2, 3]");
	bad(g, node(g, OP_ADD, "bad1", e1, e2), "node ", "[4, 3]", NULL);
	int i1 = in(g, "i1", DT_I32, "[2, 3]");
	bad(g, node(g, OP_MUL, "bad2", e1, i1), "node ", "(mul \"bad2\")", "i32");
	int nb = node(g, OP_SUB, "bad3", n3, in(g, "w5", DT_F32, "[N, 4]"));
	char prefix[64];
	snprintf(prefix, sizeof prefix, "node %d (sub \"bad3\"): ", nb);
	bad(g, nb, prefix, "[N, 3]", "[N, 4]");
	ir_graph_free(g);
}

static void test_ir_broadcast(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	Shape a = S(g, "[8, 1, 6, 1]"), b = S(g, "[7, 1, 5]"), r;
	char buf[128];
	assert_int_equal(ir_broadcast(&a, &b, &r), 0);
	assert_string_equal(ir_shape_str(g, &r, buf, sizeof buf), "[8, 7, 6, 5]");
	Shape c = S(g, "[3]"), e = S(g, "[4]");
	assert_int_equal(ir_broadcast(&c, &e, &r), -1);
	Shape n = S(g, "[N, 1]"), m = S(g, "[1, N]");
	assert_int_equal(ir_broadcast(&n, &m, &r), 0);
	assert_string_equal(ir_shape_str(g, &r, buf, sizeof buf), "[N, N]");
	Shape z = S(g, "[0]"), one = S(g, "[1]");
	assert_int_equal(ir_broadcast(&z, &one, &r), 0);
	assert_string_equal(ir_shape_str(g, &r, buf, sizeof buf), "[0]");
	assert_int_equal(ir_broadcast(&z, &c, &r), -1);
	ir_graph_free(g);
}

static void test_matmul(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a23 = in(g, "a23", DT_F32, "[2, 3]"), b34 = in(g, "b34", DT_F32, "[3, 4]");
	int v3 = in(g, "v3", DT_F32, "[3]");
	ok(g, node(g, OP_MATMUL, "mm", a23, b34), DT_F32, "[2, 4]");
	ok(g, node(g, OP_MATMUL, "mm", v3, b34), DT_F32, "[4]");
	ok(g, node(g, OP_MATMUL, "mm", a23, v3), DT_F32, "[2]");
	ok(g, node(g, OP_MATMUL, "mm", v3, v3), DT_F32, "[]");
	int ba = in(g, "ba", DT_F32, "[5, 1, 2, 3]"), bb = in(g, "bb", DT_F32, "[4, 3, 6]");
	ok(g, node(g, OP_MATMUL, "mm", ba, bb), DT_F32, "[5, 4, 2, 6]");
	int na = in(g, "na", DT_F32, "[N, 2, 3]");
	ok(g, node(g, OP_MATMUL, "mm", na, b34), DT_F32, "[N, 2, 4]");
	ok(g, node(g, OP_MATMUL, "mm", na, in(g, "nb", DT_F32, "[N, 3, K]")), DT_F32, "[N, 2, K]");
	/* trans_a / trans_b swap the last two dims before multiplying */
	int a32 = in(g, "a32", DT_F32, "[3, 2]"), b43 = in(g, "b43", DT_F32, "[4, 3]");
	int t = node(g, OP_MATMUL, "ta", a32, b34);
	ir_set_int(g, t, "trans_a", 1);
	ok(g, t, DT_F32, "[2, 4]");
	t = node(g, OP_MATMUL, "tb", a23, b43);
	ir_set_int(g, t, "trans_b", 1);
	ok(g, t, DT_F32, "[2, 4]");
	t = node(g, OP_MATMUL, "tab", a32, b43);
	ir_set_int(g, t, "trans_a", 1);
	ir_set_int(g, t, "trans_b", 1);
	ok(g, t, DT_F32, "[2, 4]");
	ok(g, node(g, OP_MATMUL, "u", in(g, "u", DT_F32, "*"), b34), DT_F32, "[*]");
	/* errors */
	bad(g, node(g, OP_MATMUL, "k", a23, a23), "node ", "(matmul \"k\")", "[2, 3]");
	bad(g, node(g, OP_MATMUL, "bt", ba, in(g, "bc", DT_F32, "[4, 3, 3, 6]")), "node ",
		"batch", NULL);
	bad(g, node(g, OP_MATMUL, "dt", a23, in(g, "d34", DT_F64, "[3, 4]")), "node ", "f64", NULL);
	bad(g, node(g, OP_MATMUL, "sc", in(g, "sc", DT_F32, "[]"), b34), "node ", "rank", NULL);
	ir_graph_free(g);
}

static int conv(Graph *g, const char *name, int x, int w, int b)
{
	int ins[3] = {x, w, b};
	return ir_add_node(g, OP_CONV, name, ins, b >= 0 ? 3 : 2, 1, NULL);
}

static void test_conv(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_F32, "[1, 3, 8, 8]"), w = in(g, "w", DT_F32, "[6, 3, 3, 3]");
	ok(g, conv(g, "c0", x, w, -1), DT_F32, "[1, 6, 6, 6]");
	int c = conv(g, "c1", x, w, in(g, "b", DT_F32, "[6]"));
	ir_set_ints(g, c, "strides", (int64_t[]){2, 2}, 2);
	ir_set_ints(g, c, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	ok(g, c, DT_F32, "[1, 6, 4, 4]"); /* floor((8+2-3)/2)+1 = 4 */
	c = conv(g, "c2", x, w, -1);
	ir_set_ints(g, c, "dilations", (int64_t[]){2, 1}, 2);
	ir_set_ints(g, c, "pads", (int64_t[]){0, 0, 1, 2}, 4);
	ok(g, c, DT_F32, "[1, 6, 5, 8]"); /* (8+1-5)/1+1 = 5; (8+2-3)+1 = 8 */
	int xg = in(g, "xg", DT_F32, "[N, 4, 5, 7]"), wg = in(g, "wg", DT_F32, "[8, 2, 3, 3]");
	c = conv(g, "grp", xg, wg, -1);
	ir_set_int(g, c, "group", 2);
	ok(g, c, DT_F32, "[N, 8, 3, 5]");
	int xc = in(g, "xc", DT_F32, "[1, C, 8, 8]");
	ok(g, conv(g, "symc", xc, w, -1), DT_F32, "[1, 6, 6, 6]");
	ok(g, conv(g, "unk", in(g, "xu", DT_F32, "*"), w, -1), DT_F32, "[*]");

	/* errors */
	int x3 = in(g, "x3", DT_F32, "[1, 3, 8]");
	int e = conv(g, "c1d", x3, w, -1);
	char want[96];
	snprintf(want, sizeof want, "node %d (conv \"c1d\"): weight [6, 3, 3, 3] must have the input's rank 3", e);
	bad(g, e, want, NULL, NULL);
	bad(g, conv(g, "c4d", in(g, "x6", DT_F32, "[1, 3, 4, 4, 4, 4]"), in(g, "w6", DT_F32, "[2, 3, 1, 1, 1, 1]"), -1),
		"node ", "rank 3, 4 or 5", NULL);
	/* 1-D and 3-D windows */
	ok(g, conv(g, "c1", x3, in(g, "w1", DT_F32, "[5, 3, 3]"), -1), DT_F32, "[1, 5, 6]");
	c = conv(g, "c3", in(g, "x5d", DT_F32, "[2, 3, 6, 7, 8]"), in(g, "w3", DT_F32, "[4, 3, 3, 2, 1]"), -1);
	ir_set_ints(g, c, "pads", (int64_t[]){1, 0, 0, 1, 0, 0}, 6);
	ir_set_ints(g, c, "strides", (int64_t[]){2, 1, 3}, 3);
	ok(g, c, DT_F32, "[2, 4, 3, 6, 3]"); /* (6+2-3)/2+1 = 3; 7-2+1 = 6; (8-1)/3+1 = 3 */
	bad(g, conv(g, "ch", in(g, "x4", DT_F32, "[1, 4, 8, 8]"), w, -1), "node ", "(conv \"ch\")",
		"[6, 3, 3, 3]");
	c = conv(g, "kg", xg, in(g, "w7", DT_F32, "[7, 2, 3, 3]"), -1);
	ir_set_int(g, c, "group", 2);
	bad(g, c, "node ", "group", NULL);
	bad(g, conv(g, "hs", in(g, "xh", DT_F32, "[1, 3, H, 8]"), w, -1), "node ", "--shape", NULL);
	bad(g, conv(g, "bias", x, w, in(g, "b5", DT_F32, "[5]")), "node ", "bias", NULL);
	bad(g, conv(g, "big", in(g, "xs", DT_F32, "[1, 3, 2, 2]"), w, -1), "node ", "fit", NULL);
	c = conv(g, "st", x, w, -1);
	ir_set_ints(g, c, "strides", (int64_t[]){0, 1}, 2);
	bad(g, c, "node ", "strides", NULL);
	c = conv(g, "pd", x, w, -1);
	ir_set_ints(g, c, "pads", (int64_t[]){1, 1}, 2);
	bad(g, c, "node ", "pads", NULL);
	ir_graph_free(g);
}

static int pool(Graph *g, Op op, int x, int k, int s, int p, int ceil)
{
	int n = node(g, op, "p", x, -1);
	ir_set_ints(g, n, "kernel", (int64_t[]){k, k}, 2);
	if (s)
		ir_set_ints(g, n, "strides", (int64_t[]){s, s}, 2);
	if (p)
		ir_set_ints(g, n, "pads", (int64_t[]){p, p, p, p}, 4);
	if (ceil)
		ir_set_int(g, n, "ceil_mode", 1);
	return n;
}

static void test_pool(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x5 = in(g, "x5", DT_F32, "[N, C, 5, 5]"), x6 = in(g, "x6", DT_F32, "[1, 2, 6, 6]");
	ok(g, pool(g, OP_MAXPOOL, x5, 2, 2, 0, 0), DT_F32, "[N, C, 2, 2]");
	ok(g, pool(g, OP_MAXPOOL, x5, 2, 2, 0, 1), DT_F32, "[N, C, 3, 3]");
	ok(g, pool(g, OP_AVGPOOL, x6, 3, 2, 0, 0), DT_F32, "[1, 2, 2, 2]");
	ok(g, pool(g, OP_AVGPOOL, x6, 3, 2, 0, 1), DT_F32, "[1, 2, 3, 3]");
	/* PyTorch's rule: ceil gives 4 windows, but the last would start in
	 * the bottom padding (3*2 >= 5+1), so it is dropped: 3. */
	ok(g, pool(g, OP_MAXPOOL, x5, 2, 2, 1, 1), DT_F32, "[N, C, 3, 3]");
	ok(g, pool(g, OP_MAXPOOL, x5, 3, 1, 1, 0), DT_F32, "[N, C, 5, 5]");
	int d = pool(g, OP_MAXPOOL, x6, 2, 1, 0, 0);
	ir_set_ints(g, d, "dilations", (int64_t[]){2, 3}, 2);
	ok(g, d, DT_F32, "[1, 2, 4, 3]");
	ok(g, pool(g, OP_MAXPOOL, in(g, "u", DT_F32, "*"), 2, 2, 0, 0), DT_F32, "[*]");
	/* errors */
	bad(g, node(g, OP_MAXPOOL, "nok", x5, -1), "node ", "(maxpool \"nok\")", "kernel");
	bad(g, pool(g, OP_AVGPOOL, in(g, "x3", DT_F32, "[1, 2, 5]"), 2, 2, 0, 0), "node ",
		"kernel must have 1 entries", NULL);
	bad(g, pool(g, OP_AVGPOOL, in(g, "x7", DT_F32, "[1, 2, 5, 5, 5, 5]"), 2, 2, 0, 0), "node ",
		"rank 3, 4 or 5", NULL);
	int p1 = node(g, OP_MAXPOOL, "p1", in(g, "x1d", DT_F32, "[2, 3, 9]"), -1);
	ir_set_ints(g, p1, "kernel", (int64_t[]){3}, 1);
	ir_set_ints(g, p1, "strides", (int64_t[]){2}, 1);
	ok(g, p1, DT_F32, "[2, 3, 4]");
	int p3 = node(g, OP_AVGPOOL, "p3", in(g, "x3d", DT_F32, "[1, 2, 4, 5, 6]"), -1);
	ir_set_ints(g, p3, "kernel", (int64_t[]){2, 2, 2}, 3);
	ir_set_ints(g, p3, "dilations", (int64_t[]){1, 2, 3}, 3);
	ok(g, p3, DT_F32, "[1, 2, 3, 3, 3]");
	bad(g, pool(g, OP_AVGPOOL, in(g, "xh", DT_F32, "[1, 2, H, W]"), 2, 2, 0, 0), "node ",
		"--shape", NULL);
	bad(g, pool(g, OP_MAXPOOL, in(g, "x1", DT_F32, "[1, 2, 1, 1]"), 2, 2, 0, 0), "node ",
		"fit", NULL);
	ir_graph_free(g);
}

static int red(Graph *g, Op op, int x, const int64_t *axes, int n, int keep)
{
	int r = node(g, op, "r", x, -1);
	if (axes)
		ir_set_ints(g, r, "axes", axes, n);
	if (keep >= 0)
		ir_set_int(g, r, "keepdims", keep);
	return r;
}

static void test_reduce(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_F32, "[2, N, 4]");
	ok(g, red(g, OP_REDUCE_SUM, x, (int64_t[]){1}, 1, -1), DT_F32, "[2, 1, 4]");
	ok(g, red(g, OP_REDUCE_MEAN, x, (int64_t[]){-1, 0}, 2, 0), DT_F32, "[N]");
	ok(g, red(g, OP_REDUCE_MAX, x, NULL, 0, -1), DT_F32, "[1, 1, 1]");
	ok(g, red(g, OP_REDUCE_MAX, x, NULL, 0, 0), DT_F32, "[]");
	ok(g, red(g, OP_REDUCE_SUM, in(g, "i", DT_I64, "[3]"), (int64_t[]){0}, 1, 0), DT_I64, "[]");
	ok(g, red(g, OP_REDUCE_SUM, in(g, "u", DT_F32, "*"), (int64_t[]){0}, 1, 0), DT_F32, "[*]");
	bad(g, red(g, OP_REDUCE_SUM, x, (int64_t[]){1, -2}, 2, 1), "node ", "(reduce_sum \"r\")",
		"twice");
	bad(g, red(g, OP_REDUCE_MAX, x, (int64_t[]){3}, 1, 1), "node ", "out of range", NULL);
	bad(g, red(g, OP_REDUCE_MAX, x, (int64_t[]){-4}, 1, 1), "node ", "out of range", NULL);
	ir_graph_free(g);
}

static void test_same(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_F32, "[N, 3, 4]");
	ok(g, node(g, OP_SOFTMAX, "sm", x, -1), DT_F32, "[N, 3, 4]");
	int s = node(g, OP_LOGSOFTMAX, "ls", x, -1);
	ir_set_int(g, s, "axis", -3);
	ok(g, s, DT_F32, "[N, 3, 4]");
	ok(g, node(g, OP_IDENTITY, "id", x, -1), DT_F32, "[N, 3, 4]");
	s = node(g, OP_SOFTMAX, "sm3", x, -1);
	ir_set_int(g, s, "axis", 3);
	bad(g, s, "node ", "(softmax \"sm3\")", "axis 3");
	int c3 = in(g, "c3", DT_F32, "[3]"), c4 = in(g, "c4", DT_F32, "[4]");
	int bi[5] = {x, c3, c3, c3, c3};
	ok(g, ir_add_node(g, OP_BATCHNORM, "bn", bi, 5, 1, NULL), DT_F32, "[N, 3, 4]");
	int bb[5] = {x, c3, c3, c4, c3};
	bad(g, ir_add_node(g, OP_BATCHNORM, "bn2", bb, 5, 1, NULL), "node ", "(batchnorm \"bn2\")",
		"input 3");
	int bd[5] = {x, c3, in(g, "d3", DT_F64, "[3]"), c3, c3};
	bad(g, ir_add_node(g, OP_BATCHNORM, "bn3", bd, 5, 1, NULL), "node ", "f64", NULL);
	int b1[5] = {c3, c3, c3, c3, c3};
	bad(g, ir_add_node(g, OP_BATCHNORM, "bn4", b1, 5, 1, NULL), "node ", "rank >= 2", NULL);
	ir_graph_free(g);
}

static void test_pad(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_I32, "[N, 3]"), y = in(g, "y", DT_U8, "[2, 3]");
	int p = node(g, OP_PAD, "p", x, -1);
	ir_set_ints(g, p, "pads", (int64_t[]){0, 1, 0, 2}, 4);
	ok(g, p, DT_I32, "[N, 6]");
	p = node(g, OP_PAD, "p", y, -1);
	ir_set_ints(g, p, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	ok(g, p, DT_U8, "[4, 5]");
	p = node(g, OP_PAD, "p", x, -1);
	ir_set_ints(g, p, "pads", (int64_t[]){1, 0, 0, 0}, 4);
	ok(g, p, DT_I32, "[?, 3]");
	p = node(g, OP_PAD, "neg", y, -1);
	ir_set_ints(g, p, "pads", (int64_t[]){0, -1, 0, 0}, 4);
	bad(g, p, "node ", "(pad \"neg\")", "non-negative");
	p = node(g, OP_PAD, "cnt", y, -1);
	ir_set_ints(g, p, "pads", (int64_t[]){0, 1}, 2);
	bad(g, p, "node ", "4 entries", NULL);
	ir_graph_free(g);
}

static void test_transpose(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_BOOL, "[2, N, 4]");
	ok(g, node(g, OP_TRANSPOSE, "t", x, -1), DT_BOOL, "[4, N, 2]");
	int t = node(g, OP_TRANSPOSE, "t", x, -1);
	ir_set_ints(g, t, "perm", (int64_t[]){1, 2, 0}, 3);
	ok(g, t, DT_BOOL, "[N, 4, 2]");
	t = node(g, OP_TRANSPOSE, "dup", x, -1);
	ir_set_ints(g, t, "perm", (int64_t[]){0, 0, 1}, 3);
	bad(g, t, "node ", "(transpose \"dup\")", "permutation");
	t = node(g, OP_TRANSPOSE, "len", x, -1);
	ir_set_ints(g, t, "perm", (int64_t[]){1, 0}, 2);
	bad(g, t, "node ", "rank 3", NULL);
	t = node(g, OP_TRANSPOSE, "rng", x, -1);
	ir_set_ints(g, t, "perm", (int64_t[]){0, 1, 3}, 3);
	bad(g, t, "node ", "permutation", NULL);
	ir_graph_free(g);
}

static int cat(Graph *g, const char *name, const int *ins, int n, int axis)
{
	int c = ir_add_node(g, OP_CONCAT, name, ins, n, 1, NULL);
	ir_set_int(g, c, "axis", axis);
	return c;
}

static void test_concat(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a = in(g, "a", DT_F32, "[2, 3]"), b = in(g, "b", DT_F32, "[2, 5]");
	int c = in(g, "c", DT_F32, "[4, 3]");
	ok(g, cat(g, "c1", (int[]){a, b, a}, 3, 1), DT_F32, "[2, 11]");
	ok(g, cat(g, "c2", (int[]){a, c}, 2, -2), DT_F32, "[6, 3]");
	ok(g, cat(g, "c3", (int[]){a}, 1, 0), DT_F32, "[2, 3]");
	int n3 = in(g, "n3", DT_F32, "[N, 3]"), n5 = in(g, "n5", DT_F32, "[N, 5]");
	int m3 = in(g, "m3", DT_F32, "[M, 3]"), q3 = in(g, "q3", DT_F32, "[?, 3]");
	ok(g, cat(g, "c4", (int[]){n3, n5}, 2, 1), DT_F32, "[N, 8]");
	ok(g, cat(g, "c5", (int[]){n3, m3}, 2, 0), DT_F32, "[?, 3]");
	ok(g, cat(g, "c6", (int[]){q3, a}, 2, 1), DT_F32, "[2, 6]"); /* ? merged with 2 */
	ok(g, cat(g, "c7", (int[]){q3, n3}, 2, 1), DT_F32, "[N, 6]");
	ok(g, cat(g, "c8", (int[]){a, in(g, "u", DT_F32, "*")}, 2, 0), DT_F32, "[*]");
	/* errors */
	bad(g, cat(g, "e1", (int[]){a, c}, 2, 1), "node ", "(concat \"e1\")", "[4, 3]");
	bad(g, cat(g, "e2", (int[]){a, in(g, "r3", DT_F32, "[2, 3, 1]")}, 2, 0), "node ", "rank",
		NULL);
	bad(g, cat(g, "e3", (int[]){a, in(g, "i3", DT_I32, "[2, 3]")}, 2, 0), "node ", "i32", NULL);
	bad(g, cat(g, "e4", (int[]){a, b}, 2, 2), "node ", "axis 2", NULL);
	ir_graph_free(g);
}

static int rs(Graph *g, const char *name, int x, const int64_t *shape, int n)
{
	int r = node(g, OP_RESHAPE, name, x, -1);
	ir_set_ints(g, r, "shape", shape, n);
	return r;
}

static void test_reshape(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_F32, "[2, 3, 4]"), v = in(g, "v", DT_I8, "[6]");
	ok(g, rs(g, "r", x, (int64_t[]){0, -1}, 2), DT_F32, "[2, 12]");
	ok(g, rs(g, "r", x, (int64_t[]){4, 0, 2}, 3), DT_F32, "[4, 3, 2]");
	ok(g, rs(g, "r", v, (int64_t[]){2, -1}, 2), DT_I8, "[2, 3]");
	ok(g, rs(g, "r", x, (int64_t[]){24}, 1), DT_F32, "[24]");
	ok(g, rs(g, "r", in(g, "s", DT_F32, "[1]"), (int64_t[]){0}, 0), DT_F32, "[]");
	int n = in(g, "n", DT_F32, "[N, 3, 4]");
	ok(g, rs(g, "r", n, (int64_t[]){0, 12}, 2), DT_F32, "[N, 12]");
	ok(g, rs(g, "r", n, (int64_t[]){0, -1}, 2), DT_F32, "[N, 12]");
	ok(g, rs(g, "r", n, (int64_t[]){-1, 12}, 2), DT_F32, "[N, 12]"); /* lone symbol */
	ok(g, rs(g, "r", n, (int64_t[]){-1, 6}, 2), DT_F32, "[?, 6]");
	ok(g, rs(g, "r", in(g, "nm", DT_F32, "[N, M]"), (int64_t[]){-1}, 1), DT_F32, "[?]");
	ok(g, rs(g, "r", in(g, "u", DT_F32, "*"), (int64_t[]){3, 2}, 2), DT_F32, "[3, 2]");
	ok(g, rs(g, "r", in(g, "u2", DT_F32, "*"), (int64_t[]){-1, 2}, 2), DT_F32, "[*]");
	/* errors */
	bad(g, rs(g, "cnt", x, (int64_t[]){5, 5}, 2), "node ", "(reshape \"cnt\")", "[2, 3, 4]");
	bad(g, rs(g, "cnt", x, (int64_t[]){5, 5}, 2), "node ", "[5, 5]", NULL);
	bad(g, rs(g, "two", x, (int64_t[]){-1, -1}, 2), "node ", "-1", NULL);
	bad(g, rs(g, "div", x, (int64_t[]){-1, 5}, 2), "node ", "cannot reshape", NULL);
	bad(g, rs(g, "zero", v, (int64_t[]){0, 0, 6}, 3), "node ", "no dim 1", NULL);
	bad(g, rs(g, "neg", v, (int64_t[]){-2, 3}, 2), "node ", "invalid", NULL);
	ir_graph_free(g);
}

static int fl(Graph *g, int x, int axis, bool set)
{
	int f = node(g, OP_FLATTEN, "f", x, -1);
	if (set)
		ir_set_int(g, f, "axis", axis);
	return f;
}

static void test_flatten(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_F32, "[2, 3, 4]");
	ok(g, fl(g, x, 0, false), DT_F32, "[2, 12]");
	ok(g, fl(g, x, 0, true), DT_F32, "[1, 24]");
	ok(g, fl(g, x, -1, true), DT_F32, "[6, 4]");
	ok(g, fl(g, x, 3, true), DT_F32, "[24, 1]");
	ok(g, fl(g, in(g, "n", DT_F32, "[N, 3, 4]"), 0, false), DT_F32, "[N, 12]");
	ok(g, fl(g, in(g, "m", DT_F32, "[2, N, 4]"), 0, false), DT_F32, "[2, ?]");
	ok(g, fl(g, in(g, "z", DT_F32, "[N, 0, 4]"), 2, true), DT_F32, "[0, 4]");
	bad(g, fl(g, x, 4, true), "node ", "(flatten \"f\")", "axis 4");
	bad(g, fl(g, x, -4, true), "node ", "out of range", NULL);
	ir_graph_free(g);
}

/* The driver: infers a chain in order, skips dead nodes, checks arity. */
static void test_infer_chain(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = in(g, "x", DT_F32, "[N, 1, 28, 28]");
	int64_t wd[] = {6, 1, 5, 5};
	int w = ir_add_const(g, "w", DT_F32, ir_shape_make(4, wd), NULL, 600 * 4, true);
	int c = conv(g, "c", x, w, -1);
	ir_set_ints(g, c, "pads", (int64_t[]){2, 2, 2, 2}, 4);
	int r = node(g, OP_RELU, "r", ir_out(g, c, 0), -1);
	int p = pool(g, OP_MAXPOOL, ir_out(g, r, 0), 2, 2, 0, 0);
	int f = node(g, OP_FLATTEN, "f", ir_out(g, p, 0), -1);
	int dead = node(g, OP_ADD, "dead", x, ir_out(g, f, 0)); /* would not broadcast */
	g->node[dead].dead = true;
	Diag d;
	diag_init(&d);
	for (int i = 0; i < g->nnode; i++)
		assert_int_equal(ir_infer_node(g, i, &d), 0);
	char buf[64];
	assert_string_equal(ir_shape_str(g, &g->val[ir_out(g, f, 0)].shape, buf, sizeof buf),
		"[N, 1176]");
	assert_int_equal(g->val[ir_out(g, dead, 0)].shape.rank, -1);
	/* wrong arity is reported, not a crash */
	int one = ir_add_node(g, OP_ADD, "one", &x, 1, 1, NULL);
	bad(g, one, "node ", "(add \"one\")", "inputs");
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broadcast),
		cmocka_unit_test(test_ir_broadcast),
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_transpose),
		cmocka_unit_test(test_concat),
		cmocka_unit_test(test_reshape),
		cmocka_unit_test(test_flatten),
		cmocka_unit_test(test_infer_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
