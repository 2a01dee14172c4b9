/* onnx_exotic.c — TensorProto data of the sub-byte types (dt family):
 * int4/uint4/float4e2m1 pack two elements per byte and int2/uint2 four,
 * low bits first, in raw_data or one packed byte per int32_data entry.
 * nncc keeps one element per byte (ir/dtype_exotic.c), so the importer
 * unpacks them here. */
#include "onnx_impl.h"

#include <string.h>

int dt_unpack(DType dt, const uint8_t *raw, size_t nraw, const int32_t *i32, size_t n32, int64_t numel,
	      uint8_t *out)
{
	int bits = ir_dtype_bits(dt), per = 8 / bits;
	uint64_t need = ((uint64_t)numel + (uint64_t)per - 1) / (uint64_t)per;
	if ((raw ? (uint64_t)nraw : (uint64_t)n32) != need)
		return -1;
	for (int64_t i = 0; i < numel; i++) {
		size_t k = (size_t)(i / per);
		unsigned byte = raw ? raw[k] : (unsigned)i32[k] & 0xff;
		unsigned code = byte >> (i % per * bits) & ((1u << bits) - 1);
		out[i] = (uint8_t)(ir_dtype_is_small_float(dt) ? code : (unsigned)ir_small_int_wrap(dt, code));
	}
	return 0;
}

/* Cast/CastLike's saturate=0 on node nd (a cast to a float8): float8
 * overflow gives NaN or infinity. Other targets ignore it, as ONNX says;
 * round_mode likewise concerns f8e8m0 only, where nncc has "up". */
int dt_cast_saturate(Importer *m, int nd)
{
	if (nd < 0)
		return 0;
	const Attr *a = ir_attr(&m->g->node[nd], "to");
	DType to = a && a->kind == AT_STRING ? ir_dtype_parse(a->s, strlen(a->s)) : DT_UNDEF;
	const Onnx__AttributeProto *rm = imp_attr(m, "round_mode");
	if (to == DT_F8E8M0 && rm && (rm->s.len != 2 || memcmp(rm->s.data, "up", 2) != 0))
		return imp_err(m, "round_mode \"%.*s\" is unsupported (only \"up\")", (int)rm->s.len,
			(const char *)rm->s.data);
	if (imp_int(m, "saturate", 1) == 0 && ir_dtype_is_small_float(to) && to != DT_F4E2M1)
		ir_set_int(m->g, nd, "saturate", 0);
	return 0;
}
