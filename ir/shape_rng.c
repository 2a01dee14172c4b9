/* shape_rng.c — shape rules of the random ops (docs/ir.md "Randomness"):
 * random_uniform(seed, step) {shape, stream} gives f32 of the static
 * `shape` from two i64 scalars; dropout(x) {ratio} gives x's type and a
 * bool mask of x's shape. */
#include "shape.h"

static int i64_scalar(const ShapeCtx *c, int k, const char *what)
{
	char b[256];
	if (c->idt[k] != DT_UNDEF && c->idt[k] != DT_I64)
		return FAIL(c, "%s must be i64, got %s", what, ir_dtype_name(c->idt[k]));
	if (c->ish[k].rank > 0)
		return FAIL(c, "%s must be a scalar, got shape %s", what, sh_str(c, &c->ish[k], b));
	return 0;
}

int shape_random_uniform_rule(const ShapeCtx *c)
{
	if (i64_scalar(c, 0, "the seed") < 0 || i64_scalar(c, 1, "the step") < 0)
		return -1;
	const int64_t *s;
	int n = ir_attr_ints(c->n, "shape", &s);
	if (n < 0 || n > IR_MAX_RANK)
		return FAIL(c, "shape must list 0 to %d dims", IR_MAX_RANK);
	int64_t stream = ir_attr_int(c->n, "stream", 0);
	if (stream < 0 || stream > (int64_t)UINT32_MAX)
		return FAIL(c, "stream %lld is not in [0, 2^32)", (long long)stream);
	int64_t numel = 1;
	for (int i = 0; i < n; i++) {
		if (s[i] < 0)
			return FAIL(c, "shape has a negative dim %lld", (long long)s[i]);
		if (s[i] && numel > ((int64_t)1 << IR_RANDOM_MAX_LOG2) / s[i])
			return FAIL(c, "more than 2^%d elements", IR_RANDOM_MAX_LOG2);
		numel *= s[i];
	}
	if (numel > ((int64_t)1 << IR_RANDOM_MAX_LOG2))
		return FAIL(c, "more than 2^%d elements", IR_RANDOM_MAX_LOG2);
	c->odt[0] = DT_F32;
	c->osh[0] = ir_shape_make(n, s);
	return 0;
}

int shape_dropout_rule(const ShapeCtx *c)
{
	double r = ir_attr_float(c->n, "ratio", 0.5);
	if (!(r >= 0 && r < 1))
		return FAIL(c, "ratio %g is not in [0, 1)", r);
	if (c->idt[0] != DT_UNDEF && !ir_dtype_is_float(c->idt[0]))
		return FAIL(c, "x must be a float tensor, got %s", ir_dtype_name(c->idt[0]));
	c->odt[0] = c->idt[0];
	c->osh[0] = c->ish[0];
	c->odt[1] = DT_BOOL;
	c->osh[1] = c->ish[0];
	return 0;
}

int shape_random_uniform(Graph *g, int node, Diag *d);
int shape_random_uniform(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_dropout(Graph *g, int node, Diag *d);
int shape_dropout(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
