/* report.c — `nncc --report` (cg_report): what the compiler made of a
 * model, as readable text. Three parts:
 *   - the kernel table: index, kind, FLOPs, bytes moved, name and the graph
 *     ops fused into the kernel (Kernel.nodes), then totals and the graph
 *     node count beside the kernel count;
 *   - the memory plan: every temporary with its offset, size, live range
 *     and in-place partner (plan.c); an alias shows where it lives instead
 *     of an offset ("= b3[+4096]": bytes 4096.. of buffer b3);
 *   - the PlanStats numbers as `naive bytes: N`, `lower bound bytes: N`,
 *     `arena bytes: N` lines that scripts parse, and their ratios.
 * Counting rules: a matmul is 2*m*n*k per batch; a convolution
 * 2*N*K*OH*OW*(C/G)*KH*KW plus one add per output with a bias; a loop or
 * an epilogue counts each arithmetic node of its DAG once per evaluation
 * (a node hoisted out of inner loops is evaluated fewer times; a reduce
 * adds one accumulate, and its inner nodes run, per reduction trip).
 * Bytes are the whole size of every buffer read plus the bytes stored.
 * Assumes a lowered and planned list; kl->g may be NULL (tests). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

static const char *const kind_name[] = {"loop", "matmul", "conv2d"};

/* --- counting ----------------------------------------------------------------- */

static bool arith(const Kx *x)
{
	return x->kind == KX_UNARY || x->kind == KX_BINARY || x->kind == KX_REDUCE || x->kind == KX_SELECT;
}

/* Arithmetic nodes under x evaluated inside a reduce's loops (inner),
 * each distinct node once; seen[] marks visited DAG indices with stamp. */
static int64_t inner_ops(const KxDag *d, const Kx *x, int *seen, int stamp)
{
	if (!x)
		return 0;
	int i = cg_kx_find(d, x);
	if (i < 0 || seen[i] == stamp || !d->node[i].inner)
		return 0;
	seen[i] = stamp;
	return (arith(x) ? 1 : 0) + inner_ops(d, x->a, seen, stamp) + inner_ops(d, x->b, seen, stamp) +
	       inner_ops(d, x->cond, seen, stamp);
}

/* FLOPs of a loop nest's body (a loop kernel or a call's epilogue). */
static int64_t body_flops(const Kernel *k)
{
	if (!k->body)
		return 0;
	KxDag d;
	cg_kx_dag(k, &d);
	int *seen = xcalloc((size_t)d.n + 1, sizeof *seen);
	int64_t trips = cg_span(k, k->nout_var, k->nvar), f = 0;
	for (int i = 0; i < d.n; i++) {
		const KxInfo *n = &d.node[i];
		if (!arith(n->x) || n->inner)
			continue; /* inner nodes count under their reduce */
		int64_t evals = cg_span(k, 0, n->level);
		if (n->x->kind == KX_REDUCE) {
			int64_t per_trip = 1 + inner_ops(&d, n->x->a, seen, i + 1);
			f = sat_add(f, sat_mul(sat_mul(evals, trips), per_trip));
		} else {
			f = sat_add(f, evals);
		}
	}
	free(seen);
	cg_kx_dag_free(&d);
	return f;
}

static int64_t kernel_flops(const Kernel *k)
{
	int64_t f = 0;
	if (k->kind == KK_MATMUL) {
		int64_t batch = 1;
		for (int i = 0; i < k->mm.nbatch; i++)
			batch = sat_mul(batch, k->mm.bext[i]);
		f = sat_mul(sat_mul(sat_mul(2 * batch, k->mm.m), k->mm.n), k->mm.k);
	} else if (k->kind == KK_CONV2D) {
		int64_t outs = sat_mul(sat_mul(sat_mul(k->conv.n, k->conv.k), k->conv.oh), k->conv.ow);
		int64_t cg = k->conv.group > 0 ? k->conv.c / k->conv.group : k->conv.c;
		if (k->conv.nd) { /* transpose: every input element meets (K/G)*kvol weights */
			int64_t ins = sat_mul(sat_mul(sat_mul(k->conv.n, k->conv.c), k->conv.d), sat_mul(k->conv.h, k->conv.w));
			int64_t kg = k->conv.group > 0 ? k->conv.k / k->conv.group : k->conv.k;
			outs = sat_mul(outs, k->conv.od);
			cg = sat_mul(cg, k->conv.kd);
			if (k->conv.transpose)
				cg = sat_mul(kg, k->conv.kd), outs = ins;
		}
		f = sat_mul(sat_mul(sat_mul(2 * outs, cg), k->conv.kh), k->conv.kw);
		if (k->conv.bias >= 0)
			f = sat_add(f, outs);
	}
	return sat_add(f, body_flops(k));
}

static void add_read(const KernelList *kl, int b, int *seen, int *nseen, int64_t *bytes)
{
	if (b < 0 || b >= kl->nbuf)
		return;
	for (int i = 0; i < *nseen; i++)
		if (seen[i] == b)
			return;
	seen[(*nseen)++] = b;
	*bytes = sat_add(*bytes, kl->buf[b].nbytes);
}

/* Bytes a kernel moves: every distinct buffer it reads, whole, plus what
 * it stores. A call's epilogue re-reading the call's result is not
 * counted again; im2col scratch is not counted. */
static int64_t kernel_bytes(const KernelList *kl, const Kernel *k)
{
	KxDag d;
	cg_kx_dag(k, &d);
	int *seen = xmalloc((size_t)(d.n + 4) * sizeof *seen);
	int nseen = 0;
	int64_t bytes = 0;
	if (k->kind == KK_MATMUL) {
		add_read(kl, k->mm.a, seen, &nseen, &bytes);
		add_read(kl, k->mm.b, seen, &nseen, &bytes);
		bytes = sat_add(bytes, kl->buf[k->mm.c].nbytes);
		seen[nseen++] = k->mm.c;
	} else if (k->kind == KK_CONV2D) {
		add_read(kl, k->conv.x, seen, &nseen, &bytes);
		add_read(kl, k->conv.wt, seen, &nseen, &bytes);
		add_read(kl, k->conv.bias, seen, &nseen, &bytes);
		bytes = sat_add(bytes, kl->buf[k->conv.y].nbytes);
		seen[nseen++] = k->conv.y;
	} else if (k->out >= 0) {
		int64_t stored = sat_mul(cg_span(k, 0, k->nout_var), (int64_t)ir_dtype_size(kl->buf[k->out].dtype));
		bytes = sat_add(bytes, stored < kl->buf[k->out].nbytes ? stored : kl->buf[k->out].nbytes);
	}
	for (int i = 0; i < d.n; i++)
		if (d.node[i].x->kind == KX_LOAD)
			add_read(kl, d.node[i].x->buf, seen, &nseen, &bytes);
	free(seen);
	cg_kx_dag_free(&d);
	return bytes;
}

/* --- printing ------------------------------------------------------------------ */

/* The ops fused into k, joined by '+', into s (truncated with "..."). */
static void fused_ops(const KernelList *kl, const Kernel *k, char *s, size_t n)
{
	const Graph *g = kl->g;
	size_t len = 0;
	s[0] = 0;
	int one = k->node;
	const int *nodes = k->nnodes > 0 ? k->nodes : &one;
	int nn = k->nnodes > 0 ? k->nnodes : (k->node >= 0 ? 1 : 0);
	if (nn == 0 || !g) {
		snprintf(s, n, "%s", nn == 0 ? "copy" : "?");
		return;
	}
	for (int i = 0; i < nn; i++) {
		int id = nodes[i];
		const char *op = id >= 0 && id < g->nnode ? ir_ops[g->node[id].op].name : "?";
		int w = snprintf(s + len, n - len, "%s%s", i ? "+" : "", op);
		if (w < 0 || (size_t)w >= n - len) {
			if (n > 4)
				memcpy(s + n - 4, "...", 4);
			return;
		}
		len += (size_t)w;
	}
}

static const char *value_name(const KernelList *kl, const Buf *b)
{
	if (b->value < 0)
		return "(scratch)";
	if (kl->g && b->value < kl->g->nval && kl->g->val[b->value].name)
		return kl->g->val[b->value].name;
	return "";
}

static void print_kernels(const KernelList *kl, FILE *f)
{
	int64_t tf = 0, tb = 0;
	int nfused = 0;
	char ops[256];
	fprintf(f, "kernels:\n%5s  %-6s %16s %14s  %s\n", "#", "kind", "FLOPs", "bytes", "name [fused ops]");
	for (int i = 0; i < kl->nk; i++) {
		const Kernel *k = &kl->k[i];
		int64_t fl = kernel_flops(k), by = kernel_bytes(kl, k);
		tf = sat_add(tf, fl);
		tb = sat_add(tb, by);
		if (k->nnodes > 1)
			nfused++;
		fused_ops(kl, k, ops, sizeof ops);
		fprintf(f, "%5d  %-6s %16" PRId64 " %14" PRId64 "  %s [%s]\n", i,
			k->kind == KK_CONV2D && k->conv.nd ? (k->conv.transpose ? "convT" : "convnd")
			: (unsigned)k->kind < 3 ? kind_name[k->kind] : "?", fl, by, k->name ? k->name : "", ops);
	}
	fprintf(f, "total: %d kernels (%d fused from several nodes), %" PRId64 " FLOPs (%.3f GFLOP), "
		"%" PRId64 " bytes moved\n", kl->nk, nfused, tf, (double)tf / 1e9, tb);
	if (kl->g) {
		int live = 0;
		for (int i = 0; i < kl->g->nnode; i++)
			live += !kl->g->node[i].dead;
		fprintf(f, "graph nodes: %d after passes, lowered to %d kernels\n", live, kl->nk);
	}
}

static void print_plan(const KernelList *kl, FILE *f)
{
	int ntemp = 0, nalias = 0;
	for (int b = 0; b < kl->nbuf; b++) {
		ntemp += kl->buf[b].kind == BUF_TEMP && kl->buf[b].alias < 0;
		nalias += kl->buf[b].alias >= 0;
	}
	fprintf(f, "memory plan: %d temporaries in one arena (inputs, outputs, params pinned)", ntemp);
	if (nalias)
		fprintf(f, ", %d more inside concat outputs", nalias);
	fputc('\n', f);
	fprintf(f, "%6s %14s %14s %13s %9s  %s\n", "buf", "offset", "size", "live", "in-place", "value");
	for (int b = 0; b < kl->nbuf; b++) {
		const Buf *bf = &kl->buf[b];
		if (bf->kind != BUF_TEMP)
			continue;
		char name[16], live[32], ip[16];
		snprintf(name, sizeof name, "t%d", b); /* as --emit=kernels names it */
		if (bf->first >= 0)
			snprintf(live, sizeof live, "[%d,%d]", bf->first, bf->last);
		else
			snprintf(live, sizeof live, "unused");
		if (bf->inplace >= 0)
			snprintf(ip, sizeof ip, "%c%d", "iopts"[kl->buf[bf->inplace].kind], bf->inplace);
		else
			snprintf(ip, sizeof ip, "-");
		if (bf->alias >= 0) { /* e.g. "t7 = o3[+4096]": lives in a concat's output */
			char off[40];
			snprintf(off, sizeof off, "= %c%d[+%" PRId64 "]", "iopts"[kl->buf[bf->alias].kind], bf->alias,
				 bf->alias_offset);
			fprintf(f, "%6s %14s %14" PRId64 " %13s %9s  %s\n", name, off, bf->nbytes, live, ip,
				value_name(kl, bf));
			continue;
		}
		fprintf(f, "%6s %14" PRId64 " %14" PRId64 " %13s %9s  %s\n", name, bf->offset,
			bf->nbytes, live, ip, value_name(kl, bf));
	}
}

static void print_ratio(FILE *f, const char *what, int64_t a, int64_t b)
{
	if (b > 0)
		fprintf(f, "%s: %.3f\n", what, (double)a / (double)b);
	else
		fprintf(f, "%s: -\n", what);
}

void cg_report(const KernelList *kl, FILE *f)
{
	const Graph *g = kl->g;
	fprintf(f, "nncc report: model \"%s\"\n", g && g->name ? g->name : "");
	print_kernels(kl, f);
	print_plan(kl, f);
	PlanStats st;
	cg_plan_stats(kl, &st);
	fprintf(f, "naive bytes: %" PRId64 "\n", st.naive);
	fprintf(f, "lower bound bytes: %" PRId64 "\n", st.lower_bound);
	fprintf(f, "arena bytes: %" PRId64 "\n", st.arena);
	print_ratio(f, "arena/lower bound", st.arena, st.lower_bound);
	print_ratio(f, "arena/naive", st.arena, st.naive);
	cg_report_train(kl, f); /* report_train.c: a training step's memory by kind */
}
