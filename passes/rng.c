/* rng.c — randomness in a compiled training step (docs/training.md
 * "Randomness"): the seed state, dropout and the data augmentation of
 * --augment, all drawing from random_uniform (Philox 4x32-10, ir/philox.c)
 * keyed by the `seed` state and the step counter.
 *
 * ps_rng_train runs first in ps_train, on the shape-inferred model:
 *   - the state `seed` (i64 scalar, role seed, 0 until the runtime sets
 *     it) and a placeholder for the step, which ps_rng_bind_step replaces
 *     by the optimizer's `step` state (steps completed: step 0 draws with
 *     counter step 0);
 *   - --augment=X:T1,T2,...: nodes in front of the model rewriting input X
 *     (NCHW f32) per sample: hflip, crop=P, contrast=C, in the order given;
 *   - each dropout(x) {ratio} becomes mask = random_uniform >= ratio,
 *     y = x * where(mask, 1 / (1 - ratio), 0), so autodiff differentiates
 *     an ordinary mul (zero where dropped).
 * Streams: the augmentation's draws take streams 0, 1, ... in the order
 * of the transforms (crop takes two: rows, then columns), then each dropout
 * one in node order. Outside --train, canon turns dropout into the
 * identity (ps_dropout_identity). Nodes built here are moved to where they
 * belong, so the node list stays in topological order. */
#include "passes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the --augment spec ----------------------------------------------------------- */

int ps_augment_parse(const char *spec, AugSpec *a, Diag *d)
{
	memset(a, 0, sizeof *a);
	const char *colon = spec ? strchr(spec, ':') : NULL;
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof a->input || !colon[1])
		return diag(d, "--augment wants INPUT:TRANSFORM,... (hflip, crop=P, contrast=C), got '%s'\n",
			spec ? spec : "");
	memcpy(a->input, spec, (size_t)(colon - spec));
	for (const char *p = colon + 1; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char t[64];
		if (len == 0 || len >= sizeof t)
			return diag(d, "--augment: bad transform '%.*s'\n", (int)len, p);
		memcpy(t, p, len);
		t[len] = 0;
		if (a->n == PS_MAX_AUGMENT)
			return diag(d, "--augment: more than %d transforms\n", PS_MAX_AUGMENT);
		AugStep *s = &a->step[a->n++];
		char *end = NULL;
		if (strcmp(t, "hflip") == 0) {
			s->kind = AUG_HFLIP;
		} else if (strncmp(t, "crop=", 5) == 0) {
			s->kind = AUG_CROP;
			long v = strtol(t + 5, &end, 10);
			if (end == t + 5 || *end || v < 1 || v > 1024)
				return diag(d, "--augment: crop wants a padding from 1 to 1024, got '%s'\n", t + 5);
			s->arg = (double)v;
		} else if (strncmp(t, "contrast=", 9) == 0) {
			s->kind = AUG_CONTRAST;
			s->arg = strtod(t + 9, &end);
			if (end == t + 9 || *end || !(s->arg >= 0 && s->arg <= 1))
				return diag(d, "--augment: contrast wants a number in [0, 1], got '%s'\n", t + 9);
		} else {
			return diag(d, "--augment: unknown transform '%s' (known: hflip, crop=P, contrast=C)\n", t);
		}
		p = e ? e + 1 : p + len;
	}
	return 0;
}

int ps_augment_check(const Graph *g, const char *spec, Diag *d)
{
	AugSpec a;
	if (ps_augment_parse(spec, &a, d) < 0)
		return -1;
	int v = ir_find_value(g, a.input);
	if (v < 0 || g->val[v].kind != VK_INPUT)
		return diag(d, "--augment: '%s' is not an input of the model\n", a.input);
	const Value *x = &g->val[v];
	if (x->dtype != DT_F32 || x->shape.rank != 4)
		return diag(d, "--augment: input '%s' must be an NCHW f32 tensor (rank 4)\n", a.input);
	return 0;
}

/* --- building ---------------------------------------------------------------------- */

typedef struct Rb {
	Graph *g;         /* graph being extended */
	Diag *d;          /* errors */
	const char *name; /* node name */
	int rc;           /* -1 once a shape rule failed */
	int stream;       /* next stream */
	int seed, step;   /* the seed state and the step placeholder */
} Rb;

/* Appends op over in (one output); set attributes, then done(). */
static int node(Rb *b, Op op, const int *in, int nin)
{
	return ir_add_node(b->g, op, b->name, in, nin, 1, NULL);
}

/* Infers node n; returns its output value. */
static int done(Rb *b, int n)
{
	if (ir_infer_node(b->g, n, b->d) < 0)
		b->rc = -1;
	return ir_out(b->g, n, 0);
}

static int op2(Rb *b, Op op, int x, int y)
{
	int in[2] = {x, y};
	return done(b, node(b, op, in, y >= 0 ? 2 : 1));
}

static int scalar(Rb *b, DType t, double v)
{
	unsigned char buf[8];
	ir_elem_put(t, buf, v);
	return ir_add_const(b->g, "rng.c", t, ir_shape_make(0, NULL), buf, ir_dtype_size(t), false);
}

/* An i64 constant of shape s holding 0, 1, ... along its one non-1 dim. */
static int iota(Rb *b, Shape s, int64_t n, int64_t first, int64_t dir)
{
	int64_t *v = xmalloc((size_t)n * sizeof *v);
	for (int64_t i = 0; i < n; i++)
		v[i] = first + dir * i;
	int c = ir_add_const(b->g, "rng.iota", DT_I64, s, v, (size_t)n * sizeof *v, false);
	free(v);
	return c;
}

/* random_uniform of shape s on the next stream. */
static int uniform(Rb *b, Shape s)
{
	int in[2] = {b->seed, b->step};
	int n = node(b, OP_RANDOM_UNIFORM, in, 2);
	int64_t dims[IR_MAX_RANK];
	for (int i = 0; i < s.rank; i++)
		dims[i] = s.d[i].n;
	ir_set_ints(b->g, n, "shape", dims, s.rank);
	ir_set_int(b->g, n, "stream", b->stream++);
	return done(b, n);
}

static int expand(Rb *b, int x, const int64_t *dims)
{
	int n = node(b, OP_EXPAND, &x, 1);
	ir_set_ints(b->g, n, "shape", dims, 4);
	return done(b, n);
}

static int gather(Rb *b, int x, int idx, int axis)
{
	int in[2] = {x, idx};
	int n = node(b, OP_GATHER_ELEMENTS, in, 2);
	ir_set_int(b->g, n, "axis", axis);
	return done(b, n);
}

/* floor(u * k) limited to [0, k - 1], as i64 (u in [0, 1): the limit
 * only guards the f32 product rounding up to k). */
static int below(Rb *b, int u, int64_t k)
{
	int f = op2(b, OP_FLOOR, op2(b, OP_MUL, u, scalar(b, DT_F32, (double)k)), -1);
	int n = node(b, OP_CLIP, &f, 1);
	ir_set_float(b->g, n, "min", 0);
	ir_set_float(b->g, n, "max", (double)(k - 1));
	int c = done(b, n);
	n = node(b, OP_CAST, &c, 1);
	ir_set_string(b->g, n, "to", "i64");
	return done(b, n);
}

/* y[n, c, h, w] = x[n, c, h, flip[n] ? W-1-w : w], flip = u < 0.5 */
static int hflip(Rb *b, int x, const int64_t *dim)
{
	int64_t n1[4] = {dim[0], 1, 1, 1}, w1[4] = {1, 1, 1, dim[3]};
	int flip = op2(b, OP_LESS, uniform(b, ir_shape_make(4, n1)), scalar(b, DT_F32, 0.5));
	Shape sw = ir_shape_make(4, w1);
	int in[3] = {flip, iota(b, sw, dim[3], dim[3] - 1, -1), iota(b, sw, dim[3], 0, 1)};
	int idx = done(b, node(b, OP_WHERE, in, 3));
	return gather(b, x, expand(b, idx, dim), 3);
}

/* Zero padding p on each side of H and W, then the H x W window at a
 * random offset (0..2p each way, per sample). */
static int crop(Rb *b, int x, const int64_t *dim, int64_t p)
{
	int n = node(b, OP_PAD, &x, 1);
	int64_t pads[8] = {0, 0, p, p, 0, 0, p, p};
	ir_set_ints(b->g, n, "pads", pads, 8);
	int xp = done(b, n);
	int64_t n1[4] = {dim[0], 1, 1, 1}, h1[4] = {1, 1, dim[2], 1}, w1[4] = {1, 1, 1, dim[3]};
	int oy = below(b, uniform(b, ir_shape_make(4, n1)), 2 * p + 1);
	int ox = below(b, uniform(b, ir_shape_make(4, n1)), 2 * p + 1);
	int rows = op2(b, OP_ADD, iota(b, ir_shape_make(4, h1), dim[2], 0, 1), oy);
	int64_t mid[4] = {dim[0], dim[1], dim[2], dim[3] + 2 * p};
	int y = gather(b, xp, expand(b, rows, mid), 2);
	int cols = op2(b, OP_ADD, iota(b, ir_shape_make(4, w1), dim[3], 0, 1), ox);
	return gather(b, y, expand(b, cols, dim), 3);
}

/* mean + f * (x - mean), f = 1 - c + 2c u, mean over the sample's C, H, W */
static int contrast(Rb *b, int x, const int64_t *dim, double c)
{
	int64_t n1[4] = {dim[0], 1, 1, 1}, axes[3] = {1, 2, 3};
	int u = uniform(b, ir_shape_make(4, n1));
	int f = op2(b, OP_ADD, scalar(b, DT_F32, 1 - c), op2(b, OP_MUL, scalar(b, DT_F32, 2 * c), u));
	int n = node(b, OP_REDUCE_MEAN, &x, 1);
	ir_set_ints(b->g, n, "axes", axes, 3);
	ir_set_int(b->g, n, "keepdims", 1);
	int m = done(b, n);
	return op2(b, OP_ADD, m, op2(b, OP_MUL, f, op2(b, OP_SUB, x, m)));
}

/* Moves nodes [from, nnode) to position pos (pos <= from), keeping the
 * order within each run; fixes the defs of every moved output. */
static void move_tail(Graph *g, int pos, int from)
{
	int cnt = g->nnode - from;
	if (cnt <= 0 || pos == from)
		return;
	Node *tail = xmalloc((size_t)cnt * sizeof *tail);
	memcpy(tail, &g->node[from], (size_t)cnt * sizeof *tail);
	memmove(&g->node[pos + cnt], &g->node[pos], (size_t)(from - pos) * sizeof *tail);
	memcpy(&g->node[pos], tail, (size_t)cnt * sizeof *tail);
	free(tail);
	for (int i = pos; i < g->nnode; i++)
		for (int k = 0; k < g->node[i].nout; k++)
			g->val[g->node[i].out[k]].def = i;
}

/* Uses of value `from` by nodes [lo, hi) and by graph outputs become `to`. */
static void replace_in(Graph *g, int lo, int hi, int from, int to)
{
	for (int i = lo; i < hi; i++)
		for (int k = 0; k < g->node[i].nin; k++)
			if (g->node[i].in[k] == from)
				g->node[i].in[k] = to;
	for (int i = 0; i < g->noutput; i++)
		if (g->output[i] == from)
			g->output[i] = to;
}

static int augment(Rb *b, const char *spec, int *out)
{
	AugSpec a;
	if (ps_augment_check(b->g, spec, b->d) < 0 || ps_augment_parse(spec, &a, b->d) < 0)
		return -1;
	int x = ir_find_value(b->g, a.input), v;
	if (!ir_shape_static(&b->g->val[x].shape))
		return diag(b->d, "--augment: input '%s' needs a static shape (bind it with --shape)\n", a.input);
	int64_t dim[4];
	for (int i = 0; i < 4; i++)
		dim[i] = b->g->val[x].shape.d[i].n;
	int n0 = b->g->nnode;
	b->name = "augment";
	v = x;
	for (int i = 0; i < a.n; i++) {
		const AugStep *s = &a.step[i];
		v = s->kind == AUG_HFLIP ? hflip(b, v, dim)
		    : s->kind == AUG_CROP ? crop(b, v, dim, (int64_t)s->arg)
		                          : contrast(b, v, dim, s->arg);
	}
	if (b->rc < 0)
		return -1;
	char name[160];
	snprintf(name, sizeof name, "augment.%s", a.input);
	ir_rename_value(b->g, v, ir_unique_name(b->g, name));
	replace_in(b->g, 0, n0, x, v);
	move_tail(b->g, 0, n0);
	*out = v;
	return 0;
}

/* dropout node i -> the mask and the scaled product, moved right after it;
 * returns the count of nodes built. */
static int dropout(Rb *b, int i)
{
	Graph *g = b->g;
	int x = g->node[i].in[0], y = g->node[i].out[0], mask = g->node[i].out[1];
	double r = ir_attr_float(&g->node[i], "ratio", 0.5);
	if (!ir_shape_static(&g->val[x].shape))
		return diag(b->d, "node %d (dropout \"%s\"): needs a static shape (bind the batch size "
			"with --shape)\n", i, g->node[i].name);
	DType t = g->val[x].dtype;
	int n0 = g->nnode;
	b->name = g->node[i].name;
	int keep = op2(b, OP_GREATER_EQUAL, uniform(b, g->val[x].shape), scalar(b, DT_F32, r));
	int in[3] = {keep, scalar(b, t, 1 / (1 - r)), scalar(b, t, 0)};
	int s = done(b, node(b, OP_WHERE, in, 3));
	int y2 = op2(b, OP_MUL, x, s);
	if (b->rc < 0)
		return -1;
	g->node[i].dead = true;
	replace_in(g, 0, n0, y, y2);
	replace_in(g, 0, n0, mask, keep);
	move_tail(g, i + 1, n0);
	return g->nnode - n0;
}

int ps_rng_train(Graph *g, const TrainOptions *t, RngState *st, Diag *d)
{
	st->step = st->seed = st->augmented = -1;
	bool any = t->augment != NULL;
	for (int i = 0; i < g->nnode && !any; i++)
		any = !g->node[i].dead && g->node[i].op == OP_DROPOUT;
	if (!any)
		return 0;
	Shape sc = ir_shape_make(0, NULL);
	Rb b = {g, d, "rng", 0, 0, -1, -1};
	b.seed = ir_add_const(g, ir_unique_name(g, "seed"), DT_I64, sc, NULL, 8, false);
	g->val[b.seed].state = IR_STATE_SEED;
	b.step = ir_add_const(g, ir_unique_name(g, "rng.step"), DT_I64, sc, NULL, 8, false);
	st->seed = b.seed;
	st->step = b.step;
	if (t->augment && augment(&b, t->augment, &st->augmented) < 0)
		return -1;
	for (int i = 0; i < g->nnode; i++) {
		if (g->node[i].dead || g->node[i].op != OP_DROPOUT)
			continue;
		int n = dropout(&b, i);
		if (n < 0)
			return -1;
		i += n;
	}
	return 0;
}

void ps_rng_bind_step(Graph *g, const RngState *st)
{
	if (st->step < 0)
		return;
	int step = -1;
	for (int v = 0; v < g->nval && step < 0; v++)
		if (g->val[v].kind == VK_CONST && g->val[v].state == IR_STATE_STEP)
			step = v;
	if (step >= 0)
		replace_in(g, 0, g->nnode, st->step, step);
}

bool ps_dropout_identity(Graph *g, int node)
{
	Node *n = &g->node[node];
	int x = n->in[0], y = n->out[0], mask = n->out[1];
	for (int i = 0; i < g->noutput; i++)
		if (g->output[i] == mask || g->output[i] == y)
			return false; /* keeps the node: lowering reports it */
	for (int i = 0; i < g->nnode; i++)
		for (int k = 0; k < g->node[i].nin && !g->node[i].dead; k++)
			if (g->node[i].in[k] == mask)
				return false;
	ir_replace_uses(g, y, x);
	n->dead = true;
	return true;
}
