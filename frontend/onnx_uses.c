/* onnx_uses.c — which graph inputs of an ONNX model only decide shapes.
 * Many ONNX ops take axes, target shapes, pads, counts or sizes as inputs
 * (opset 10 onwards moved most of them from attributes to inputs); nncc
 * needs such values at compile time, and `nncc test-onnx` binds a suite
 * test's integer graph input to its data with --const only when the model
 * uses it in nothing but such positions. The table below lists them from
 * the ONNX operator schemas: (op_type, input index) pairs whose value
 * decides an output shape, an axis or a size, never pointwise data. */
#include "frontend.h"
#include "onnx_impl.h"

#include <stdlib.h>
#include <string.h>

/* One op's shape-deciding input positions. */
typedef struct ShapePos {
	const char *op_type; /* ONNX op_type, default domain */
	unsigned inputs;     /* bit k: input k decides shapes, axes or sizes */
} ShapePos;

#define IN(k) (1u << (k))
static const ShapePos shape_pos[] = {
	{"Reshape", IN(1)},                          /* shape */
	{"Expand", IN(1)},                           /* shape */
	{"Tile", IN(1)},                             /* repeats */
	{"Slice", IN(1) | IN(2) | IN(3) | IN(4)},    /* starts, ends, axes, steps */
	{"ReduceSum", IN(1)},                        /* axes (opset 13) */
	{"ReduceMean", IN(1)},                       /* axes (opset 18, and the rest) */
	{"ReduceMax", IN(1)},
	{"ReduceMin", IN(1)},
	{"ReduceProd", IN(1)},
	{"ReduceL1", IN(1)},
	{"ReduceL2", IN(1)},
	{"ReduceLogSum", IN(1)},
	{"ReduceLogSumExp", IN(1)},
	{"ReduceSumSquare", IN(1)},
	{"Squeeze", IN(1)},                          /* axes */
	{"Unsqueeze", IN(1)},                        /* axes */
	{"Pad", IN(1) | IN(3)},                      /* pads, axes (not constant_value) */
	{"Split", IN(1)},                            /* split */
	{"TopK", IN(1)},                             /* k */
	{"Range", IN(0) | IN(1) | IN(2)},            /* start, limit, delta */
	{"ConstantOfShape", IN(0)},                  /* shape */
	{"OneHot", IN(1)},                           /* depth (not values) */
	{"Resize", IN(1) | IN(2) | IN(3)},           /* roi, scales, sizes */
	{"Upsample", IN(1)},                         /* scales */
	{"CumSum", IN(1)},                           /* axis */
	{"Trilu", IN(1)},                            /* k */
	{"CenterCropPad", IN(1)},                    /* shape */
	{"Col2Im", IN(1) | IN(2)},                   /* image_shape, block_shape */
	{"MaxUnpool", IN(2)},                        /* output_shape */
	{"AffineGrid", IN(1)},                       /* size */
	{"NonMaxSuppression", IN(2)},                /* max_output_boxes_per_class */
	{"DFT", IN(1) | IN(2)},                      /* dft_length, axis */
	{"STFT", IN(1) | IN(3)},                     /* frame_step, frame_length */
	{"HannWindow", IN(0)},                       /* size */
	{"HammingWindow", IN(0)},
	{"BlackmanWindow", IN(0)},
	{"MelWeightMatrix", IN(0) | IN(1)},          /* num_mel_bins, dft_length */
};
#undef IN

bool fe_onnx_shape_position(const char *domain, const char *op_type, int k)
{
	if ((domain && *domain && strcmp(domain, "ai.onnx") != 0) || k < 0 || k >= 32)
		return false;
	for (size_t i = 0; i < sizeof shape_pos / sizeof *shape_pos; i++)
		if (strcmp(shape_pos[i].op_type, op_type) == 0)
			return (shape_pos[i].inputs >> k) & 1;
	return false;
}

/* Marks in `only` which of the names are used in a non-shape position by
 * gp's nodes (subgraphs included: outer names are visible there) or are
 * graph outputs; counts every use in uses. */
static void scan(const Onnx__GraphProto *gp, FeInputUse *in, int n, int depth)
{
	if (!gp || depth > 16)
		return;
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		for (size_t k = 0; k < np->n_input; k++)
			for (int j = 0; j < n; j++)
				if (np->input[k] && strcmp(np->input[k], in[j].name) == 0) {
					in[j].uses++;
					if (depth || !fe_onnx_shape_position(np->domain, np->op_type, (int)k))
						in[j].shape_only = false;
				}
		for (size_t a = 0; a < np->n_attribute; a++) {
			const Onnx__AttributeProto *at = np->attribute[a];
			scan(at->g, in, n, depth + 1);
			for (size_t s = 0; s < at->n_graphs; s++)
				scan(at->graphs[s], in, n, depth + 1);
		}
	}
	if (depth)
		return;
	for (size_t i = 0; i < gp->n_output; i++)
		for (int j = 0; j < n; j++)
			if (gp->output[i]->name && strcmp(gp->output[i]->name, in[j].name) == 0) {
				in[j].uses++;
				in[j].shape_only = false;
			}
}

int fe_onnx_inputs(const char *path, FeInputUse **out, Diag *d)
{
	*out = NULL;
	size_t len;
	char *buf = read_file(path, &len, d);
	if (!buf)
		return -1;
	Onnx__ModelProto *mp = NULL;
	if (onnx_wire_ok((const uint8_t *)buf, len, &onnx__model_proto__descriptor, 0))
		mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
	free(buf);
	if (!mp || !mp->graph) {
		if (mp)
			onnx__model_proto__free_unpacked(mp, NULL);
		return diag(d, "%s: not a valid ONNX model", path);
	}
	const Onnx__GraphProto *gp = mp->graph;
	FeInputUse *in = xcalloc(gp->n_input + 1, sizeof *in);
	int n = 0;
	for (size_t i = 0; i < gp->n_input; i++) {
		const Onnx__ValueInfoProto *vi = gp->input[i];
		bool init = false; /* an input with an initializer is a constant */
		for (size_t k = 0; vi->name && k < gp->n_initializer && !init; k++)
			init = gp->initializer[k]->name && strcmp(gp->initializer[k]->name, vi->name) == 0;
		if (!vi->name || init)
			continue;
		FeInputUse *u = &in[n++];
		u->name = strdup(vi->name);
		u->elem = -1;
		if (vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
		    vi->type->tensor_type && vi->type->tensor_type->has_elem_type)
			u->elem = vi->type->tensor_type->elem_type;
		u->shape_only = true;
	}
	scan(gp, in, n, 0);
	for (int j = 0; j < n; j++)
		in[j].shape_only &= in[j].uses > 0;
	onnx__model_proto__free_unpacked(mp, NULL);
	*out = in;
	return n;
}

void fe_onnx_inputs_free(FeInputUse *in, int n)
{
	for (int i = 0; in && i < n; i++)
		free((char *)in[i].name);
	free(in);
}
