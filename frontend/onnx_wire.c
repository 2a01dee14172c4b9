/* onnx_wire.c — a bounded walk over the protobuf wire format of an ONNX
 * file, run before protobuf-c unpacks it (see the comment below). Part of
 * the ONNX frontend (onnx_impl.h). */
#include "onnx_impl.h"

#include <limits.h>

enum { MAX_NESTING = 64 }; /* message nesting accepted in the wire format */

/* ---- wire pre-check --------------------------------------------------------
 * protobuf-c unpacks nested messages by recursion with no depth limit, so a
 * crafted file (AttributeProto.g → GraphProto → NodeProto → ...) could
 * overflow the stack. This walk follows only message-typed fields, bounds
 * the depth, and rejects malformed framing before protobuf-c runs. */

static bool get_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
	uint64_t x = 0;
	for (int sh = 0; sh < 64; sh += 7) {
		if (*i >= len)
			return false;
		uint8_t b = p[(*i)++];
		x |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

bool onnx_wire_ok(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *md, int depth)
{
	if (depth > MAX_NESTING)
		return false;
	size_t i = 0;
	while (i < len) {
		uint64_t key, n;
		if (!get_varint(p, len, &i, &key))
			return false;
		switch (key & 7) {
		case 0:
			if (!get_varint(p, len, &i, &n))
				return false;
			break;
		case 1:
			if (len - i < 8)
				return false;
			i += 8;
			break;
		case 5:
			if (len - i < 4)
				return false;
			i += 4;
			break;
		case 2: {
			if (!get_varint(p, len, &i, &n) || n > len - i)
				return false;
			const ProtobufCFieldDescriptor *f = NULL;
			if ((key >> 3) <= UINT_MAX)
				f = protobuf_c_message_descriptor_get_field(md, (unsigned)(key >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
				!onnx_wire_ok(p + i, (size_t)n, f->descriptor, depth + 1))
				return false;
			i += (size_t)n;
			break;
		}
		default: /* groups (3, 4) are not used by onnx.proto; 6, 7 are invalid */
			return false;
		}
	}
	return true;
}
