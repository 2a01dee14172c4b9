/* train_bn.c — batch normalization under --train (docs/training.md, "Batch
 * normalization"): the statistics a training step keeps but does not train.
 *
 * ps_train_buffers runs in ps_train before the trained parameters are
 * chosen. Each live buffer_update(%stat, %new) (the importer writes one per
 * running statistic of a training-mode BatchNormalization, frontend/
 * onnx_bn.c) becomes assign(%stat, %new) with %stat training state of
 * role buffer: it is updated every step, saved and loaded with the weights
 * under its ONNX name, and gets no gradient and no optimizer state. An
 * update whose target is not a constant with data (a graph input) is
 * dropped: there is nothing to keep between steps.
 *
 * It also marks, in fixed[], the running mean and variance that
 * inference-mode batchnorm nodes read (a model exported in eval mode):
 * they stay constants, never trained, so such a layer trains as a frozen
 * BatchNorm does in PyTorch (scale and bias learn, the statistics do not
 * move). */
#include "passes.h"
#include "../ir/shape.h" /* ir_node_err */

int ps_train_buffers(Graph *g, bool *fixed, Diag *d)
{
	for (int i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		if (n->op == OP_BATCHNORM && n->nin == 5) {
			for (int k = 3; k < 5; k++)
				if (n->in[k] >= 0)
					fixed[n->in[k]] = true;
			continue;
		}
		if (n->op != OP_BUFFER_UPDATE)
			continue;
		Value *s = &g->val[n->in[0]];
		if (s->kind != VK_CONST || !s->data) {
			n->dead = true;
			continue;
		}
		if (s->state)
			return ir_node_err(g, i, d, "updates %%%s, which another node already updates",
				s->name);
		s->state = IR_STATE_BUFFER;
		fixed[n->in[0]] = true;
		n->op = OP_ASSIGN;
	}
	return 0;
}
