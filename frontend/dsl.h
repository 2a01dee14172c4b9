/* dsl.h — the `.nn` model language frontend (docs/language.md): a model
 * written by hand, with parameter initializers, layer sugar, blocks, and
 * the loss and optimizer ONNX cannot say. It builds the same Graph as
 * fe_onnx_load (shapes inferred, parameters as initializers) and reports
 * errors as `file:line:col: error: ...` with the source line and a caret. */
#ifndef NNCC_DSL_H
#define NNCC_DSL_H

#include <stdbool.h>
#include <stddef.h>

#include "../ir/ir.h"

/* What a model's `loss`, `train` and `augment` statements say, spelled as
 * the matching nncc flags take them; empty strings where the model is
 * silent. The driver uses each one where the command line gives none. */
typedef struct NnClauses {
	char loss[32];       /* --loss: mse, cross_entropy, bce_logits, nll, backprop */
	char label[64];      /* name of the loss's label input (the `label` statement) */
	char add_loss[256];  /* --add-loss: the extra loss terms' outputs, comma-separated */
	char optimizer[256]; /* --optimizer: "adam:lr=0.001,beta1=0.5" */
	char augment[256];   /* --augment: "x:hflip,crop=1" */
} NnClauses;

/* Parses and builds the model in path. train selects training-mode layers
 * (dropout active, batch_norm on batch statistics with running-statistic
 * updates) and makes the loss's model output the first graph output, the
 * extra loss terms further outputs; otherwise the outputs are the `output`
 * statement's. cl (may be NULL) receives the clauses. Returns the graph, or
 * NULL with every error found in d. */
Graph *fe_nn_load(const char *path, bool train, NnClauses *cl, Diag *d);
/* Same from memory (src need not be NUL-terminated); display_name names
 * the file in messages and gives the default model name. */
Graph *fe_nn_load_mem(const char *src, size_t len, const char *display_name, bool train,
		      NnClauses *cl, Diag *d);

#endif
