/* onnx_train.c — import of the ai.onnx.preview.training domain's optimizer
 * ops (Adagrad, Momentum, Adam) and Gradient. Each is a pure function of its inputs
 * (learning rate R, update count T, then per tensor X, G and the optimizer
 * state) and becomes a chain of elementwise IR ops per tensor, after the
 * formulas of the ONNX spec. The conditionals on T (Momentum's and Adam's
 * "T > 0") are arithmetic: ind = clip(T, 0, 1), and Adam's bias correction
 * is evaluated at max(T, 1) so that T = 0 never divides by zero. */
#include <math.h>
#include <string.h>

#include "onnx_impl.h"

/* What one import shares. */
typedef struct Tb {
	Importer *m; /* importer */
	DType t;     /* element type of X */
	int rc;      /* -1 once something failed */
} Tb;

static int infer(Tb *b, int nd)
{
	int v = imp_infer(b->m, nd);
	if (v < 0)
		b->rc = -1;
	return v;
}

/* op(x[, y]) written to ONNX output slot (-1: an intermediate). */
static int op(Tb *b, Op o, int x, int y, int slot)
{
	int in[2] = {x, y};
	return infer(b, imp_node(b->m, o, in, y >= 0 ? 2 : 1, slot));
}

static int num(Tb *b, double x)
{
	unsigned char buf[8];
	ir_elem_put(b->t, buf, x);
	return imp_const(b->m, "c", b->t, ir_shape_make(0, NULL), buf, ir_dtype_size(b->t));
}

/* c * x, or x when c is 1. */
static int scale(Tb *b, double c, int x) { return c == 1 ? x : op(b, OP_MUL, num(b, c), x, -1); }

static int to_t(Tb *b, int v)
{
	if (b->m->g->val[v].dtype == b->t)
		return v;
	int nd = imp_node(b->m, OP_CAST, &v, 1, -1);
	ir_set_string(b->m->g, nd, "to", ir_dtype_name(b->t));
	return infer(b, nd);
}

static int clip(Tb *b, int x, double lo, double hi)
{
	int nd = imp_node(b->m, OP_CLIP, &x, 1, -1);
	ir_set_float(b->m->g, nd, "min", lo);
	ir_set_float(b->m->g, nd, "max", hi);
	return infer(b, nd);
}

/* Checks the input count (2 + per * n) and the scalar R and T; sets *n. */
static int setup(Tb *b, int per, int *n)
{
	Importer *m = b->m;
	if ((m->nin - 2) % per != 0 || m->nin < 2 + per)
		return imp_err(m, "expects R, T and %d groups of equally many tensors, got %d inputs",
			per, m->nin);
	*n = (m->nin - 2) / per;
	if (m->nout != (per - 1) * *n)
		return imp_err(m, "expects %d outputs, got %d", (per - 1) * *n, m->nout);
	for (int k = 0; k < m->nin; k++)
		if (m->in[k] < 0)
			return imp_err(m, "input %d is omitted", k);
	const Value *r = &m->g->val[m->in[0]], *t = &m->g->val[m->in[1]];
	b->t = m->g->val[m->in[2]].dtype;
	if (b->t != DT_F32 && b->t != DT_F64)
		return imp_err(m, "tensors of type %s are unsupported (f32, f64)", ir_dtype_name(b->t));
	if (!ir_dtype_is_float(r->dtype) || r->shape.rank > 0 || t->dtype != DT_I64 || t->shape.rank > 0)
		return imp_err(m, "R must be a float scalar and T an int64 scalar");
	return 0;
}

/* g + norm * x */
static int regularized(Tb *b, int x, int g, double norm)
{
	return norm == 0 ? g : op(b, OP_ADD, scale(b, norm, x), g, -1);
}

static int op_adagrad(Importer *m, Op unused)
{
	(void)unused;
	Tb b = {m, DT_UNDEF, 0};
	int n;
	if (setup(&b, 3, &n) < 0)
		return -1;
	double decay = imp_float(m, "decay_factor", 0), eps = imp_float(m, "epsilon", 1e-6);
	double norm = imp_float(m, "norm_coefficient", 0);
	int R = to_t(&b, m->in[0]), T = to_t(&b, m->in[1]);
	int r = op(&b, OP_DIV, R, op(&b, OP_ADD, num(&b, 1), scale(&b, decay, T), -1), -1);
	for (int i = 0; i < n && b.rc == 0; i++) {
		int x = m->in[2 + i], g = m->in[2 + n + i], h = m->in[2 + 2 * n + i];
		int gr = regularized(&b, x, g, norm);
		int h1 = op(&b, OP_ADD, h, op(&b, OP_MUL, gr, gr, -1), n + i);
		int hs = op(&b, OP_ADD, op(&b, OP_SQRT, h1, -1, -1), num(&b, eps), -1);
		op(&b, OP_SUB, x, op(&b, OP_DIV, op(&b, OP_MUL, r, gr, -1), hs, -1), i);
	}
	return b.rc;
}

static int op_momentum(Importer *m, Op unused)
{
	(void)unused;
	Tb b = {m, DT_UNDEF, 0};
	int n;
	if (setup(&b, 3, &n) < 0)
		return -1;
	const char *mode = imp_str(m, "mode", "");
	bool nesterov = strcmp(mode, "nesterov") == 0;
	if (!nesterov && strcmp(mode, "standard") != 0)
		return imp_err(m, "mode \"%s\" is unsupported (standard, nesterov)", mode);
	if (!imp_attr(m, "alpha") || !imp_attr(m, "beta") || !imp_attr(m, "norm_coefficient"))
		return imp_err(m, "alpha, beta and norm_coefficient are required");
	double alpha = imp_float(m, "alpha", 0), beta = imp_float(m, "beta", 0);
	double norm = imp_float(m, "norm_coefficient", 0);
	int R = to_t(&b, m->in[0]), ind = clip(&b, to_t(&b, m->in[1]), 0, 1);
	/* beta where T > 0, else 1 */
	int badj = op(&b, OP_ADD, num(&b, 1), scale(&b, beta - 1, ind), -1);
	for (int i = 0; i < n && b.rc == 0; i++) {
		int x = m->in[2 + i], g = m->in[2 + n + i], v = m->in[2 + 2 * n + i];
		int gr = regularized(&b, x, g, norm);
		int v1 = op(&b, OP_ADD, scale(&b, alpha, v), op(&b, OP_MUL, badj, gr, -1), n + i);
		int step = nesterov ? op(&b, OP_ADD, gr, scale(&b, alpha, v1), -1) : v1;
		op(&b, OP_SUB, x, op(&b, OP_MUL, R, step, -1), i);
	}
	return b.rc;
}

static int op_adam(Importer *m, Op unused)
{
	(void)unused;
	Tb b = {m, DT_UNDEF, 0};
	int n;
	if (setup(&b, 4, &n) < 0)
		return -1;
	double alpha = imp_float(m, "alpha", 0.9), beta = imp_float(m, "beta", 0.999);
	double eps = imp_float(m, "epsilon", 1e-6), norm = imp_float(m, "norm_coefficient", 0);
	double post = imp_float(m, "norm_coefficient_post", 0);
	int R = to_t(&b, m->in[0]), tf = to_t(&b, m->in[1]);
	int ind = clip(&b, tf, 0, 1), tc = clip(&b, tf, 1, INFINITY);
	int one = num(&b, 1);
	/* R * sqrt(1 - beta^T) / (1 - alpha^T) where T > 0, else R */
	int c2 = op(&b, OP_SQRT, op(&b, OP_SUB, one, op(&b, OP_POW, num(&b, beta), tc, -1), -1), -1, -1);
	int c1 = op(&b, OP_SUB, one, op(&b, OP_POW, num(&b, alpha), tc, -1), -1);
	int adj = op(&b, OP_DIV, op(&b, OP_MUL, R, c2, -1), c1, -1);
	int radj = op(&b, OP_ADD, R, op(&b, OP_MUL, ind, op(&b, OP_SUB, adj, R, -1), -1), -1);
	for (int i = 0; i < n && b.rc == 0; i++) {
		int x = m->in[2 + i], g = m->in[2 + n + i], v = m->in[2 + 2 * n + i];
		int h = m->in[2 + 3 * n + i];
		int gr = regularized(&b, x, g, norm);
		int v1 = op(&b, OP_ADD, scale(&b, alpha, v), scale(&b, 1 - alpha, gr), n + i);
		int h1 = op(&b, OP_ADD, scale(&b, beta, h), scale(&b, 1 - beta, op(&b, OP_MUL, gr, gr, -1)),
			2 * n + i);
		int hs = op(&b, OP_ADD, op(&b, OP_SQRT, h1, -1, -1), num(&b, eps), -1);
		int upd = op(&b, OP_MUL, radj, op(&b, OP_DIV, v1, hs, -1), -1);
		if (post == 0) {
			op(&b, OP_SUB, x, upd, i);
		} else {
			int x1 = op(&b, OP_SUB, x, upd, -1);
			op(&b, OP_MUL, num(&b, 1 - post), x1, i);
		}
	}
	return b.rc;
}

/* Gradient(xs..., zs...) {xs, zs, y}: output k is d(y)/d(xs[k]), one
 * `gradient(y, x)` node each, which ps_gradients expands after shape
 * inference. The inputs are the xs then the zs, named as the attributes
 * say; y is any tensor the graph computes before the node. */
static int op_gradient(Importer *m, Op op)
{
	(void)op;
	const Onnx__AttributeProto *xs = imp_attr(m, "xs"), *zs = imp_attr(m, "zs");
	const char *yname = imp_str(m, "y", NULL);
	if (!xs || !xs->n_strings || !yname)
		return imp_err(m, "needs the attributes xs and y");
	size_t nz = zs ? zs->n_strings : 0;
	if ((size_t)m->nin != xs->n_strings + nz)
		return imp_err(m, "has %d inputs; xs and zs name %zu", m->nin, xs->n_strings + nz);
	if ((size_t)m->nout != xs->n_strings)
		return imp_err(m, "has %d outputs; xs names %zu", m->nout, xs->n_strings);
	for (int k = 0; k < m->nin; k++) {
		const ProtobufCBinaryData s = (size_t)k < xs->n_strings ? xs->strings[k] : zs->strings[(size_t)k - xs->n_strings];
		const char *in = m->np->input[k];
		if (strlen(in) != s.len || memcmp(in, s.data, s.len) != 0)
			return imp_err(m, "input %d is '%s' but xs/zs name '%.*s' there", k, in, (int)s.len,
				(const char *)s.data);
	}
	int y = imp_value(m, yname);
	if (y < 0)
		return imp_err(m, "y '%s' is not a tensor computed before the node", yname);
	for (int k = 0; k < (int)xs->n_strings; k++) {
		int in[2] = {y, m->in[k]};
		if (imp_infer(m, imp_node(m, OP_GRADIENT, in, 2, k)) < 0)
			return -1;
	}
	return 0;
}

static const OnnxOp table[] = {
	{"Adagrad", op_adagrad, OP_COUNT, 5, -1, "decay_factor:float epsilon:float norm_coefficient:float"},
	{"Gradient", op_gradient, OP_COUNT, 1, -1, "xs:strings y:string zs:strings"},
	{"Adam", op_adam, OP_COUNT, 6, -1,
		"alpha:float beta:float epsilon:float norm_coefficient:float norm_coefficient_post:float"},
	{"Momentum", op_momentum, OP_COUNT, 5, -1,
		"alpha:float beta:float mode:string norm_coefficient:float"},
};

const OnnxOp *onnx_find_training_op(const char *op_type)
{
	for (size_t i = 0; i < sizeof table / sizeof *table; i++)
		if (strcmp(table[i].op_type, op_type) == 0)
			return &table[i];
	return NULL;
}
