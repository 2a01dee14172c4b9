/* loss.c — training losses appended to a model graph, written in forward
 * ops so autodiff differentiates them like the model itself. Each is the
 * mean over the batch (and any spatial dims), as PyTorch's defaults:
 *   mse            mean((out - label)^2), label of out's shape and dtype
 *   cross_entropy  -mean(sum_c onehot(label) * log_softmax(out, axis 1)),
 *                  out [N, C, d...] logits, label i64 [N, d...]
 *   nll            the same with out already log-probabilities
 *   bce_logits     mean(relu(x) - x*y + log(1 + exp(-|x|))), the stable
 *                  form of binary cross-entropy on logits x, targets y
 *   backprop       sum(out * label): its gradient w.r.t. out is the label,
 *                  so a step trains the model through a gradient computed
 *                  elsewhere (a GAN's generator, label = grad.image of the
 *                  discriminator's step); not a mean
 * The label becomes a new graph input named "label" (made unique). */
#include "passes.h"

#include <string.h>

typedef struct L {
	Graph *g; /* graph */
	Diag *d;  /* errors */
	int fail; /* a shape rule failed */
} L;

static int op(L *l, Op o, int a, int b)
{
	if (l->fail)
		return a;
	int in[2] = {a, b};
	int n = ir_add_node(l->g, o, "loss", in, b >= 0 ? 2 : 1, 1,
		(const char *const[]){arena_printf(&l->g->arena, "loss/%s", ir_ops[o].name)});
	if (ir_infer_node(l->g, n, l->d) < 0) {
		l->fail = 1;
		return a;
	}
	return ir_out(l->g, n, 0);
}

static int scalar(L *l, DType t, double v)
{
	char buf[16] = {0};
	ir_elem_put(t, buf, v);
	return ir_add_const(l->g, "loss.c", t, ir_shape_make(0, NULL), buf, ir_dtype_size(t), false);
}

/* reduce over every axis to a rank-0 value */
static int total(L *l, Op o, int x)
{
	if (l->fail)
		return x;
	int n = ir_add_node(l->g, o, "loss", (int[]){x}, 1, 1,
		(const char *const[]){arena_printf(&l->g->arena, "loss/%s", ir_ops[o].name)});
	ir_set_int(l->g, n, "keepdims", 0);
	if (ir_infer_node(l->g, n, l->d) < 0) {
		l->fail = 1;
		return x;
	}
	return ir_out(l->g, n, 0);
}

/* -sum(onehot(label) * logp) / (numel(logp) / C) */
static int nll(L *l, int logp, int label)
{
	const Value *v = &l->g->val[logp];
	int64_t c = v->shape.d[1].n, numel = ir_shape_numel(&v->shape);
	DType t = v->dtype;
	int hot = ir_one_hot(l->g, "loss/onehot", label, c, 1, t, l->d);
	if (hot < 0)
		return -1;
	int s = total(l, OP_REDUCE_SUM, op(l, OP_MUL, hot, logp));
	return op(l, OP_MUL, s, scalar(l, t, -(double)c / (double)numel));
}

int ps_add_loss(Graph *g, const char *kind, int out, Diag *d)
{
	L l = {g, d, 0};
	const Value *o = &g->val[out];
	Shape s = o->shape;
	DType t = o->dtype;
	char sb[128];
	if (!ir_dtype_is_float(t) || !ir_shape_static(&s))
		return diag(d, "loss %s: the output %%%s must be a float tensor of static shape (is %s %s; "
			"bind the batch size with --shape)", kind, o->name, ir_dtype_name(t),
			ir_shape_str(g, &s, sb, sizeof sb));
	const char *lname = ir_unique_name(g, "label");
	int loss;
	if (strcmp(kind, "mse") == 0 || strcmp(kind, "bce_logits") == 0) {
		int y = ir_add_input(g, lname, t, s);
		if (kind[0] == 'm') {
			int e = op(&l, OP_SUB, out, y);
			loss = total(&l, OP_REDUCE_MEAN, op(&l, OP_MUL, e, e));
		} else {
			int x = out;
			int soft = op(&l, OP_LOG, op(&l, OP_ADD, scalar(&l, t, 1),
				op(&l, OP_EXP, op(&l, OP_NEG, op(&l, OP_ABS, x, -1), -1), -1)), -1);
			int e = op(&l, OP_ADD, op(&l, OP_SUB, op(&l, OP_RELU, x, -1), op(&l, OP_MUL, x, y)), soft);
			loss = total(&l, OP_REDUCE_MEAN, e);
		}
	} else if (strcmp(kind, "cross_entropy") == 0 || strcmp(kind, "nll") == 0) {
		if (s.rank < 2 || s.d[1].n < 1)
			return diag(d, "loss %s: the output %%%s must be [N, C, ...] class scores (is %s)", kind,
				o->name, ir_shape_str(g, &s, sb, sizeof sb));
		Shape ls = s;
		ls.rank = s.rank - 1;
		ls.d[0] = s.d[0];
		for (int i = 1; i < ls.rank; i++)
			ls.d[i] = s.d[i + 1];
		int y = ir_add_input(g, lname, DT_I64, ls);
		int logp = out;
		if (kind[0] == 'c') {
			int n = ir_add_node(g, OP_LOGSOFTMAX, "loss", (int[]){out}, 1, 1,
				(const char *const[]){"loss/log_softmax"});
			ir_set_int(g, n, "axis", 1);
			if (ir_infer_node(g, n, d) < 0)
				return -1;
			logp = ir_out(g, n, 0);
		}
		loss = nll(&l, logp, y);
		if (loss < 0)
			return -1;
	} else if (strcmp(kind, "backprop") == 0) {
		int y = ir_add_input(g, lname, t, s);
		loss = total(&l, OP_REDUCE_SUM, op(&l, OP_MUL, out, y));
	} else {
		return diag(d, "unknown loss '%s' (known: mse, cross_entropy, bce_logits, nll, backprop)",
			    kind);
	}
	if (l.fail)
		return diag(d, "loss %s: internal error building the loss", kind);
	/* the result is named "loss" (an f32 cast, or an identity if it is one) */
	int n = ir_add_node(g, g->val[loss].dtype != DT_F32 ? OP_CAST : OP_IDENTITY, "loss",
		(int[]){loss}, 1, 1, (const char *const[]){"loss"});
	if (g->node[n].op == OP_CAST)
		ir_set_string(g, n, "to", "f32");
	if (ir_infer_node(g, n, d) < 0)
		return -1;
	return ir_out(g, n, 0);
}
