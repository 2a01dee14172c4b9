/* dsl_init.c — parameter initializers (docs/language.md, "Initializers"),
 * drawn at compile time. Each parameter has its own random stream, seeded
 * by splitmix64 from the model's seed (`seed N`, default 0) and the FNV-1a
 * hash of the parameter's full name, so adding a parameter never changes
 * another's values. Uniform numbers take 53 bits of a splitmix64 output;
 * normal ones come from Box-Muller. Fan-in and fan-out follow PyTorch's
 * _calculate_fan_in_and_fan_out: fan_in = dim 1 times the receptive field
 * (dims 2...), fan_out = dim 0 times it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_impl.h"

typedef struct Rng {
	uint64_t s;       /* splitmix64 state */
	bool have;        /* a second Box-Muller normal is waiting */
	double spare;     /* that normal */
} Rng;

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(Rng *r) /* [0, 1) */
{
	return (double)(mix(&r->s) >> 11) * 0x1.0p-53;
}

static double gauss(Rng *r)
{
	if (r->have) {
		r->have = false;
		return r->spare;
	}
	double u1 = 1 - unif(r), u2 = unif(r); /* u1 in (0, 1] */
	double m = sqrt(-2 * log(u1));
	r->spare = m * sin(2 * M_PI * u2);
	r->have = true;
	return m * cos(2 * M_PI * u2);
}

static Rng rng_for(uint64_t seed, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	Rng r = {seed ^ h, false, 0};
	mix(&r.s);
	return r;
}

static const char *const inits[] = {"zeros", "ones", "constant", "uniform", "normal",
				    "xavier_uniform", "xavier_normal", "glorot_uniform",
				    "glorot_normal", "he_uniform", "he_normal", "kaiming_uniform",
				    "kaiming_normal"};

bool nn_is_init(const char *name)
{
	for (size_t i = 0; i < sizeof inits / sizeof *inits; i++)
		if (strcmp(name, inits[i]) == 0)
			return true;
	return false;
}

/* Fills and adds the parameter: kind is the canonical initializer name
 * (zeros/ones map to constant; glorot to xavier; kaiming to he), p0/p1
 * its numbers. */
static int fill(NnB *b, const char *q, DType dt, Shape s, const char *kind, double p0, double p1)
{
	int64_t n = ir_shape_numel(&s);
	size_t es = ir_dtype_size(dt);
	unsigned char *buf = xmalloc((size_t)(n > 0 ? n : 1) * es);
	Rng r = rng_for(b->seed, q);
	int64_t recept = 1;
	for (int i = 2; i < s.rank; i++)
		recept *= s.d[i].n;
	double fan_in = s.rank >= 2 ? (double)(s.d[1].n * recept) : 1;
	double fan_out = s.rank >= 2 ? (double)(s.d[0].n * recept) : 1;
	double lo = p0, hi = p1, mean = p0, sd = p1;
	bool normal = strcmp(kind, "normal") == 0;
	if (strncmp(kind, "xavier", 6) == 0) {
		normal = strcmp(kind, "xavier_normal") == 0;
		double base = p0 * sqrt(2.0 / (fan_in + fan_out));
		hi = base * sqrt(3.0);
		lo = -hi;
		mean = 0;
		sd = base;
	} else if (strncmp(kind, "he", 2) == 0) {
		normal = strcmp(kind, "he_normal") == 0;
		double std = sqrt(2.0 / (1 + p0 * p0)) / sqrt(fan_in);
		hi = std * sqrt(3.0);
		lo = -hi;
		mean = 0;
		sd = std;
	}
	for (int64_t i = 0; i < n; i++) {
		double v = strcmp(kind, "constant") == 0 ? p0
			: normal ? mean + sd * gauss(&r) : lo + (hi - lo) * unif(&r);
		ir_elem_put(dt, buf + (size_t)i * es, v);
	}
	int v = ir_add_const(b->g, q, dt, s, buf, (size_t)(n > 0 ? n : 0) * es, true);
	free(buf);
	b->nparams++;
	return v;
}

enum { MAX_PARAM_ELEMS = 1 << 28 }; /* elements of one parameter (1 GiB of f32) */

int nn_param_fits(NnB *b, const char *q, Shape s, const NnTok *t)
{
	int64_t n = ir_shape_numel(&s);
	if (n < 0 || n > MAX_PARAM_ELEMS)
		return nn_err(b->src, t, NULL, "parameter '%s' is too large (more than 2^28 elements)", q);
	return 0;
}

int nn_param_builtin(NnB *b, const char *q, Shape s, const char *init, double p0, double p1,
		     const NnTok *t)
{
	if (nn_param_fits(b, q, s, t) < 0)
		return -1;
	if (ir_find_value(b->g, q) >= 0)
		return nn_err(b->src, t, NULL, "parameter name '%s' is taken", q);
	return fill(b, q, DT_F32, s, init, p0, p1);
}

int nn_param_init(NnB *b, NnScope *sc, const char *q, DType dt, Shape s, const NnExpr *e)
{
	if (e->kind != NE_NAME && e->kind != NE_CALL)
		return nn_err(b->src, &e->tok, "initializers: zeros ones constant(v) uniform(a, b) "
			      "normal(mean, std) xavier_uniform xavier_normal he_uniform he_normal",
			      "expected an initializer");
	const char *name = e->name;
	if (!nn_is_init(name)) {
		const char *near = nn_nearest(name, inits, (int)(sizeof inits / sizeof *inits));
		char h[160];
		if (near)
			snprintf(h, sizeof h, "did you mean '%s'?", near);
		return nn_err(b->src, &e->tok, near ? h : "initializers: zeros ones constant(v) "
			      "uniform(a, b) normal(mean, std) xavier_uniform xavier_normal he_uniform "
			      "he_normal", "unknown initializer '%s'", name);
	}
	const char *kind = name;
	double p[2] = {0, 1};
	int minp = 0, maxp = 0;
	const char *keys[2] = {NULL, NULL};
	if (strcmp(name, "zeros") == 0 || strcmp(name, "ones") == 0) {
		kind = "constant";
		p[0] = name[0] == 'o';
	} else if (strcmp(name, "constant") == 0) {
		minp = maxp = 1;
		keys[0] = "value";
	} else if (strcmp(name, "uniform") == 0) {
		maxp = 2;
		keys[0] = "a";
		keys[1] = "b";
	} else if (strcmp(name, "normal") == 0) {
		maxp = 2;
		keys[0] = "mean";
		keys[1] = "std";
	} else if (strstr(name, "xavier") || strstr(name, "glorot")) {
		maxp = 1;
		p[0] = 1;
		keys[0] = "gain";
		kind = strstr(name, "normal") ? "xavier_normal" : "xavier_uniform";
	} else {
		maxp = 1;
		p[0] = 0;
		keys[0] = "a";
		kind = strstr(name, "normal") ? "he_normal" : "he_uniform";
	}
	int np = 0;
	bool set[2] = {false, false};
	for (int i = 0; e->kind == NE_CALL && i < e->narg; i++) {
		int k = np;
		if (e->kw[i]) {
			k = -1;
			for (int j = 0; j < maxp; j++)
				if (strcmp(e->kw[i], keys[j]) == 0)
					k = j;
			if (k < 0)
				return nn_err(b->src, &e->kwtok[i], NULL, "%s has no argument '%s'", name, e->kw[i]);
		} else {
			np++;
		}
		if (k >= maxp || set[k])
			return nn_err(b->src, &e->arg[i]->tok, NULL, k >= maxp ? "%s takes at most %d arguments"
				      : "%s: an argument given twice", name, maxp);
		NnVal v = nn_eval(b, sc, e->arg[i]);
		if (v.kind == SY_ERROR)
			return -1;
		if (v.kind != SY_NUM || !isfinite(v.num))
			return nn_err(b->src, &e->arg[i]->tok, NULL, "%s takes numbers", name);
		p[k] = v.num;
		set[k] = true;
	}
	if (minp && !set[0])
		return nn_err(b->src, &e->tok, NULL, "%s needs its value: constant(0.1)", name);
	bool random = strcmp(kind, "constant") != 0;
	if (random && !ir_dtype_is_float(dt))
		return nn_err(b->src, &e->tok, NULL, "%s draws floats, the parameter is %s", name,
			      ir_dtype_name(dt));
	if (strcmp(kind, "uniform") == 0 && p[0] > p[1])
		return nn_err(b->src, &e->tok, NULL, "uniform(a, b) needs a <= b, got %g > %g", p[0], p[1]);
	if (strcmp(kind, "normal") == 0 && p[1] < 0)
		return nn_err(b->src, &e->tok, NULL, "normal's std must be >= 0, got %g", p[1]);
	if ((strncmp(kind, "xavier", 6) == 0 || strncmp(kind, "he", 2) == 0)) {
		if (s.rank < 2)
			return nn_err(b->src, &e->tok, "use uniform(a, b) or normal(mean, std) for vectors",
				      "%s needs a parameter of rank 2 or more (fan-in and fan-out)", name);
		if (ir_shape_numel(&s) == 0)
			return nn_err(b->src, &e->tok, NULL, "%s of an empty parameter", name);
	}
	if (nn_param_fits(b, q, s, &e->tok) < 0)
		return -1;
	if (ir_find_value(b->g, q) >= 0)
		return nn_err(b->src, &e->tok, NULL, "parameter name '%s' is taken", q);
	return fill(b, q, dt, s, kind, p[0], p[1]);
}
