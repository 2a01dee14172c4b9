/* onnx_attention.c — ONNX Attention (opset 23) as a rewrite into reshape,
 * transpose, concat, matmul, softmax and pointwise ops; LinearAttention
 * (opset 27) as its recurrence unrolled over time; FlexAttention (opset 26)
 * without its modifier subgraphs; RotaryEmbedding (opset 23) with lane
 * gathers.
 *
 * Q [B, Hq, Sq, D], K [B, Hkv, Skv, D], V [B, Hkv, Skv, Dv] (or 3-D
 * [B, S, H*D], split into heads by q_num_heads/kv_num_heads). past_key and
 * past_value are concatenated in front of K and V along the sequence (the
 * present_key/present_value outputs). With Hq a multiple of Hkv each KV
 * head is repeated for its group of query heads. Then
 *   qk = (Q * sqrt(scale)) (K * sqrt(scale))^T      scale: 1/sqrt(D) by default
 *   qk = softcap * tanh(qk / softcap)               when softcap > 0
 *   y  = softmax(qk + bias) V
 * where bias is the float mask (a bool mask as log(mask): 0 or -inf),
 * padded with -inf up to the total sequence length, plus, with is_causal,
 * -inf above the diagonal shifted by the past length. Output 3
 * (qk_matmul_output) is qk, qk + bias or the softmax, by
 * qk_matmul_output_mode. Shapes must be static. */
#include "onnx_impl.h"

#include <math.h>
#include <string.h>

static int node1(Importer *m, Op op, int x, int slot)
{
	return imp_op1(m, op, x, slot);
}

static int node2(Importer *m, Op op, int a, int b, int slot)
{
	return imp_op2(m, op, a, b, slot);
}

static int reshape(Importer *m, int x, const int64_t *shape, int n, int slot)
{
	return imp_ints_op(m, OP_RESHAPE, x, "shape", shape, n, slot);
}

static int transpose(Importer *m, int x, const int64_t *perm, int n, int slot)
{
	return imp_ints_op(m, OP_TRANSPOSE, x, "perm", perm, n, slot);
}

static int scalar(Importer *m, const char *what, double v, DType t) { return imp_scalar(m, what, t, v); }

static const Shape *shp(const Importer *m, int v) { return &m->g->val[v].shape; }

/* A 3-D [B, S, H*D] input as [B, H, S, D]; a 4-D one as is. */
static int heads(Importer *m, int x, int64_t h)
{
	const Shape *s = shp(m, x);
	if (s->rank == 4)
		return x;
	if (h < 1 || s->d[2].n % h)
		return imp_err(m, "the hidden size %lld is not a multiple of %lld heads",
			(long long)s->d[2].n, (long long)h);
	int64_t v4[4] = {s->d[0].n, s->d[1].n, h, s->d[2].n / h}, perm[4] = {0, 2, 1, 3};
	return transpose(m, reshape(m, x, v4, 4, -1), perm, 4, -1);
}

/* Each of the Hkv heads of x [B, Hkv, S, D] repeated rep times in place:
 * [B, Hkv * rep, S, D], as h0 h0 h1 h1 ... */
static int repeat_heads(Importer *m, int x, int64_t rep)
{
	if (rep == 1 || x < 0)
		return x;
	const Shape *s = shp(m, x);
	int64_t b = s->d[0].n, h = s->d[1].n, n = s->d[2].n, d = s->d[3].n;
	int64_t v5[5] = {b, h, 1, n, d}, v4[4] = {b, h * rep, n, d};
	int x5 = reshape(m, x, v5, 5, -1);
	if (x5 < 0 || rep > 64)
		return x5 < 0 ? -1 : imp_err(m, "more than 64 query heads per KV head are unsupported");
	int in[64];
	for (int i = 0; i < rep; i++)
		in[i] = x5;
	int nd = imp_node(m, OP_CONCAT, in, (int)rep, -1);
	ir_set_int(m->g, nd, "axis", 2);
	return reshape(m, imp_infer(m, nd), v4, 4, -1);
}

static bool has(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }

int imp_attention(Importer *m, Op op)
{
	(void)op;
	for (int k = 0; k < m->nin; k++)
		if (has(m, k) && !ir_shape_static(shp(m, m->in[k])))
			return imp_err(m, "input %d needs a static shape", k);
	if (has(m, 6))
		return imp_err(m, "nonpad_kv_seqlen is unsupported");
	DType t = m->g->val[m->in[0]].dtype;
	if (t != DT_F32 && t != DT_F64)
		return imp_err(m, "type %s is unsupported (float32 and float64 only)", ir_dtype_name(t));
	int r = shp(m, m->in[0])->rank;
	if ((r != 3 && r != 4) || shp(m, m->in[1])->rank != r || shp(m, m->in[2])->rank != r)
		return imp_err(m, "Q, K and V must all be 3-D or all 4-D");
	if (has(m, 4) != has(m, 5))
		return imp_err(m, "past_key and past_value must be given together");
	int64_t mode = imp_int(m, "qk_matmul_output_mode", 0);
	if (mode < 0 || mode > 3)
		return imp_err(m, "qk_matmul_output_mode %lld is unsupported", (long long)mode);

	int q = heads(m, m->in[0], imp_int(m, "q_num_heads", 0));
	int k = heads(m, m->in[1], imp_int(m, "kv_num_heads", 0));
	int v = heads(m, m->in[2], imp_int(m, "kv_num_heads", 0));
	if (q < 0 || k < 0 || v < 0)
		return -1;
	int64_t past = 0;
	if (has(m, 4)) {
		past = shp(m, m->in[4])->d[2].n;
		int in[2] = {m->in[4], k};
		int nd = imp_node(m, OP_CONCAT, in, 2, 1);
		ir_set_int(m->g, nd, "axis", 2);
		in[0] = m->in[5];
		in[1] = v;
		k = imp_infer(m, nd);
		nd = imp_node(m, OP_CONCAT, in, 2, 2);
		ir_set_int(m->g, nd, "axis", 2);
		if (k < 0 || (v = imp_infer(m, nd)) < 0)
			return -1;
	} else if (imp_used(m, 1) || imp_used(m, 2)) { /* present = the inputs */
		if (node1(m, OP_IDENTITY, k, imp_used(m, 1) ? 1 : -1) < 0 ||
			node1(m, OP_IDENTITY, v, imp_used(m, 2) ? 2 : -1) < 0)
			return -1;
	}
	const Shape *qs = shp(m, q), *ks = shp(m, k);
	int64_t hq = qs->d[1].n, hkv = ks->d[1].n, sq = qs->d[2].n, skv = ks->d[2].n;
	if (hkv < 1 || hq % hkv)
		return imp_err(m, "%lld query heads are not a multiple of %lld KV heads", (long long)hq,
			(long long)hkv);
	k = repeat_heads(m, k, hq / hkv);
	v = repeat_heads(m, v, hq / hkv);

	/* qk */
	double scale = imp_attr(m, "scale") ? imp_float(m, "scale", 1) : 1 / sqrt((double)qs->d[3].n);
	int sc = scalar(m, "sqrt_scale", sqrt(scale), t);
	int mm[2] = {node2(m, OP_MUL, q, sc, -1), node2(m, OP_MUL, k, sc, -1)};
	if (mm[0] < 0 || mm[1] < 0)
		return -1;
	int nd = imp_node(m, OP_MATMUL, mm, 2, -1);
	ir_set_int(m->g, nd, "trans_b", 1);
	int qk = imp_infer(m, nd);
	double cap = imp_float(m, "softcap", 0);
	if (cap > 0) {
		int c = scalar(m, "softcap", cap, t);
		qk = node2(m, OP_MUL, node1(m, OP_TANH, node2(m, OP_DIV, qk, c, -1), -1), c, -1);
	}
	if (qk < 0)
		return -1;

	/* bias: the mask (bool as log: 0 / -inf), padded with -inf, plus the causal mask */
	int bias = -1;
	if (has(m, 3)) {
		bias = m->in[3];
		if (m->g->val[bias].dtype == DT_BOOL) {
			nd = imp_node(m, OP_CAST, &bias, 1, -1);
			ir_set_string(m->g, nd, "to", ir_dtype_name(t));
			bias = node1(m, OP_LOG, imp_infer(m, nd), -1);
		}
		if (bias < 0)
			return -1;
		const Shape *bs = shp(m, bias);
		if (bs->d[bs->rank - 1].n > skv)
			return imp_err(m, "attn_mask is longer than the total sequence");
		if (bs->d[bs->rank - 1].n < skv) {
			int64_t pads[2 * IR_MAX_RANK] = {0};
			pads[2 * bs->rank - 1] = skv - bs->d[bs->rank - 1].n;
			nd = imp_node(m, OP_PAD, &bias, 1, -1);
			ir_set_ints(m->g, nd, "pads", pads, 2 * bs->rank);
			ir_set_float(m->g, nd, "value", -INFINITY);
			if ((bias = imp_infer(m, nd)) < 0)
				return -1;
		}
	}
	if (imp_int(m, "is_causal", 0)) {
		size_t esz = ir_dtype_size(t);
		unsigned char *buf = arena_alloc(&m->arena, (size_t)(sq * skv) * esz + 1);
		for (int64_t i = 0; i < sq; i++)
			for (int64_t j = 0; j < skv; j++) {
				double x = j > i + past ? -INFINITY : 0;
				if (t == DT_F32) {
					float f = (float)x;
					memcpy(buf + (size_t)(i * skv + j) * esz, &f, 4);
				} else {
					memcpy(buf + (size_t)(i * skv + j) * esz, &x, 8);
				}
			}
		int64_t dims[2] = {sq, skv};
		int cm = imp_const(m, "causal", t, ir_shape_make(2, dims), buf, (size_t)(sq * skv) * esz);
		bias = bias < 0 ? cm : node2(m, OP_ADD, bias, cm, -1);
	}
	bool out3 = imp_used(m, 3);
	if (out3 && mode <= 1 && node1(m, OP_IDENTITY, qk, 3) < 0)
		return -1;
	int qb = bias < 0 ? qk : node2(m, OP_ADD, qk, bias, -1);
	if (out3 && mode == 2 && node1(m, OP_IDENTITY, qb, 3) < 0)
		return -1;
	nd = imp_node(m, OP_SOFTMAX, &qb, 1, -1);
	ir_set_int(m->g, nd, "axis", -1);
	int p = imp_infer(m, nd);
	if (out3 && mode == 3 && node1(m, OP_IDENTITY, p, 3) < 0)
		return -1;
	int y = node2(m, OP_MATMUL, p, v, r == 4 ? 0 : -1);
	if (r == 4 || y < 0)
		return y < 0 ? -1 : 0;
	const Shape *ys = shp(m, y);
	int64_t perm[4] = {0, 2, 1, 3}, v3[3] = {ys->d[0].n, ys->d[2].n, ys->d[1].n * ys->d[3].n};
	return reshape(m, transpose(m, y, perm, 4, -1), v3, 3, 0) < 0 ? -1 : 0;
}

/* ---- LinearAttention (opset 27): the recurrence unrolled over time ---------------- */

/* x [B, H, T, D] at time step t: [B, H, D] (a gather of one index). */
static int step(Importer *m, int x, int64_t t)
{
	int i = imp_const(m, "t", DT_I64, ir_shape_make(0, NULL), &t, sizeof t);
	int in[2] = {x, i};
	int nd = imp_node(m, OP_GATHER, in, 2, -1);
	ir_set_int(m->g, nd, "axis", 2);
	return imp_infer(m, nd);
}

static int unsq(Importer *m, int x, int64_t axis)
{
	if (x < 0)
		return -1;
	int nd = imp_node(m, OP_UNSQUEEZE, &x, 1, -1);
	ir_set_ints(m->g, nd, "axes", &axis, 1);
	return imp_infer(m, nd);
}

/* sum over dim `axis` of a * b (broadcast), the dim removed. */
static int dot(Importer *m, int a, int b, int64_t axis)
{
	int p = node2(m, OP_MUL, a, b, -1);
	if (p < 0)
		return -1;
	int nd = imp_node(m, OP_REDUCE_SUM, &p, 1, -1);
	ir_set_ints(m->g, nd, "axes", &axis, 1);
	ir_set_int(m->g, nd, "keepdims", 0);
	return imp_infer(m, nd);
}

/* A gate input [B, T, n] as [B, nheads, T, n / nheads] (per_dim),
 * or, with n == 1 or n == nheads, [B, n, T, 1]. */
static int gate(Importer *m, int x, int64_t nheads, bool per_dim)
{
	const Shape *s = shp(m, x);
	if (s->rank != 3)
		return imp_err(m, "decay, beta and erase_gate must be 3-D");
	if (per_dim)
		return heads(m, x, nheads);
	int64_t v4[4] = {s->d[0].n, s->d[1].n, s->d[2].n, 1}, perm[4] = {0, 2, 1, 3};
	return transpose(m, reshape(m, x, v4, 4, -1), perm, 4, -1);
}

/* LinearAttention: per time step t, with S the [B, Hkv, dk, dv] state
 * (past_state or zeros): gated rules scale S by exp(decay_t); delta rules
 * replace v_t by beta_t * (v_t - S^T (erase_t * k_t)); then S += k_t v_t^T
 * and o_t = scale * q_t S (S's heads repeated for GQA). Outputs o as
 * [B, T, Hq*dv] and the last S (present_state). */
int imp_linear_attention(Importer *m, Op op)
{
	(void)op;
	for (int k = 0; k < m->nin; k++)
		if (has(m, k) && !ir_shape_static(shp(m, m->in[k])))
			return imp_err(m, "input %d needs a static shape", k);
	if (m->g->val[m->in[0]].dtype != DT_F32)
		return imp_err(m, "type %s is unsupported (float32 only)",
			ir_dtype_name(m->g->val[m->in[0]].dtype));
	const char *rule = imp_str(m, "update_rule", "gated_delta");
	bool gated = strcmp(rule, "gated") == 0 || strcmp(rule, "gated_delta") == 0;
	bool delta = strcmp(rule, "delta") == 0 || strcmp(rule, "gated_delta") == 0;
	if (!gated && !delta && strcmp(rule, "linear") != 0)
		return imp_err(m, "update_rule \"%s\" is unsupported", rule);
	if (gated != has(m, 4) || delta != has(m, 5) || (has(m, 6) && !delta))
		return imp_err(m, "update_rule \"%s\" needs %s decay and %s beta (erase_gate only with delta)",
			rule, gated ? "a" : "no", delta ? "a" : "no");
	int64_t hq = imp_int(m, "q_num_heads", 0), hkv = imp_int(m, "kv_num_heads", 0);
	if (hq < 1 || hkv < 1 || hq % hkv)
		return imp_err(m, "q_num_heads must be a positive multiple of kv_num_heads");
	for (int k = 0; k < 3; k++)
		if (shp(m, m->in[k])->rank != 3)
			return imp_err(m, "query, key and value must be 3-D");
	int q = heads(m, m->in[0], hq), k4 = heads(m, m->in[1], hkv), v4 = heads(m, m->in[2], hkv);
	if (q < 0 || k4 < 0 || v4 < 0)
		return -1;
	const Shape *qs = shp(m, q);
	int64_t b = qs->d[0].n, t = qs->d[2].n, dk = qs->d[3].n, dv = shp(m, v4)->d[3].n;
	if (t < 1 || t > 4096)
		return imp_err(m, "%lld time steps are unsupported (1 to 4096)", (long long)t);
	int dec = -1, bet = -1, era = -1;
	if (gated) {
		int64_t n = shp(m, m->in[4])->d[2].n;
		if (n != hkv && n != hkv * dk)
			return imp_err(m, "decay's last dim must be kv_num_heads or kv_num_heads * d_k");
		dec = gate(m, m->in[4], hkv, n == hkv * dk);
	}
	if (delta) {
		int64_t n = shp(m, m->in[5])->d[2].n;
		if (n != hkv && n != 1)
			return imp_err(m, "beta's last dim must be kv_num_heads or 1");
		bet = gate(m, m->in[5], hkv, false);
		if (has(m, 6))
			era = heads(m, m->in[6], hkv);
	}
	int s;
	if (has(m, 3)) {
		s = m->in[3];
		const Shape *ps = shp(m, s);
		if (ps->rank != 4 || ps->d[0].n != b || ps->d[1].n != hkv || ps->d[2].n != dk || ps->d[3].n != dv)
			return imp_err(m, "past_state must be [B, kv_num_heads, d_k, d_v]");
	} else {
		int64_t dims[4] = {b, hkv, dk, dv};
		size_t nb = (size_t)(b * hkv * dk * dv) * 4;
		s = imp_const(m, "state0", DT_F32, ir_shape_make(4, dims), NULL, nb);
	}
	double scale = imp_float(m, "scale", 0);
	if (scale == 0)
		scale = 1 / sqrt((double)dk);
	int sc = scalar(m, "scale", scale, DT_F32);
	int *outs = arena_alloc(&m->arena, (size_t)t * sizeof *outs);
	for (int64_t i = 0; i < t; i++) {
		int kt = step(m, k4, i), vt = step(m, v4, i);
		if (gated)
			s = node2(m, OP_MUL, s, unsq(m, node1(m, OP_EXP, step(m, dec, i), -1), 3), -1);
		if (delta) {
			int ke = era < 0 ? kt : node2(m, OP_MUL, step(m, era, i), kt, -1);
			int got = dot(m, s, unsq(m, ke, 3), 2); /* S^T ke: [B, Hkv, dv] */
			vt = node2(m, OP_MUL, step(m, bet, i), node2(m, OP_SUB, vt, got, -1), -1);
		}
		s = node2(m, OP_ADD, s, node2(m, OP_MUL, unsq(m, kt, 3), unsq(m, vt, 2), -1), -1);
		int o = dot(m, unsq(m, step(m, q, i), 3), repeat_heads(m, s, hq / hkv), 2);
		if ((outs[i] = unsq(m, node2(m, OP_MUL, o, sc, -1), 2)) < 0)
			return -1;
	}
	if (imp_used(m, 1) && node1(m, OP_IDENTITY, s, 1) < 0)
		return -1;
	int o = outs[0];
	if (t > 1) {
		int nd = imp_node(m, OP_CONCAT, outs, (int)t, -1);
		ir_set_int(m->g, nd, "axis", 2);
		o = imp_infer(m, nd);
	}
	int64_t perm[4] = {0, 2, 1, 3}, v3[3] = {b, t, hq * dv};
	return reshape(m, transpose(m, o, perm, 4, -1), v3, 3, 0) < 0 ? -1 : 0;
}

/* ---- FlexAttention (opset 26) without modifier subgraphs -------------------------- */

/* FlexAttention: softmax((Q K^T) * scale) V over 4-D inputs, KV heads
 * repeated for GQA as in Attention. The score_mod, mask_mod and prob_mod
 * subgraphs are not in the import table's schema, so a model using them is
 * refused naming the attribute. */
int imp_flex_attention(Importer *m, Op op)
{
	(void)op;
	for (int k = 0; k < 3; k++)
		if (!ir_shape_static(shp(m, m->in[k])) || shp(m, m->in[k])->rank != 4)
			return imp_err(m, "Q, K and V need static 4-D shapes");
	DType t = m->g->val[m->in[0]].dtype;
	if (t != DT_F32 && t != DT_F64)
		return imp_err(m, "type %s is unsupported (float32 and float64 only)", ir_dtype_name(t));
	int64_t hq = shp(m, m->in[0])->d[1].n, hkv = shp(m, m->in[1])->d[1].n;
	if (hkv < 1 || hq % hkv)
		return imp_err(m, "%lld query heads are not a multiple of %lld KV heads", (long long)hq,
			(long long)hkv);
	int k = repeat_heads(m, m->in[1], hq / hkv), v = repeat_heads(m, m->in[2], hq / hkv);
	if (k < 0 || v < 0)
		return -1;
	double scale = imp_attr(m, "scale") ? imp_float(m, "scale", 1)
					    : 1 / sqrt((double)shp(m, m->in[0])->d[3].n);
	int mm[2] = {m->in[0], k};
	int nd = imp_node(m, OP_MATMUL, mm, 2, -1);
	ir_set_int(m->g, nd, "trans_b", 1);
	int s = node2(m, OP_MUL, imp_infer(m, nd), scalar(m, "scale", scale, t), -1);
	if (s < 0)
		return -1;
	nd = imp_node(m, OP_SOFTMAX, &s, 1, -1);
	ir_set_int(m->g, nd, "axis", -1);
	return node2(m, OP_MATMUL, imp_infer(m, nd), v, 0) < 0 ? -1 : 0;
}

/* ---- RotaryEmbedding (opset 23) ------------------------------------------------------ */

/* x's elements first, first + step, ... (n of them) along its last axis: a
 * gather of constant, evenly stepping indices. */
static int lanes(Importer *m, int x, int64_t first, int64_t step, int64_t n)
{
	int64_t *ix = arena_alloc(&m->arena, (size_t)n * sizeof *ix);
	for (int64_t i = 0; i < n; i++)
		ix[i] = first + i * step;
	int c = imp_const(m, "lanes", DT_I64, ir_shape_make(1, &n), ix, (size_t)n * sizeof *ix);
	int in[2] = {x, c};
	int nd = imp_node(m, OP_GATHER, in, 2, -1);
	ir_set_int(m->g, nd, "axis", shp(m, x)->rank - 1);
	return imp_infer(m, nd);
}

static int concat2(Importer *m, int a, int b, int64_t axis, int slot)
{
	if (a < 0 || b < 0)
		return -1;
	int in[2] = {a, b};
	int nd = imp_node(m, OP_CONCAT, in, 2, slot);
	ir_set_int(m->g, nd, "axis", axis);
	return imp_infer(m, nd);
}

/* RotaryEmbedding: x as [B, S, H, D] (from [B, H, S, D], or [B, S, H*D]
 * with num_heads); its first rotary_embedding_dim lanes, split in halves
 * (or even/odd lanes when interleaved) x1, x2, become x1 cos - x2 sin and
 * x1 sin + x2 cos, the caches [B, S, rd/2] (or rows picked by position_ids
 * with a gather) broadcast over the heads; the other lanes pass. */
int imp_rotary(Importer *m, Op op)
{
	(void)op;
	for (int k = 0; k < m->nin; k++)
		if (has(m, k) && !ir_shape_static(shp(m, m->in[k])))
			return imp_err(m, "input %d needs a static shape", k);
	DType t = m->g->val[m->in[0]].dtype;
	if (t != DT_F32 && t != DT_F64)
		return imp_err(m, "type %s is unsupported (float32 and float64 only)", ir_dtype_name(t));
	Shape xs = *shp(m, m->in[0]);
	int x = m->in[0];
	int64_t perm[4] = {0, 2, 1, 3};
	if (xs.rank == 4) {
		x = transpose(m, x, perm, 4, -1);
	} else if (xs.rank == 3) {
		int64_t h = imp_int(m, "num_heads", 0);
		if (h < 1 || xs.d[2].n % h)
			return imp_err(m, "a 3-D input needs num_heads dividing its hidden size");
		int64_t v4[4] = {xs.d[0].n, xs.d[1].n, h, xs.d[2].n / h};
		x = reshape(m, x, v4, 4, -1);
	} else {
		return imp_err(m, "the input must be 3-D or 4-D");
	}
	if (x < 0)
		return -1;
	int64_t d = shp(m, x)->d[3].n, rd = imp_int(m, "rotary_embedding_dim", 0);
	if (rd == 0)
		rd = d;
	if (rd < 2 || rd > d || rd % 2)
		return imp_err(m, "rotary_embedding_dim %lld is invalid for head size %lld", (long long)rd,
			(long long)d);
	int cs = m->in[1], sn = m->in[2];
	if (has(m, 3)) {
		int in[2] = {cs, m->in[3]};
		cs = imp_infer(m, imp_node(m, OP_GATHER, in, 2, -1));
		in[0] = sn;
		sn = imp_infer(m, imp_node(m, OP_GATHER, in, 2, -1));
	}
	cs = unsq(m, cs, 2);
	sn = unsq(m, sn, 2);
	if (cs < 0 || sn < 0)
		return -1;
	if (shp(m, cs)->rank != 4 || shp(m, cs)->d[3].n != rd / 2)
		return imp_err(m, "the caches must hold rotary_embedding_dim / 2 values per position");
	bool il = imp_int(m, "interleaved", 0) != 0;
	int x1 = il ? lanes(m, x, 0, 2, rd / 2) : lanes(m, x, 0, 1, rd / 2);
	int x2 = il ? lanes(m, x, 1, 2, rd / 2) : lanes(m, x, rd / 2, 1, rd / 2);
	int re = node2(m, OP_SUB, node2(m, OP_MUL, cs, x1, -1), node2(m, OP_MUL, sn, x2, -1), -1);
	int im = node2(m, OP_ADD, node2(m, OP_MUL, sn, x1, -1), node2(m, OP_MUL, cs, x2, -1), -1);
	int y;
	if (il) {
		const Shape *s = shp(m, x);
		int64_t v4[4] = {s->d[0].n, s->d[1].n, s->d[2].n, rd};
		y = reshape(m, concat2(m, unsq(m, re, 4), unsq(m, im, 4), 4, -1), v4, 4, -1);
	} else {
		y = concat2(m, re, im, 3, -1);
	}
	if (rd < d)
		y = concat2(m, y, lanes(m, x, rd, 1, d - rd), 3, -1);
	if (xs.rank == 4)
		return transpose(m, y, perm, 4, 0) < 0 ? -1 : 0;
	int64_t v3[3] = {xs.d[0].n, xs.d[1].n, xs.d[2].n};
	return reshape(m, y, v3, 3, 0) < 0 ? -1 : 0;
}
