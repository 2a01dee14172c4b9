/* shape_move.c — shape rules of the data-movement ops: pad, transpose,
 * concat, reshape and flatten. Symbolic dims pass through unchanged where
 * an op does not touch them; reshape cancels dims copied with 0 and can
 * infer -1 as a lone leftover symbol. */
#include "shape.h"

#include <string.h>

/* Product of dims: known if all are; a zero makes it 0; a lone symbol
 * times known 1s stays that symbol; else unknown. false on overflow. */
static bool dim_prod(const Dim *d, int n, Dim *out)
{
	int64_t p = 1;
	int nunk = 0, sym = 0;
	bool zero = false;
	for (int i = 0; i < n; i++) {
		if (sh_known(d[i])) {
			if (d[i].n == 0)
				zero = true;
			else if (!ck_mul(p, d[i].n, &p))
				return false;
		} else {
			nunk++;
			sym = d[i].sym;
		}
	}
	if (zero)
		*out = sh_dim(0);
	else if (nunk == 0)
		*out = sh_dim(p);
	else if (nunk == 1 && sym > 0 && p == 1)
		*out = (Dim){-1, sym};
	else
		*out = sh_unknown();
	return true;
}

int shape_pad_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	const int64_t *p;
	int np = ir_attr_ints(c->n, "pads", &p);
	if (np != 2 * x->rank)
		return FAIL(c, "pads must have %d entries (2 * rank), got %d", 2 * x->rank, np);
	Shape *r = &c->osh[0];
	*r = *x;
	for (int i = 0; i < x->rank; i++) {
		int64_t b = p[i], e = p[x->rank + i], n;
		if (b < 0 || e < 0)
			return FAIL(c, "pads must be non-negative, got %lld", (long long)(b < 0 ? b : e));
		if (b == 0 && e == 0)
			continue;
		if (!sh_known(x->d[i]))
			r->d[i] = sh_unknown();
		else if (!ck_add(x->d[i].n, b, &n) || !ck_add(n, e, &n))
			return FAIL(c, "padded size overflows");
		else
			r->d[i] = sh_dim(n);
	}
	return 0;
}

int shape_transpose_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	const int64_t *p;
	int np = ir_attr_ints(c->n, "perm", &p);
	int64_t perm[IR_MAX_RANK];
	if (np < 0) {
		for (int i = 0; i < x->rank; i++)
			perm[i] = x->rank - 1 - i;
	} else if (np != x->rank) {
		return FAIL(c, "perm has %d entries but the input has rank %d", np, x->rank);
	} else {
		memcpy(perm, p, (size_t)np * sizeof *perm);
	}
	bool seen[IR_MAX_RANK] = {0};
	Shape *r = &c->osh[0];
	r->rank = x->rank;
	for (int i = 0; i < x->rank; i++) {
		if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]])
			return FAIL(c, "perm is not a permutation of 0..%d", x->rank - 1);
		seen[perm[i]] = true;
		r->d[i] = x->d[perm[i]];
	}
	return 0;
}

int shape_concat_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	int nin = c->n->nin;
	for (int k = 0; k < nin; k++)
		if (c->n->in[k] < 0) /* ops.def lets a variadic op's inputs past the first be `_` */
			return FAIL(c, "input %d is omitted; every concat input is required", k);
	for (int k = 1; k < nin; k++)
		if (sh_same_dtype(c, 0, k))
			return -1;
	int rank = -1, first = -1;
	char b1[256], b2[256];
	for (int k = 0; k < nin; k++) {
		int rk = c->ish[k].rank;
		if (rk < 0)
			continue;
		if (rank >= 0 && rk != rank)
			return FAIL(c, "input %d has rank %d but input %d has rank %d", k, rk, first, rank);
		rank = rk;
		if (first < 0)
			first = k;
	}
	for (int k = 0; k < nin; k++)
		if (c->ish[k].rank < 0)
			return 0;
	if (rank == 0)
		return FAIL(c, "cannot concatenate scalars");
	int64_t axis0 = ir_attr_int(c->n, "axis", 0);
	int axis = sh_norm_axis(axis0, rank);
	if (axis < 0)
		return FAIL(c, "axis %lld out of range for rank %d", (long long)axis0, rank);
	Shape r = c->ish[0];
	for (int k = 1; k < nin; k++) {
		const Shape *s = &c->ish[k];
		for (int i = 0; i < rank; i++) {
			if (i == axis)
				continue;
			Dim a = r.d[i], b = s->d[i];
			if (sh_known(a) && sh_known(b) && a.n != b.n)
				return FAIL(c, "input %d has shape %s, incompatible with %s off axis %d", k,
					sh_str(c, s, b1), sh_str(c, &c->ish[0], b2), axis);
			if (!sh_known(a) && (sh_known(b) || a.sym == 0))
				r.d[i] = b;
		}
	}
	int64_t sum = 0;
	for (int k = 0; k < nin; k++) {
		Dim a = c->ish[k].d[axis];
		if (!sh_known(a)) {
			sum = -1;
			break;
		}
		if (!ck_add(sum, a.n, &sum))
			return FAIL(c, "concatenated size overflows");
	}
	if (sum >= 0)
		r.d[axis] = sh_dim(sum);
	else if (nin > 1)
		r.d[axis] = sh_unknown();
	c->osh[0] = r;
	return 0;
}

/* reshape: 0 copies the input dim at that position, one -1 is inferred.
 * With symbolic inputs the copied dims cancel out; what remains must
 * still agree, and a lone leftover symbol can become the -1. */
int shape_reshape_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	const int64_t *s;
	int ns = ir_attr_ints(c->n, "shape", &s);
	char b1[256];
	if (ns < 0)
		return FAIL(c, "missing attribute shape");
	if (ns > IR_MAX_RANK)
		return FAIL(c, "shape has %d entries; at most %d dims are supported", ns, IR_MAX_RANK);
	int infer = -1;
	for (int i = 0; i < ns; i++) {
		if (s[i] < -1)
			return FAIL(c, "shape entry %lld is invalid", (long long)s[i]);
		if (s[i] == -1) {
			if (infer >= 0)
				return FAIL(c, "shape has more than one -1");
			infer = i;
		}
		if (s[i] == 0 && x->rank >= 0 && i >= x->rank)
			return FAIL(c, "shape entry %d is 0 but the input %s has no dim %d", i,
				sh_str(c, x, b1), i);
	}
	if (x->rank < 0) {
		for (int i = 0; i < ns; i++)
			if (s[i] <= 0)
				return 0;
		c->osh[0] = ir_shape_make(ns, s);
		return 0;
	}
	Shape r;
	r.rank = ns;
	bool copied[IR_MAX_RANK] = {0};
	int64_t pout = 1; /* product of the output's own (not copied) known dims */
	for (int i = 0; i < ns; i++) {
		if (s[i] == 0) {
			r.d[i] = x->d[i];
			copied[i] = true;
		} else if (s[i] > 0) {
			r.d[i] = sh_dim(s[i]);
			if (!ck_mul(pout, s[i], &pout))
				return FAIL(c, "shape size overflows");
		}
	}
	/* What the input keeps after cancelling copied dims. */
	int64_t pin = 1;
	int nleft = 0, leftsym = 0;
	bool zero = false;
	for (int i = 0; i < x->rank; i++) {
		if (copied[i])
			continue;
		if (sh_known(x->d[i])) {
			if (x->d[i].n == 0)
				zero = true;
			else if (!ck_mul(pin, x->d[i].n, &pin))
				return FAIL(c, "input size overflows");
		} else {
			nleft++;
			leftsym = x->d[i].sym;
		}
	}
	bool copyzero = false; /* a copied dim is 0: counts say nothing */
	for (int i = 0; i < ns; i++)
		if (copied[i] && sh_known(r.d[i]) && r.d[i].n == 0)
			copyzero = true;
	if (zero)
		pin = 0;
	char b2[256];
	if (nleft == 0) {
		if (infer >= 0) {
			if (copyzero || pout == 0 || pin % pout)
				return FAIL(c, "cannot reshape %s to %s", sh_str(c, x, b1),
					sh_ints_str(s, ns, b2));
			r.d[infer] = sh_dim(pin / pout);
		} else if (!copyzero && pin != pout) {
			return FAIL(c, "cannot reshape %s to %s: element counts differ", sh_str(c, x, b1),
				sh_ints_str(s, ns, b2));
		}
	} else if (infer >= 0) {
		if (nleft == 1 && leftsym > 0 && pin == pout && !copyzero)
			r.d[infer] = (Dim){-1, leftsym};
		else
			r.d[infer] = sh_unknown();
	}
	c->osh[0] = r;
	return 0;
}

int shape_flatten_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	int64_t axis = ir_attr_int(c->n, "axis", 1);
	if (axis < 0)
		axis += x->rank;
	if (axis < 0 || axis > x->rank)
		return FAIL(c, "axis %lld out of range 0..%d", (long long)ir_attr_int(c->n, "axis", 1),
			x->rank);
	Shape *r = &c->osh[0];
	r->rank = 2;
	if (!dim_prod(x->d, (int)axis, &r->d[0]) ||
		!dim_prod(x->d + axis, x->rank - (int)axis, &r->d[1]))
		return FAIL(c, "flattened size overflows");
	return 0;
}

