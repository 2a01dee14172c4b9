/* llvm_epi.c — a convolution's fused epilogue handed to the kernel
 * library. A conv kernel's epilogue (Kernel.body) normally runs as a loop
 * over the call's output after the call: a second pass over it, from L3
 * or memory when the output outgrows L2 (MobileNetV2's ReLU6 after a
 * 112x112x96 1x1 convolution re-read 4.8 MB, 35% of that layer). When the
 * epilogue is, element by element, an add of another buffer, then ReLU or
 * a maximum by a constant, then a minimum by one (each optional), the
 * library applies it instead in registers before it stores
 * (runtime/epilogue.h), with the same bits: the ops are those of
 * llvm_expr.c in the same order. */
#include "cpu.h"

#include <math.h>
#include <string.h>

#include "../../runtime/abi.h"

/* A load of an f32 buffer at the kernel's store index, without guards or
 * run-time index. */
static bool plain_load(const Kc *c, const Kx *x)
{
	return x->kind == KX_LOAD && x->dtype == DT_F32 && c->kl->buf[x->buf].dtype == DT_F32 && !x->nguard &&
	       !x->a && memcmp(&x->idx, &c->k->out_idx, sizeof x->idx) == 0;
}

/* An f32 constant the runtime holds exactly (not NaN: the library's
 * compare-and-select form of maximum would drop it). */
static bool f32_const(const Kx *x)
{
	return x->kind == KX_CONST && x->dtype == DT_F32 && !isnan(x->c);
}

bool cpu_conv_epi(const Kc *c, CpuEpi *e)
{
	const Kernel *k = c->k;
	const KernelList *kl = c->kl;
	if (k->kind != KK_CONV2D || k->conv.nd || !k->body || k->out_dyn || k->nvar != k->nout_var ||
	    k->out != k->conv.y || kl->buf[k->out].dtype != DT_F32 || k->out_idx.c != 0)
		return false;
	/* the store walks the whole output, row-major: element i at i */
	int64_t stride = 1;
	for (int v = k->nout_var - 1; v >= 0; v--) {
		if (k->out_idx.k[v] != stride && k->extent[v] != 1)
			return false;
		stride *= k->extent[v];
	}
	if (stride != k->conv.n * k->conv.k * k->conv.oh * k->conv.ow)
		return false;
	int op[8], n = 0;
	float cv[8];
	*e = (CpuEpi){.res = -1};
	const Kx *x = k->body;
	while (!(plain_load(c, x) && x->buf == k->out)) {
		if (n == NNCC_EPI_OPS || x->dtype != DT_F32)
			return false;
		if (x->kind == KX_UNARY && x->op == KU_RELU) {
			cv[n] = 0.0f, op[n++] = NNCC_EPI_RELU;
			x = x->a;
		} else if (x->kind == KX_BINARY && (x->op == KB_MAX || x->op == KB_MIN) &&
		           (f32_const(x->a) || f32_const(x->b))) {
			const Kx *k0 = f32_const(x->a) ? x->a : x->b;
			cv[n] = (float)k0->c, op[n++] = x->op == KB_MAX ? NNCC_EPI_MAX : NNCC_EPI_MIN;
			x = k0 == x->a ? x->b : x->a;
		} else if (x->kind == KX_BINARY && x->op == KB_ADD && e->res < 0) {
			/* the residual: another buffer, read where the output is written */
			const Kx *r = plain_load(c, x->a) && x->a->buf != k->out ? x->a : x->b;
			if (!plain_load(c, r) || r->buf == k->out || cpu_bufs_overlap(kl, r->buf, k->out))
				return false;
			e->res = r->buf;
			cv[n] = 0.0f, op[n++] = NNCC_EPI_ADD;
			x = r == x->a ? x->b : x->a;
		} else {
			return false;
		}
	}
	if (n == 0)
		return false;
	e->n = n;
	for (int i = 0; i < n; i++) /* innermost first */
		e->op[i] = op[n - 1 - i], e->c[i] = cv[n - 1 - i];
	/* only the form the library applies in registers: the add, then ReLU
	 * or a maximum, then a minimum (any other list it would apply in a
	 * pass of its own, no better than the loop) */
	int stage = 0;
	for (int i = 0; i < n; i++) {
		int s = e->op[i] == NNCC_EPI_ADD ? 1 : e->op[i] == NNCC_EPI_MIN ? 3 : 2;
		if (s <= stage)
			return false;
		stage = s;
	}
	return true;
}

LLVMValueRef cpu_epi_const(Kc *c, const CpuEpi *e)
{
	Cg *cg = c->cg;
	LLVMTypeRef f32 = LLVMFloatTypeInContext(cg->ctx);
	LLVMValueRef ops[NNCC_EPI_OPS], cs[NNCC_EPI_OPS];
	for (int i = 0; i < NNCC_EPI_OPS; i++) {
		ops[i] = LLVMConstInt(cg->t_i32, (unsigned long long)(i < e->n ? e->op[i] : 0), 0);
		cs[i] = LLVMConstReal(f32, i < e->n ? e->c[i] : 0.0);
	}
	LLVMValueRef f[3] = {
	    LLVMConstInt(cg->t_i32, (unsigned long long)e->n, 0),
	    LLVMConstArray2(cg->t_i32, ops, NNCC_EPI_OPS),
	    LLVMConstArray2(f32, cs, NNCC_EPI_OPS),
	};
	LLVMValueRef init = LLVMConstStructInContext(cg->ctx, f, 3, 0);
	LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), "conv.epi");
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(g, 4);
	return g;
}
