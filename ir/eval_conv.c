/* eval_conv.c — reference semantics of the windowed ops over 1, 2 or 3
 * spatial dims: conv, conv_transpose, maxpool and avgpool. Naive loops,
 * float64 accumulation. Every op is computed as 3-D, a 1-D or 2-D input
 * seen with leading spatial dims of extent 1 (window 1, stride 1, no
 * padding there). Attributes were validated by the shape rule that sized
 * the output, so only their defaults are applied here. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Window geometry as 3-D: index 0 depth, 1 height, 2 width. */
typedef struct Geo {
	int64_t N, C, K;       /* batch, input channels, output channels */
	int64_t in[3], out[3]; /* spatial extents of x and y */
	int64_t k[3];          /* window (kernel) extents */
	int64_t st[3], dil[3]; /* strides, dilations */
	int64_t pb[3], pe[3];  /* pads at the beginning and at the end */
} Geo;

static void ints_or(const Node *n, const char *name, int cnt, int64_t dflt, int64_t *v)
{
	const int64_t *a;
	if (ir_attr_ints(n, name, &a) == cnt)
		memcpy(v, a, (size_t)cnt * sizeof *v);
	else
		for (int i = 0; i < cnt; i++)
			v[i] = dflt;
}

/* Fills g from x, y and the attributes; kern gives the window (s values). */
static void geo(const Ev *e, const int64_t *kern, Geo *g)
{
	const Shape *xs = &e->in[0].shape, *ys = &e->out[0].shape;
	int s = xs->rank - 2, o = 3 - s;
	int64_t st[3], dil[3], pads[6];
	ints_or(e->n, "strides", s, 1, st);
	ints_or(e->n, "dilations", s, 1, dil);
	ints_or(e->n, "pads", 2 * s, 0, pads);
	g->N = xs->d[0].n;
	g->C = xs->d[1].n;
	g->K = ys->d[1].n;
	for (int i = 0; i < 3; i++) {
		bool sp = i >= o;
		g->in[i] = sp ? xs->d[2 + i - o].n : 1;
		g->out[i] = sp ? ys->d[2 + i - o].n : 1;
		g->k[i] = sp ? kern[i - o] : 1;
		g->st[i] = sp ? st[i - o] : 1;
		g->dil[i] = sp ? dil[i - o] : 1;
		g->pb[i] = sp ? pads[i - o] : 0;
		g->pe[i] = sp ? pads[s + i - o] : 0;
	}
}

/* The weight's kernel extents (dims 2..). */
static void wkern(const Ev *e, int64_t *kern)
{
	const Shape *ws = &e->in[1].shape;
	for (int i = 2; i < ws->rank; i++)
		kern[i - 2] = ws->d[i].n;
}

static int64_t vol(const int64_t *v) { return v[0] * v[1] * v[2]; }

/* y[n,k,o] = bias[k] + sum_{c,j} x[n, g*C/G + c, o*st - pb + j*dil] * w[k,c,j]
 * with g = k / (K/G); positions in the padding read 0. */
int ev_conv(const Ev *e)
{
	int64_t kern[3];
	Geo g;
	wkern(e, kern);
	geo(e, kern, &g);
	int64_t G = ir_attr_int(e->n, "group", 1), Cg = g.C / G, Kg = g.K / G;
	int64_t ivol = vol(g.in), ovol = vol(g.out), kvol = vol(g.k);
	bool hasb = e->n->nin > 2 && e->n->in[2] >= 0;
	double *x = ev_load_f64(&e->in[0]), *w = ev_load_f64(&e->in[1]);
	double *b = hasb ? ev_load_f64(&e->in[2]) : NULL;
	double *y = xmalloc((size_t)ev_numel(&e->out[0]) * 8 + 8);
	for (int64_t n = 0; n < g.N; n++)
	for (int64_t k = 0; k < g.K; k++)
	for (int64_t od = 0; od < g.out[0]; od++)
	for (int64_t oh = 0; oh < g.out[1]; oh++)
	for (int64_t ow = 0; ow < g.out[2]; ow++) {
		double acc = hasb ? b[k] : 0;
		int64_t c0 = k / Kg * Cg;
		for (int64_t c = 0; c < Cg; c++)
		for (int64_t i = 0; i < g.k[0]; i++) {
			int64_t pd = od * g.st[0] - g.pb[0] + i * g.dil[0];
			if (pd < 0 || pd >= g.in[0])
				continue;
			for (int64_t j = 0; j < g.k[1]; j++) {
				int64_t ph = oh * g.st[1] - g.pb[1] + j * g.dil[1];
				if (ph < 0 || ph >= g.in[1])
					continue;
				for (int64_t l = 0; l < g.k[2]; l++) {
					int64_t pw = ow * g.st[2] - g.pb[2] + l * g.dil[2];
					if (pw < 0 || pw >= g.in[2])
						continue;
					acc += x[(n * g.C + c0 + c) * ivol + (pd * g.in[1] + ph) * g.in[2] + pw] *
						w[(k * Cg + c) * kvol + (i * g.k[1] + j) * g.k[2] + l];
				}
			}
		}
		y[(n * g.K + k) * ovol + (od * g.out[1] + oh) * g.out[2] + ow] = acc;
	}
	ev_store_f64(&e->out[0], y);
	free(x);
	free(w);
	free(b);
	free(y);
	return 0;
}

/* The adjoint of conv: every input element scatters into the output,
 * y[n, g*K/G + k, i*st - pb + j*dil] += x[n, c, i] * w[c, k, j] with
 * g = c / (C/G), plus bias[k]; positions outside the output (the cropped
 * pads) are dropped. */
int ev_conv_transpose(const Ev *e)
{
	int64_t kern[3];
	Geo g;
	wkern(e, kern);
	geo(e, kern, &g);
	int64_t G = ir_attr_int(e->n, "group", 1), Cg = g.C / G, Kg = g.K / G;
	int64_t ivol = vol(g.in), ovol = vol(g.out), kvol = vol(g.k);
	bool hasb = e->n->nin > 2 && e->n->in[2] >= 0;
	double *x = ev_load_f64(&e->in[0]), *w = ev_load_f64(&e->in[1]);
	double *b = hasb ? ev_load_f64(&e->in[2]) : NULL;
	int64_t ny = ev_numel(&e->out[0]);
	double *y = xmalloc((size_t)ny * 8 + 8);
	for (int64_t n = 0; n < g.N; n++)
		for (int64_t k = 0; k < g.K; k++)
			for (int64_t i = 0; i < ovol; i++)
				y[(n * g.K + k) * ovol + i] = hasb ? b[k] : 0;
	for (int64_t n = 0; n < g.N; n++)
	for (int64_t c = 0; c < g.C; c++)
	for (int64_t id = 0; id < g.in[0]; id++)
	for (int64_t ih = 0; ih < g.in[1]; ih++)
	for (int64_t iw = 0; iw < g.in[2]; iw++) {
		double xv = x[(n * g.C + c) * ivol + (id * g.in[1] + ih) * g.in[2] + iw];
		int64_t k0 = c / Cg * Kg;
		for (int64_t k = 0; k < Kg; k++)
		for (int64_t i = 0; i < g.k[0]; i++) {
			int64_t pd = id * g.st[0] - g.pb[0] + i * g.dil[0];
			if (pd < 0 || pd >= g.out[0])
				continue;
			for (int64_t j = 0; j < g.k[1]; j++) {
				int64_t ph = ih * g.st[1] - g.pb[1] + j * g.dil[1];
				if (ph < 0 || ph >= g.out[1])
					continue;
				for (int64_t l = 0; l < g.k[2]; l++) {
					int64_t pw = iw * g.st[2] - g.pb[2] + l * g.dil[2];
					if (pw < 0 || pw >= g.out[2])
						continue;
					y[(n * g.K + k0 + k) * ovol + (pd * g.out[1] + ph) * g.out[2] + pw] +=
						xv * w[(c * Kg + k) * kvol + (i * g.k[1] + j) * g.k[2] + l];
				}
			}
		}
	}
	ev_store_f64(&e->out[0], y);
	free(x);
	free(w);
	free(b);
	free(y);
	return 0;
}

/* maxpool: padding acts as -inf, NaN propagates. avgpool: the divisor
 * counts window elements inside the input (count_include_pad = 0) or
 * inside the padded input [-pb, in + pe) per dim (= 1). */
int ev_pool(const Ev *e)
{
	const Shape *xs = &e->in[0].shape;
	bool ismax = e->n->op == OP_MAXPOOL;
	int s = xs->rank - 2;
	int64_t kern[3];
	Geo g;
	ints_or(e->n, "kernel", s, 1, kern);
	geo(e, kern, &g);
	bool cip = ir_attr_int(e->n, "count_include_pad", 0) != 0;
	int64_t NC = g.N * g.C, ivol = vol(g.in), ovol = vol(g.out);
	double *x = ev_load_f64(&e->in[0]);
	double *y = xmalloc((size_t)ev_numel(&e->out[0]) * 8 + 8);
	for (int64_t nc = 0; nc < NC; nc++)
	for (int64_t o = 0; o < ovol; o++) {
		int64_t oi[3] = {o / (g.out[1] * g.out[2]), o / g.out[2] % g.out[1], o % g.out[2]};
		double acc = ismax ? -INFINITY : 0;
		int64_t cnt = 0;
		for (int64_t r = 0; r < vol(g.k); r++) {
			int64_t ri[3] = {r / (g.k[1] * g.k[2]), r / g.k[2] % g.k[1], r % g.k[2]}, p[3];
			bool in = true, inpad = true;
			for (int a = 0; a < 3; a++) {
				p[a] = oi[a] * g.st[a] - g.pb[a] + ri[a] * g.dil[a];
				in = in && p[a] >= 0 && p[a] < g.in[a];
				inpad = inpad && p[a] < g.in[a] + g.pe[a];
			}
			if (cip ? inpad : in)
				cnt++;
			if (!in)
				continue;
			double v = x[nc * ivol + (p[0] * g.in[1] + p[1]) * g.in[2] + p[2]];
			if (!ismax)
				acc += v;
			else if (isnan(v) || v > acc)
				acc = isnan(acc) ? acc : v;
		}
		y[nc * ovol + o] = ismax ? acc : acc / (double)cnt;
	}
	ev_store_f64(&e->out[0], y);
	free(x);
	free(y);
	return 0;
}
