/* onnx_build.c — node builders for the handlers' rewrites: one node over
 * given values, bound to an ONNX output slot (-1: an internal value) and
 * shape-inferred at once, or a rank-0 constant. A -1 operand makes a
 * builder return -1, so calls nest without checks in between. */
#include "onnx_impl.h"

int imp_op1(Importer *m, Op op, int x, int slot)
{
	return x < 0 ? -1 : imp_infer(m, imp_node(m, op, &x, 1, slot));
}

int imp_op2(Importer *m, Op op, int a, int b, int slot)
{
	if (a < 0 || b < 0)
		return -1;
	int in[2] = {a, b};
	return imp_infer(m, imp_node(m, op, in, 2, slot));
}

int imp_cast(Importer *m, int x, DType t, int slot)
{
	if (x < 0)
		return -1;
	if (m->g->val[x].dtype == t && slot < 0)
		return x;
	int nd = imp_node(m, OP_CAST, &x, 1, slot);
	ir_set_string(m->g, nd, "to", ir_dtype_name(t));
	return imp_infer(m, nd);
}

int imp_ints_op(Importer *m, Op op, int x, const char *attr, const int64_t *v, int n, int slot)
{
	if (x < 0)
		return -1;
	int nd = imp_node(m, op, &x, 1, slot);
	ir_set_ints(m->g, nd, attr, v, n);
	return imp_infer(m, nd);
}

int imp_scalar(Importer *m, const char *what, DType t, double v)
{
	unsigned char buf[16] = {0};
	ir_elem_put(t, buf, v);
	return imp_const(m, what, t, ir_shape_make(0, NULL), buf, ir_dtype_size(t));
}
