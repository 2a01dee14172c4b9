/* onnx_einsum.c — ONNX Einsum as a rewrite into transpose, reshape, mul
 * and reduce_sum (no new IR op).
 *
 * Every label of the equation gets one position in a common order: the
 * output's labels first, in output order, then the summed labels. Each
 * input is brought to that order: a label repeated inside one term (a
 * diagonal, "ii") is first multiplied by an identity mask and summed over
 * its second occurrence, then the input is transposed to the common order
 * and reshaped to full rank with extent 1 for the labels it lacks. The
 * inputs are multiplied together (numpy broadcasting) and reduce_sum
 * removes the summed labels; fusion puts the product inside the sum's
 * kernel, so nothing of full rank is stored. An ellipsis stands for the
 * leading dims of each input, right-aligned across the inputs as numpy
 * broadcasts them. Shapes must be static. */
#include "onnx_impl.h"

#include <ctype.h>
#include <string.h>

enum { EL_BASE = 128 }; /* label codes of the ellipsis dims: EL_BASE + k, k from the left */

typedef struct Term {
	int lab[IR_MAX_RANK]; /* label code of each dim */
	int n;                /* dims */
} Term;

/* Parses one term of letters with at most one "..." into t: the "..."
 * stands for the input's dims the letters leave over (rank < 0, the output
 * term: all nell ellipsis dims), labelled right-aligned among the nell;
 * -1 with a message. */
static int parse_term(Importer *m, const char *s, size_t len, int rank, int nell, Term *t)
{
	int letters = 0;
	bool dots = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (dots || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
				return imp_err(m, "malformed ellipsis in equation");
			dots = true;
			i += 2;
		} else if (isalpha((unsigned char)s[i])) {
			letters++;
		} else {
			return imp_err(m, "unexpected character '%c' in equation", s[i]);
		}
	}
	int ell = rank >= 0 ? rank - letters : nell; /* rank < 0: the output term */
	if (!dots)
		ell = 0;
	if (ell < 0 || (rank >= 0 && !dots && letters != rank))
		return imp_err(m, "a term has %d labels for an input of rank %d", letters, rank);
	if (letters + ell > IR_MAX_RANK)
		return imp_err(m, "a term has more than %d dims", IR_MAX_RANK);
	t->n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			for (int k = 0; k < ell; k++)
				t->lab[t->n++] = EL_BASE + nell - ell + k;
			i += 2;
		} else {
			t->lab[t->n++] = (unsigned char)s[i];
		}
	}
	return 0;
}

/* Constant: 1 where the coordinates along dims p and q agree, shaped
 * [.., d, .., d, ..] with 1 elsewhere, of dtype t. */
static int eye(Importer *m, int rank, int p, int q, int64_t d, DType t)
{
	int64_t dims[IR_MAX_RANK];
	for (int i = 0; i < rank; i++)
		dims[i] = i == p || i == q ? d : 1;
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = arena_alloc(&m->arena, (size_t)(d * d) * esz + 1);
	for (int64_t i = 0; i < d; i++)
		for (int64_t j = 0; j < d; j++)
			ir_elem_put(t, buf + (size_t)(i * d + j) * esz, i == j);
	return imp_const(m, "eye", t, ir_shape_make(rank, dims), buf, (size_t)(d * d) * esz);
}

static int node1(Importer *m, Op op, int x, int slot)
{
	return imp_op1(m, op, x, slot);
}

/* Removes repeated labels of one input (diagonals); returns the value. */
static int diagonals(Importer *m, int x, Term *t)
{
	for (int p = 0; p < t->n; p++)
		for (int q = p + 1; q < t->n; q++) {
			if (t->lab[p] != t->lab[q])
				continue;
			const Value *v = &m->g->val[x];
			int64_t d = v->shape.d[p].n;
			if (v->shape.d[q].n != d)
				return imp_err(m, "label '%c' has extents %lld and %lld", t->lab[p],
					(long long)d, (long long)v->shape.d[q].n);
			int in[2] = {x, eye(m, t->n, p, q, d, v->dtype)};
			int nd = imp_node(m, OP_MUL, in, 2, -1);
			if ((x = imp_infer(m, nd)) < 0)
				return -1;
			int64_t ax = q;
			nd = imp_node(m, OP_REDUCE_SUM, &x, 1, -1);
			ir_set_ints(m->g, nd, "axes", &ax, 1);
			ir_set_int(m->g, nd, "keepdims", 0);
			if ((x = imp_infer(m, nd)) < 0)
				return -1;
			memmove(&t->lab[q], &t->lab[q + 1], (size_t)(t->n - q - 1) * sizeof *t->lab);
			t->n--;
			q--;
		}
	return x;
}

int imp_einsum(Importer *m, Op op)
{
	(void)op;
	const char *eq = imp_str(m, "equation", NULL);
	if (!eq)
		return imp_err(m, "missing attribute equation");
	char s[512];
	size_t n = 0;
	for (const char *c = eq; *c; c++)
		if (!isspace((unsigned char)*c)) {
			if (n + 1 >= sizeof s)
				return imp_err(m, "equation too long");
			s[n++] = *c;
		}
	s[n] = 0;
	const char *arrow = strstr(s, "->");
	size_t lhs = arrow ? (size_t)(arrow - s) : n;
	Term in[16], outt;
	int nell = 0, vals[16];
	if (m->nin > 16)
		return imp_err(m, "more than 16 inputs are unsupported");
	for (int k = 0; k < m->nin; k++) {
		const Value *v = &m->g->val[m->in[k]];
		if (!ir_shape_static(&v->shape))
			return imp_err(m, "input %d needs a static shape", k);
		if (!ir_dtype_is_float(v->dtype) && v->dtype != DT_I32 && v->dtype != DT_I64)
			return imp_err(m, "input type %s is unsupported", ir_dtype_name(v->dtype));
	}
	/* the terms; the ellipsis rank is the largest any input gives it */
	for (int pass = 0; pass < 2; pass++) {
		size_t at = 0;
		for (int k = 0; k < m->nin; k++) {
			size_t e = at;
			while (e < lhs && s[e] != ',')
				e++;
			if ((k + 1 < m->nin) != (e < lhs))
				return imp_err(m, "the equation has a different number of terms than inputs");
			int r = m->g->val[m->in[k]].shape.rank;
			if (parse_term(m, s + at, e - at, r, nell, &in[k]) < 0)
				return -1;
			int letters = 0;
			for (size_t i = at; i < e; i++)
				letters += isalpha((unsigned char)s[i]) != 0;
			if (pass == 0 && memchr(s + at, '.', e - at) && r - letters > nell)
				nell = r - letters;
			at = e + 1;
		}
	}
	/* the output term, explicit or implicit (ellipsis, then letters used once, sorted) */
	if (arrow) {
		if (parse_term(m, arrow + 2, strlen(arrow + 2), -1, nell, &outt) < 0)
			return -1;
	} else {
		outt.n = 0;
		for (int k = 0; k < nell; k++)
			outt.lab[outt.n++] = EL_BASE + k;
		for (int c = 'A'; c <= 'z'; c++) {
			int cnt = 0;
			for (int k = 0; k < m->nin; k++)
				for (int i = 0; i < in[k].n; i++)
					cnt += in[k].lab[i] == c;
			if (cnt == 1 && isalpha(c)) {
				if (outt.n == IR_MAX_RANK)
					return imp_err(m, "the output has more than %d dims", IR_MAX_RANK);
				outt.lab[outt.n++] = c;
			}
		}
	}
	/* the common order: output labels, then the summed ones */
	int all[IR_MAX_RANK], nall = 0;
	for (int i = 0; i < outt.n; i++) {
		for (int j = 0; j < i; j++)
			if (outt.lab[j] == outt.lab[i])
				return imp_err(m, "an output label appears twice");
		all[nall++] = outt.lab[i];
	}
	for (int k = 0; k < m->nin; k++) {
		if ((vals[k] = diagonals(m, m->in[k], &in[k])) < 0)
			return -1;
		for (int i = 0; i < in[k].n; i++) {
			int j = 0;
			while (j < nall && all[j] != in[k].lab[i])
				j++;
			if (j == nall) {
				if (nall == IR_MAX_RANK)
					return imp_err(m, "more than %d distinct labels", IR_MAX_RANK);
				all[nall++] = in[k].lab[i];
			}
		}
	}
	for (int i = 0; i < outt.n; i++) {
		bool found = false;
		for (int k = 0; k < m->nin; k++)
			for (int j = 0; j < in[k].n; j++)
				found |= in[k].lab[j] == outt.lab[i];
		if (!found)
			return imp_err(m, "an output label is not in any input");
	}
	/* each input transposed to the common order, reshaped to full rank */
	int prod = -1;
	for (int k = 0; k < m->nin; k++) {
		int x = vals[k], pos[IR_MAX_RANK];
		int64_t perm[IR_MAX_RANK], full[IR_MAX_RANK];
		int np = 0;
		for (int j = 0; j < nall; j++) {
			full[j] = 1;
			for (int i = 0; i < in[k].n; i++)
				if (in[k].lab[i] == all[j]) {
					perm[np] = i;
					pos[np++] = j;
				}
		}
		bool ident = true;
		for (int i = 0; i < np; i++)
			ident &= perm[i] == i;
		if (!ident) {
			int nd = imp_node(m, OP_TRANSPOSE, &x, 1, -1);
			ir_set_ints(m->g, nd, "perm", perm, np);
			if ((x = imp_infer(m, nd)) < 0)
				return -1;
		}
		const Shape *xs = &m->g->val[x].shape;
		for (int i = 0; i < np; i++)
			full[pos[i]] = xs->d[i].n;
		if (np != nall) {
			int nd = imp_node(m, OP_RESHAPE, &x, 1, -1);
			ir_set_ints(m->g, nd, "shape", full, nall);
			if ((x = imp_infer(m, nd)) < 0)
				return -1;
		}
		if (prod < 0) {
			prod = x;
		} else {
			int inm[2] = {prod, x};
			if ((prod = imp_infer(m, imp_node(m, OP_MUL, inm, 2, -1))) < 0)
				return -1;
		}
	}
	if (prod < 0)
		return imp_err(m, "needs at least one input");
	if (nall == outt.n)
		return node1(m, OP_IDENTITY, prod, 0) < 0 ? -1 : 0;
	int64_t axes[IR_MAX_RANK];
	for (int j = outt.n; j < nall; j++)
		axes[j - outt.n] = j;
	int nd = imp_node(m, OP_REDUCE_SUM, &prod, 1, 0);
	ir_set_ints(m->g, nd, "axes", axes, nall - outt.n);
	ir_set_int(m->g, nd, "keepdims", 0);
	return imp_infer(m, nd) < 0 ? -1 : 0;
}
