/* nncc_opts.c — the nncc command line: the usage text, and argv parsed
 * and checked into a DrvArgs (driver.h) for nncc.c to compile. Usage
 * errors print "nncc: MESSAGE" and exit status 2. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "driver.h"
#include "runtime/abi.h"

#ifndef NNCC_VERSION
#define NNCC_VERSION "unknown"
#endif

static const char *const emit_names[] = {"so", "obj", "ir", "llvm", "kernels", "dot", "onnx", "cuda",
					 "ptx", "header"};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nncc MODEL.onnx|MODEL.nn|MODEL.ir -o OUT [options]\n"
		"       nncc test-onnx [options] DIR...   run ONNX backend-style test folders\n"
		"                                         (nncc test-onnx --help)\n"
		"  -o FILE                output (default for ir/llvm/kernels/dot: stdout)\n"
		"  --target=cpu|cuda      target (cuda: the .so also holds CUBIN/PTX, docs/cuda.md)\n"
		"  -O0 .. -O3             optimization level (default -O2)\n"
		"  --emit=so|obj|ir|llvm|kernels|dot|onnx|cuda|ptx|header\n"
		"                         header: MODEL.h for linking the --emit=obj object (docs/embedding.md)\n"
		"  --name=NAME            the model's name and the prefix of its symbols (NAME_nncc_model,\n"
		"                         NAME_run), so two models link into one program\n"
		"  --all-constants        --emit=ir prints every constant's data, so the text compiles back\n"
		"  --const NAME=FILE      bind a graph input to the constant in FILE (.npy or .pb)\n"
		"  --shape NAME=D0,D1,... bind the extents of a graph input\n"
		"  --max SYM=N            symbolic dim SYM is a dynamic batch of at most N (N >= 2)\n"
		"  --print-after=PASS|all print text IR after a pass (import, shapes, canon, train, fold,\n"
		"                         algebraic, cse, bnfold, dce, fuse)\n"
		"  --passes=P1,P2,...     run exactly these passes after shape inference\n"
		"  --report               print kernels (fused ops, FLOPs, bytes) and the memory\n"
		"                         plan to stdout; with -o the output is still written\n"
		"  --cpu=NAME --features=+a,-b   override the host CPU for code generation\n"
		"  --train                compile one training step (docs/training.md); needs --loss\n"
		"  --loss=L               mse, cross_entropy, bce_logits, nll or backprop (adds the input\n"
		"                         `label`; backprop: sum(out * label), label = d(loss)/d(out))\n"
		"  --add-loss=A,B         add the model's scalar outputs A, B to the loss (e.g. a KL term)\n"
		"  --optimizer=O:k=v,...  sgd (lr momentum dampening nesterov weight_decay), adam or\n"
		"                         adamw (lr beta1 beta2 eps weight_decay); default sgd:lr=0.001\n"
		"  --freeze=PREFIX        keep parameters whose name starts with PREFIX fixed (repeatable)\n"
		"  --grad-inputs=A,B      also output grad.A, the loss's gradient w.r.t. input A\n"
		"  --max-memory=BYTES     (--train) recompute forward values in the backward pass (and\n"
		"                         shrink the convolutions' scratch) until the arena fits BYTES\n"
		"                         (suffix k, M, G: 1024^n)\n"
		"  --keep-activations     (--train) store every forward value the backward pass reads:\n"
		"                         no pointwise recomputation by default (docs/memory.md)\n"
		"  --augment=X:T,...      augment NCHW input X in the step, per sample: hflip,\n"
		"                         crop=P (zero-pad P, random crop), contrast=C\n"
		"  --augment-output       also output augment.X, the augmented input\n"
		"  --split-step           (--train) add the step's halves for data parallelism\n"
		"  --weights=W            take parameter values from safetensors file W (e.g. saved\n"
		"                         by nncc-run --train --save-weights) before compiling\n"
		"  --mutable-weights      inference model with writable f32 weights (nncc_session_set_param,\n"
		"                         load_weights): evaluate weights a training session is changing\n"
		"  -v, --verbose          print a line per stage (import, passes, lower, codegen) with\n"
		"                         its time to stderr\n"
		"  --version              print the version, LLVM's, the artifact ABI and the default CPU\n"
		"  -h, --help\n");
}

/* nncc --version: the version, LLVM's, the artifact ABI and the host CPU
 * code is generated for by default. */
static void version(void)
{
	unsigned maj, min, pat;
	LLVMGetVersion(&maj, &min, &pat);
	char *cpu = LLVMGetHostCPUName();
	printf("nncc %s\nLLVM %u.%u.%u, artifact ABI %d, default CPU %s\n", NNCC_VERSION, maj, min, pat,
	       NNCC_ABI_VERSION, cpu);
	LLVMDisposeMessage(cpu);
}

int drv_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "nncc: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(run 'nncc --help' for the options)\n");
	return 2;
}

bool drv_ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

static int parse_shape(const char *arg, Options *o)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || o->nbind == PS_MAX_BINDINGS)
		return -1;
	ShapeBinding *b = &o->bind[o->nbind];
	size_t n = (size_t)(eq - arg);
	char *name = xmalloc(n + 1); /* freed by drv_args_free */
	memcpy(name, arg, n);
	name[n] = 0;
	b->name = name;
	b->rank = 0;
	const char *p = eq + 1;
	while (*p) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (end == p || errno || v < 0 || b->rank == IR_MAX_RANK)
			return -1;
		b->dims[b->rank++] = v;
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	o->nbind++;
	return 0;
}

/* "123", "64k", "200M", "2G" (powers of 1024) into *v > 0; -1 if malformed. */
static int parse_bytes(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (end == s || errno || n <= 0)
		return -1;
	int shift = 0;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (*end || n > (INT64_MAX >> shift))
		return -1;
	*v = (int64_t)n << shift;
	return 0;
}

int drv_parse_args(int argc, char **argv, DrvArgs *a)
{
	memset(a, 0, sizeof *a);
	a->emit = EMIT_SO;
	a->o.opt_level = 2;
	a->co.opt_level = 2;
	bool train_flag = false, aug_flag = false;
	Diag od;
	diag_init(&od);
	ps_parse_optimizer("sgd", &a->to.optim, &od);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(s, "--version") == 0) {
			version();
			return 0;
		} else if (strcmp(s, "-o") == 0) {
			if (++i == argc)
				return drv_usage_error("-o needs a file%s", "");
			a->out = argv[i];
		} else if (strncmp(s, "-O", 2) == 0 && s[2] >= '0' && s[2] <= '3' && !s[3]) {
			a->o.opt_level = s[2] - '0';
		} else if (strncmp(s, "--emit=", 7) == 0) {
			int found = -1;
			for (int k = 0; k < (int)(sizeof emit_names / sizeof *emit_names); k++)
				if (strcmp(s + 7, emit_names[k]) == 0)
					found = k;
			if (found < 0)
				return drv_usage_error("unknown --emit kind '%s'", s + 7);
			a->emit = (Emit)found;
		} else if (strncmp(s, "--name=", 7) == 0) {
			if (!drv_is_c_ident(s + 7))
				return drv_usage_error("bad --name '%s' (want a C identifier)", s + 7);
			a->name = s + 7;
		} else if (strcmp(s, "--all-constants") == 0) {
			a->all_consts = true;
		} else if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
			a->verbose = true;
		} else if (strncmp(s, "--target=", 9) == 0) {
			a->target_cuda = strcmp(s + 9, "cuda") == 0;
			if (!a->target_cuda && strcmp(s + 9, "cpu") != 0)
				return drv_usage_error("unknown target '%s'", s + 9);
		} else if (strcmp(s, "--shape") == 0 || strncmp(s, "--shape=", 8) == 0) {
			const char *v = s[7] == '=' ? s + 8 : (++i < argc ? argv[i] : NULL);
			if (!v || parse_shape(v, &a->o) < 0)
				return drv_usage_error("bad --shape '%s' (want NAME=D0,D1,...)", v ? v : "");
		} else if (strcmp(s, "--max") == 0 || strncmp(s, "--max=", 6) == 0) {
			const char *v = s[5] == '=' ? s + 6 : (++i < argc ? argv[i] : NULL);
			if (drv_parse_max(v, &a->o) < 0)
				return drv_usage_error("bad --max '%s' (want SYM=N, N >= 2, once)", v ? v : "");
		} else if (strcmp(s, "--const") == 0 || strncmp(s, "--const=", 8) == 0) {
			const char *v = s[7] == '=' ? s + 8 : (++i < argc ? argv[i] : NULL);
			if (!v || !strchr(v, '=') || a->cs.n == PS_MAX_BINDINGS) {
				return drv_usage_error("bad --const '%s' (want NAME=FILE)", v ? v : "");
			}
			Diag cd;
			diag_init(&cd);
			if (drv_read_const(v, &a->cs.c[a->cs.n], &cd) < 0) {
				fprintf(stderr, "nncc: %s", cd.msg);
				return 1;
			}
			a->cs.n++;
		} else if (strncmp(s, "--print-after=", 14) == 0) {
			a->o.print_after = s + 14;
			bool known = strcmp(a->o.print_after, "all") == 0;
			for (int k = 0; ps_pass_names[k]; k++)
				known = known || strcmp(a->o.print_after, ps_pass_names[k]) == 0;
			if (!known)
				return drv_usage_error("unknown pass '%s' for --print-after", a->o.print_after);
		} else if (strncmp(s, "--passes=", 9) == 0) {
			Diag pd;
			diag_init(&pd);
			if (ps_check_passes(s + 9, &pd) < 0) {
				fprintf(stderr, "nncc: %s(run 'nncc --help' for the options)\n", pd.msg);
				return 2;
			}
			a->o.passes = s + 9;
		} else if (strcmp(s, "--report") == 0) {
			a->report = true;
		} else if (strncmp(s, "--cpu=", 6) == 0) {
			a->co.cpu = s + 6;
		} else if (strncmp(s, "--features=", 11) == 0) {
			a->co.features = s + 11;
		} else if (strcmp(s, "--train") == 0) {
			a->train = true;
		} else if (strncmp(s, "--loss=", 7) == 0) {
			a->to.loss = s + 7;
			train_flag = true;
		} else if (strncmp(s, "--optimizer=", 12) == 0) {
			if (ps_parse_optimizer(s + 12, &a->to.optim, &od) < 0) {
				fprintf(stderr, "nncc: %s", od.msg);
				return 2;
			}
			train_flag = a->opt_flag = true;
		} else if (strncmp(s, "--freeze=", 9) == 0) {
			if (a->to.nfreeze == PS_MAX_FREEZE || !s[9])
				return drv_usage_error("bad or too many --freeze '%s'", s + 9);
			a->to.freeze[a->to.nfreeze++] = s + 9;
			train_flag = true;
		} else if (strncmp(s, "--max-memory=", 13) == 0) {
			if (parse_bytes(s + 13, &a->max_memory) < 0)
				return drv_usage_error("bad --max-memory '%s' (want BYTES, e.g. 200M)", s + 13);
		} else if (strcmp(s, "--keep-activations") == 0) {
			a->keep_acts = train_flag = true;
		} else if (strncmp(s, "--weights=", 10) == 0) {
			a->weights = s + 10;
		} else if (strncmp(s, "--add-loss=", 11) == 0) {
			a->to.add_loss = s + 11;
			train_flag = true;
		} else if (strcmp(s, "--mutable-weights") == 0) {
			a->mutable_w = true;
		} else if (strncmp(s, "--grad-inputs=", 14) == 0) {
			a->to.grad_inputs = s + 14;
			train_flag = true;
		} else if (strncmp(s, "--augment=", 10) == 0) { /* rng */
			AugSpec as;
			Diag ad;
			diag_init(&ad);
			if (ps_augment_parse(s + 10, &as, &ad) < 0) {
				fprintf(stderr, "nncc: %s", ad.msg);
				return 2;
			}
			a->to.augment = s + 10;
			aug_flag = true;
		} else if (strcmp(s, "--augment-output") == 0) {
			a->to.augment_out = true;
			aug_flag = true;
		} else if (strcmp(s, "--split-step") == 0) { /* split_step.c */
			a->to.split_step = train_flag = true;
		} else if (s[0] == '-' && s[1]) {
			return drv_usage_error("unknown option '%s'", s);
		} else if (!a->model) {
			a->model = s;
		} else {
			return drv_usage_error("more than one model given ('%s')", s);
		}
	}
	if (!a->model)
		return drv_usage_error("no model given%s", "");
	if ((a->emit == EMIT_SO || a->emit == EMIT_OBJ || a->emit == EMIT_ONNX) && !a->out && !a->report)
		return drv_usage_error("-o OUT is required for --emit=so, obj and onnx%s", "");
	if (a->report && !a->out && a->emit != EMIT_SO && a->emit != EMIT_OBJ)
		return drv_usage_error("--report prints to stdout: give --emit's output a file with -o%s", "");
	if (a->emit == EMIT_HEADER && a->report)
		return drv_usage_error("--emit=header does not combine with --report%s", "");
	if (a->emit == EMIT_ONNX && (a->train || !a->out))
		return drv_usage_error("--emit=onnx exports an inference graph to -o FILE, not with --train%s", "");
	a->co.opt_level = a->o.opt_level;
	if (train_flag && !a->train)
		return drv_usage_error("--loss, --optimizer, --freeze, --grad-inputs, --add-loss and --keep-activations need --train%s", "");
	if (a->to.split_step && (a->emit != EMIT_SO || a->target_cuda))
		return drv_usage_error("--split-step makes a CPU shared library (--emit=so, --target=cpu)%s", "");
	if (a->max_memory > 0 && !a->train)
		return drv_usage_error("--max-memory is only for training steps (--train)%s", "");
	if (aug_flag && (!a->train || !a->to.augment)) { /* rng */
		return drv_usage_error(!a->train ? "--augment and --augment-output need --train%s"
		                           : "--augment-output needs --augment%s", "");
	}
	if (a->train && a->mutable_w)
		return drv_usage_error("--mutable-weights is for inference models, not with --train%s", "");
	if (a->train)
		a->o.train = &a->to;
	a->to.keep_shared = a->max_memory > 0; /* a budget's recomputation works on the shared values */
	if (a->o.batch_sym && (a->train || a->max_memory > 0 || a->target_cuda || a->o.passes))
		return drv_usage_error("--max is for CPU inference, not with --train, --target=cuda or --passes%s", "");
	if (a->o.batch_sym && a->emit == EMIT_HEADER)
		return drv_usage_error("--emit=header writes static sizes, not with --max%s", "");
	int rc = drv_check_cpu(a->co.cpu, a->co.features);
	return rc ? rc : -1;
}

void drv_args_free(DrvArgs *a)
{
	for (int i = 0; i < a->o.nbind; i++)
		free((char *)a->o.bind[i].name);
	for (int i = 0; i < a->cs.n; i++)
		drv_const_free(&a->cs.c[i]);
}
