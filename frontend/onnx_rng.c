/* onnx_rng.c — ONNX Dropout with training_mode = true (opset 12+, what
 * torch.onnx.export(..., training=TrainingMode.PRESERVE) writes): an IR
 * dropout node (y and the bool mask), which `nncc --train` turns into a
 * mask drawn from the step's generator and an inference compile into the
 * identity (passes/rng.c, docs/training.md "Randomness"). The ratio must
 * be a constant in [0, 1). */
#include "onnx_impl.h"

int imp_dropout_train(Importer *m)
{
	double ratio = 0.5;
	if (m->nin > 1 && m->in[1] >= 0 && imp_const_scalar(m, 1, "ratio", &ratio) < 0)
		return -1;
	if (!(ratio >= 0 && ratio < 1))
		return imp_err(m, "ratio %g is not in [0, 1)", ratio);
	const char *names[2] = {imp_outname(m, 0, "y"), imp_outname(m, 1, "mask")};
	int nd = ir_add_node(m->g, OP_DROPOUT, m->name, m->in, 1, 2, names);
	ir_set_float(m->g, nd, "ratio", ratio);
	if (imp_infer(m, nd) < 0)
		return -1;
	imp_bind(m, 0, ir_out(m->g, nd, 0));
	imp_bind(m, 1, ir_out(m->g, nd, 1));
	return 0;
}
