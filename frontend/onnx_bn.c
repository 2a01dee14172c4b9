/* onnx_bn.c — the running statistics of training-mode BatchNormalization
 * as `buffer_update` nodes (docs/training.md, "Batch normalization").
 *
 * PyTorch exports a BatchNorm module in train mode (torch.onnx.export with
 * training=TrainingMode.PRESERVE) as BatchNormalization{training_mode=1}
 * whose running mean and variance are initializers and whose outputs 1
 * and 2 (the updated statistics) nothing reads: ONNX has no way to say
 * "store this back". The importer therefore records the update itself:
 * buffer_update(%running, %new) per statistic that is an initializer.
 * Under --train, ps_train makes the initializer training state (role
 * buffer) and the node an assign; otherwise DCE drops it.
 *
 * The update is PyTorch's, which differs from the ONNX spec in one point:
 * the running variance takes the UNBIASED batch variance (times n/(n-1),
 * n the elements per channel), where the spec's output 2 takes the
 * population variance. Outputs 1 and 2, when a graph reads them, stay the
 * spec's (onnx_red.c). */
#include "onnx_impl.h"

/* The product of an i64 vector, as a scalar of dtype t. */
static int prod(Importer *m, int v, DType t)
{
	if (v < 0)
		return -1;
	int nd = imp_node(m, OP_REDUCE_PROD, &v, 1, -1);
	ir_set_int(m->g, nd, "keepdims", 0);
	return imp_cast(m, imp_infer(m, nd), t, -1);
}

/* A scalar of dtype t: with n the elements per channel of x, n / (n - 1). */
static int unbias(Importer *m, int x, DType t)
{
	int all = imp_op1(m, OP_SHAPE, x, -1);
	int nd = imp_node(m, OP_SHAPE, &x, 1, -1);
	ir_set_int(m->g, nd, "start", 1);
	ir_set_int(m->g, nd, "end", 2);
	int ch = imp_infer(m, nd);
	int n = imp_op2(m, OP_DIV, prod(m, all, t), prod(m, ch, t), -1);
	return imp_op2(m, OP_DIV, n, imp_op2(m, OP_SUB, n, imp_scalar(m, "one", t, 1), -1), -1);
}

/* running * mom + flat(batch) * w, then buffer_update(running, that). */
static int update(Importer *m, int running, int batch, double mom, int w)
{
	DType t = m->g->val[running].dtype;
	int64_t flat = -1;
	int b = imp_ints_op(m, OP_RESHAPE, batch, "shape", &flat, 1, -1);
	int nv = imp_op2(m, OP_ADD, imp_op2(m, OP_MUL, running, imp_scalar(m, "momentum", t, mom), -1),
		imp_op2(m, OP_MUL, b, w, -1), -1);
	if (nv < 0)
		return -1;
	int in[2] = {running, nv};
	int nd = ir_add_node(m->g, OP_BUFFER_UPDATE, m->name, in, 2, 0, NULL);
	if (ir_infer_node(m->g, nd, m->d) < 0)
		return imp_err(m, "the running-statistic update is invalid (see above)");
	return 0;
}

int imp_bn_buffer_updates(Importer *m, int x, int mean, int var, double mom)
{
	for (int k = 3; k <= 4; k++) {
		int s = m->in[k];
		const Value *v = s >= 0 ? &m->g->val[s] : NULL;
		if (!v || v->kind != VK_CONST || !v->param || !ir_dtype_is_float(v->dtype))
			continue; /* not a model parameter: nothing to keep */
		DType t = v->dtype;
		int w = imp_scalar(m, "one_minus_momentum", t, 1 - mom);
		if (k == 4)
			w = imp_op2(m, OP_MUL, w, unbias(m, x, t), -1);
		if (update(m, s, k == 3 ? mean : var, mom, w) < 0)
			return -1;
	}
	return 0;
}
