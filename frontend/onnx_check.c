/* onnx_check.c — model-level and attribute-domain checks of the ONNX
 * reader: a model whose default-domain opset is newer than nncc knows is
 * refused naming it (its ops may mean something nncc does not compute),
 * and attributes whose ONNX schema narrows them to a domain (flags 0/1,
 * epsilon finite and non-negative) are checked by name before any handler
 * reads them. A name means the same in every ONNX op that has it. Also
 * the model's name from its file name (onnx_model_name). */
#include "onnx_impl.h"

#include <math.h>
#include <string.h>

typedef enum {
	OD_FLAG,   /* int 0 or 1 */
	OD_NONNEG, /* finite float >= 0 */
	OD_FINITE, /* finite float */
} OnnxDomain;

static const struct {
	const char *name; /* ONNX attribute name */
	OnnxDomain dom;   /* values it may take */
} domains[] = {
	{"keepdims", OD_FLAG}, {"ceil_mode", OD_FLAG}, {"count_include_pad", OD_FLAG},
	{"transA", OD_FLAG}, {"transB", OD_FLAG}, {"select_last_index", OD_FLAG},
	{"noop_with_empty_axes", OD_FLAG}, {"exclusive", OD_FLAG}, {"reverse", OD_FLAG},
	{"upper", OD_FLAG}, {"sorted", OD_FLAG}, {"largest", OD_FLAG}, {"saturate", OD_FLAG},
	{"fmod", OD_FLAG}, {"detect_positive", OD_FLAG}, {"detect_negative", OD_FLAG},
	{"storage_order", OD_FLAG}, {"training_mode", OD_FLAG}, {"allowzero", OD_FLAG},
	{"linear_before_reset", OD_FLAG}, {"input_forget", OD_FLAG},
	{"center_point_box", OD_FLAG}, {"exclude_outside", OD_FLAG},
	{"align_corners", OD_FLAG}, {"is_causal", OD_FLAG}, {"interleaved", OD_FLAG},
	{"new_axis", OD_FLAG},
	{"epsilon", OD_NONNEG}, {"momentum", OD_FINITE},
};

int onnx_check_opset(Importer *m)
{
	if (m->opset > ONNX_MAX_OPSET)
		return diag(m->d, "%s: the model imports opset %lld of the default ONNX domain; nncc "
			"knows opsets up to %d", m->file, (long long)m->opset, ONNX_MAX_OPSET);
	return 0;
}

int onnx_check_attr_domain(Importer *m, const Onnx__AttributeProto *a)
{
	for (size_t j = 0; j < sizeof domains / sizeof *domains; j++) {
		if (strcmp(domains[j].name, a->name) != 0)
			continue;
		if (domains[j].dom == OD_FLAG) {
			if (a->has_i && a->i != 0 && a->i != 1)
				return imp_err(m, "attribute \"%s\" must be 0 or 1, got %lld", a->name,
					(long long)a->i);
			return 0;
		}
		if (!a->has_f)
			return 0;
		if (!isfinite(a->f))
			return imp_err(m, "attribute \"%s\" must be finite, got %g", a->name, (double)a->f);
		if (domains[j].dom == OD_NONNEG && a->f < 0)
			return imp_err(m, "attribute \"%s\" must be non-negative, got %g", a->name,
				(double)a->f);
		return 0;
	}
	return 0;
}

/* The file's basename without extension, as a C identifier. */
char *onnx_model_name(Arena *a, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	char *s = arena_alloc(a, n + 8);
	size_t j = 0;
	if (n && base[0] >= '0' && base[0] <= '9')
		s[j++] = 'm';
	for (size_t i = 0; i < n; i++) {
		char c = base[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		s[j++] = ok ? c : '_';
	}
	if (!j)
		strcpy(s, "model");
	return s;
}
