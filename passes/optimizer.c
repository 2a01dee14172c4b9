/* optimizer.c — the optimizer of a training step as graph nodes: turns
 * trained parameters into training state (Value.state, ir.h) updated by
 * `assign` from their gradients, with PyTorch's update rules
 * (torch.optim.SGD with momentum/dampening/nesterov/weight_decay, Adam,
 * AdamW; docs/training.md gives the formulas).
 *
 * Besides the parameters it adds the state `lr` (f32 scalar, the learning
 * rate: the runtime sets it between steps, so schedules need no
 * recompile), `step` (i64 scalar, steps completed; Adam's bias correction
 * and SGD's first momentum step read it) and per parameter P the slots
 * `P.momentum_buffer` (SGD with momentum) or `P.exp_avg` and
 * `P.exp_avg_sq` (Adam/AdamW), all zero at first. Every update is written
 * in ordinary elementwise ops (fusion makes one kernel of each), and all
 * assign nodes come last, after every read of the old values. */
#include "passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What the builders share. */
typedef struct Ob {
	Graph *g;         /* graph being extended */
	Diag *d;          /* errors */
	const char *name; /* node name for diagnostics ("optimizer/P") */
	int rc;           /* -1 once a shape rule failed */
} Ob;

static int scalar(Ob *b, DType t, double x)
{
	unsigned char buf[8];
	ir_elem_put(t, buf, x);
	return ir_add_const(b->g, "optim.c", t, ir_shape_make(0, NULL), buf, ir_dtype_size(t), false);
}

/* Appends op(a[, b]) and infers its output; returns the output value. */
static int op2(Ob *b, Op op, int x, int y)
{
	int in[2] = {x, y};
	int node = ir_add_node(b->g, op, b->name, in, y >= 0 ? 2 : 1, 1, NULL);
	if (ir_infer_node(b->g, node, b->d) < 0)
		b->rc = -1;
	return ir_out(b->g, node, 0);
}

static int add(Ob *b, int x, int y) { return op2(b, OP_ADD, x, y); }
static int sub(Ob *b, int x, int y) { return op2(b, OP_SUB, x, y); }
static int mul(Ob *b, int x, int y) { return op2(b, OP_MUL, x, y); }
static int divv(Ob *b, int x, int y) { return op2(b, OP_DIV, x, y); }

/* c * x for a number c (no node when c is 1). */
static int scale(Ob *b, double c, int x)
{
	return c == 1 ? x : mul(b, scalar(b, b->g->val[x].dtype, c), x);
}

static int cast(Ob *b, int x, const char *to)
{
	int node = ir_add_node(b->g, OP_CAST, b->name, &x, 1, 1, NULL);
	ir_set_string(b->g, node, "to", to);
	if (ir_infer_node(b->g, node, b->d) < 0)
		b->rc = -1;
	return ir_out(b->g, node, 0);
}

/* New training state: zeros of param p's type, or a scalar. */
static int state(Ob *b, const char *name, DType t, Shape s, int role, double init)
{
	int64_t numel = ir_shape_numel(&s);
	size_t nbytes = (size_t)numel * ir_dtype_size(t);
	int v = ir_add_const(b->g, name, t, s, NULL, nbytes, false); /* zero-filled */
	if (init != 0)
		ir_elem_put(t, b->g->val[v].data, init);
	b->g->val[v].state = role;
	return v;
}

static void assign(Ob *b, int st, int v)
{
	int in[2] = {st, v};
	int node = ir_add_node(b->g, OP_ASSIGN, b->name, in, 2, 0, NULL);
	if (ir_infer_node(b->g, node, b->d) < 0)
		b->rc = -1;
}

static int check_param(Graph *g, int p, int gr, Diag *d)
{
	const Value *x = &g->val[p];
	if (x->kind != VK_CONST || !x->param || x->state || !x->data)
		return diag(d, "optimizer: %%%s is not a parameter with data", x->name);
	if (x->dtype != DT_F32 || !ir_shape_static(&x->shape))
		return diag(d, "optimizer: parameter %%%s is %s: only f32 parameters with static shapes "
			"are trained", x->name, ir_dtype_name(x->dtype));
	const Value *y = &g->val[gr];
	if (y->dtype != x->dtype || !ir_shape_eq(&y->shape, &x->shape))
		return diag(d, "optimizer: the gradient %%%s of %%%s has another type", y->name, x->name);
	return 0;
}

/* One parameter's SGD update; adds its assigns to as[] (pairs). */
static int sgd(Ob *b, const OptimSpec *o, int p, int gr, int lr, int c1, int *as)
{
	Graph *g = b->g;
	int n = 0, gg = gr;
	if (o->weight_decay != 0)
		gg = add(b, gg, scale(b, o->weight_decay, p));
	if (o->momentum != 0) {
		const char *nm = arena_printf(&g->arena, "%s.momentum_buffer", g->val[p].name);
		int buf = state(b, nm, g->val[p].dtype, g->val[p].shape, IR_STATE_OPTIM, 0);
		/* the first step copies the gradient (buf is 0, c1 is 1), later
		 * ones weigh it by 1 - dampening (c1) */
		int nb = add(b, scale(b, o->momentum, buf), c1 >= 0 ? mul(b, c1, gg) : gg);
		as[n++] = buf;
		as[n++] = nb;
		gg = o->nesterov ? add(b, gg, scale(b, o->momentum, nb)) : nb;
	}
	as[n++] = p;
	as[n++] = sub(b, p, mul(b, lr, gg));
	return n;
}

/* Scalars Adam shares between parameters. */
typedef struct AdamScalars {
	int step_size; /* lr / (1 - beta1^t) */
	int sbc2;      /* sqrt(1 - beta2^t) */
	int decay;     /* AdamW: 1 - lr * weight_decay, else -1 */
} AdamScalars;

static int adam(Ob *b, const OptimSpec *o, const AdamScalars *a, int p, int gr, int *as)
{
	Graph *g = b->g;
	DType t = g->val[p].dtype;
	int n = 0, gg = gr, pp = p;
	if (o->kind == OPTIM_ADAM && o->weight_decay != 0)
		gg = add(b, gg, scale(b, o->weight_decay, p));
	if (a->decay >= 0)
		pp = mul(b, p, a->decay);
	const char *n1 = arena_printf(&g->arena, "%s.exp_avg", g->val[p].name);
	const char *n2 = arena_printf(&g->arena, "%s.exp_avg_sq", g->val[p].name);
	int m = state(b, n1, t, g->val[p].shape, IR_STATE_OPTIM, 0);
	int v = state(b, n2, t, g->val[p].shape, IR_STATE_OPTIM, 0);
	int m1 = add(b, scale(b, o->beta1, m), scale(b, 1 - o->beta1, gg));
	int v1 = add(b, scale(b, o->beta2, v), scale(b, 1 - o->beta2, mul(b, gg, gg)));
	int denom = add(b, divv(b, op2(b, OP_SQRT, v1, -1), a->sbc2), scalar(b, t, o->eps));
	as[n++] = m;
	as[n++] = m1;
	as[n++] = v;
	as[n++] = v1;
	as[n++] = p;
	as[n++] = sub(b, pp, mul(b, a->step_size, divv(b, m1, denom)));
	return n;
}

int ps_optimizer(Graph *g, const OptimSpec *o, const int *param, const int *grad, int n, Diag *d)
{
	for (int i = 0; i < n; i++)
		if (check_param(g, param[i], grad[i], d) < 0)
			return -1;
	if (o->lr < 0 || !isfinite(o->lr))
		return diag(d, "optimizer: invalid learning rate %g", o->lr);
	Ob b = {g, d, "optimizer", 0};
	Shape sc = ir_shape_make(0, NULL);
	int lr = state(&b, "lr", DT_F32, sc, IR_STATE_LR, o->lr);
	int step = state(&b, "step", DT_I64, sc, IR_STATE_STEP, 0);
	int next = add(&b, step, scalar(&b, DT_I64, 1)); /* t: this step's number, from 1 */
	int c1 = -1;
	AdamScalars a = {-1, -1, -1};
	if (o->kind == OPTIM_SGD && o->momentum != 0 && o->dampening != 0) {
		/* first = 1 on step 0, else 0; c1 = 1 - dampening * (1 - first) */
		int done = op2(&b, OP_CLIP, cast(&b, step, "f32"), -1);
		ir_set_float(g, g->val[done].def, "min", 0);
		ir_set_float(g, g->val[done].def, "max", 1);
		c1 = sub(&b, scalar(&b, DT_F32, 1), scale(&b, o->dampening, done));
	} else if (o->kind != OPTIM_SGD) {
		/* the bias corrections in f64, as PyTorch's Python floats: in f32,
		 * 1 - 0.999f^t is off by 1e-5 relative, and every step with it */
		int tf = cast(&b, next, "f64");
		int one = scalar(&b, DT_F64, 1);
		int bc1 = sub(&b, one, op2(&b, OP_POW, scalar(&b, DT_F64, o->beta1), tf));
		int bc2 = sub(&b, one, op2(&b, OP_POW, scalar(&b, DT_F64, o->beta2), tf));
		a.step_size = cast(&b, divv(&b, cast(&b, lr, "f64"), bc1), "f32");
		a.sbc2 = cast(&b, op2(&b, OP_SQRT, bc2, -1), "f32");
		if (o->kind == OPTIM_ADAMW && o->weight_decay != 0)
			a.decay = sub(&b, scalar(&b, DT_F32, 1), scale(&b, o->weight_decay, lr));
	}
	int *as = xmalloc((size_t)(6 * n + 2) * sizeof *as), na = 0;
	for (int i = 0; i < n; i++) {
		b.name = arena_printf(&g->arena, "optimizer/%s", g->val[param[i]].name);
		na += o->kind == OPTIM_SGD ? sgd(&b, o, param[i], grad[i], lr, c1, as + na)
			: adam(&b, o, &a, param[i], grad[i], as + na);
		g->val[param[i]].state = IR_STATE_PARAM;
	}
	b.name = "optimizer";
	as[na++] = step;
	as[na++] = next;
	for (int k = 0; k < na && b.rc == 0; k += 2) /* after every read of the old values */
		assign(&b, as[k], as[k + 1]);
	free(as);
	return b.rc;
}

/* --- the --optimizer spec ------------------------------------------------- */

static int set_key(OptimSpec *o, const char *k, size_t kn, double x, Diag *d)
{
#define KEY(s) (kn == strlen(s) && memcmp(k, s, kn) == 0)
	bool sgd = o->kind == OPTIM_SGD;
	if (KEY("lr"))
		o->lr = x;
	else if (KEY("weight_decay"))
		o->weight_decay = x;
	else if (sgd && KEY("momentum"))
		o->momentum = x;
	else if (sgd && KEY("dampening"))
		o->dampening = x;
	else if (sgd && KEY("nesterov"))
		o->nesterov = x != 0;
	else if (!sgd && (KEY("beta1") || KEY("betas")))
		o->beta1 = x;
	else if (!sgd && KEY("beta2"))
		o->beta2 = x;
	else if (!sgd && KEY("eps"))
		o->eps = x;
	else
		return diag(d, "--optimizer: unknown setting '%.*s' for %s (sgd: lr, momentum, dampening, "
			"nesterov, weight_decay; adam, adamw: lr, beta1, beta2, eps, weight_decay)",
			(int)kn, k, sgd ? "sgd" : o->kind == OPTIM_ADAM ? "adam" : "adamw");
#undef KEY
	return 0;
}

int ps_parse_optimizer(const char *spec, OptimSpec *o, Diag *d)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	memset(o, 0, sizeof *o);
	o->beta1 = 0.9;
	o->beta2 = 0.999;
	o->eps = 1e-8;
	if (n == 3 && memcmp(spec, "sgd", 3) == 0) {
		o->kind = OPTIM_SGD;
		o->lr = 1e-3;
	} else if (n == 4 && memcmp(spec, "adam", 4) == 0) {
		o->kind = OPTIM_ADAM;
		o->lr = 1e-3;
	} else if (n == 5 && memcmp(spec, "adamw", 5) == 0) {
		o->kind = OPTIM_ADAMW;
		o->lr = 1e-3;
		o->weight_decay = 1e-2;
	} else {
		return diag(d, "--optimizer: unknown optimizer '%.*s' (sgd, adam, adamw)", (int)n, spec);
	}
	for (const char *p = colon ? colon + 1 : NULL; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (!eq)
			return diag(d, "--optimizer: expected KEY=VALUE, got '%.*s'", (int)len, p);
		char num[64];
		size_t vn = len - (size_t)(eq + 1 - p);
		char *end;
		if (vn == 0 || vn >= sizeof num)
			return diag(d, "--optimizer: bad value in '%.*s'", (int)len, p);
		memcpy(num, eq + 1, vn);
		num[vn] = 0;
		double x = strtod(num, &end);
		if (*end || !isfinite(x) || x < 0)
			return diag(d, "--optimizer: bad value in '%.*s' (a number >= 0)", (int)len, p);
		if (set_key(o, p, (size_t)(eq - p), x, d) < 0)
			return -1;
		p = e ? e + 1 : NULL;
	}
	if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
		return diag(d, "--optimizer: nesterov needs a momentum and zero dampening (as PyTorch)");
	if (o->kind != OPTIM_SGD && (o->beta1 >= 1 || o->beta2 >= 1))
		return diag(d, "--optimizer: beta1 and beta2 must be below 1");
	return 0;
}
