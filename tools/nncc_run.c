/* nncc_run.c — nncc-run, the command-line runner: loads a compiled model
 * with the runtime alone, feeds it .npy or TensorProto (.pb) inputs, runs
 * it, and writes, prints or benchmarks the outputs.
 *
 *   nncc-run MODEL.so [-i [NAME=]FILE]... [-o DIR] [--bench N] [--threads T] [--json]
 *   nncc-run TRAIN.so --train N -i ... [--lr X] [--load-weights W] [--save-weights W]
 *
 * Exit status: 0 success, 1 bad input or model (the message names the file
 * and the input), 2 usage error. Output files are written to a temporary
 * and renamed, so an interrupted run never leaves a partial DIR/NAME.npy. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "nncc/nncc.h"
#include "../runtime/abi.h"
#include "../runtime/rt.h"

#ifndef NNCC_VERSION
#define NNCC_VERSION "unknown"
#endif

enum { MAX_SHOWN = 8 }; /* values printed per output */

typedef struct Opts {
	const char *model;   /* MODEL.so */
	const char **spec;   /* -i arguments, in order */
	int nspec;
	const char *outdir;  /* -o, NULL when absent */
	long bench;          /* --bench N, 0 when absent */
	long threads;        /* --threads T, 0 when absent (the runtime's default) */
	int json;            /* --json */
	long train;          /* --train N: training steps, 0 when absent */
	const char *lr;      /* --lr X: learning rate for the steps, NULL: the compiled one */
	const char *load_w;  /* --load-weights W (safetensors), NULL when absent */
	const char *save_w;  /* --save-weights W (safetensors), NULL when absent */
	const char *seed;    /* --seed S: the random ops' seed, NULL: 0 or the loaded one */
	const char *device;  /* --device cpu|cuda, NULL: cuda when the model has CUDA code */
} Opts;

static const char usage_text[] =
	"usage: nncc-run MODEL.so [-i [NAME=]FILE.npy|FILE.pb]... [-o DIR] [--bench N]\n"
	"                [--threads T] [--json] [--version] [-h]\n"
	"  -i [NAME=]FILE  input tensor (.npy or ONNX TensorProto .pb); without NAME=,\n"
	"                  fills the inputs not given by name, in model order\n"
	"  -o DIR          write each output to DIR/NAME.npy\n"
	"  --bench N       one warm-up run, then N timed runs; prints median and min\n"
	"  --threads T     threads to run on, counting the caller (1: no worker threads;\n"
	"                  default: $NNCC_THREADS, else the online CPUs, at most 8)\n"
	"  --json          print one JSON object on stdout\n"
	"  --train N       (a model compiled with nncc --train) run N training steps on\n"
	"                  the inputs given; prints `step K loss L` after each\n"
	"  --lr X          learning rate for these steps (default: the compiled one)\n"
	"  --load-weights W  start from the weights and optimizer state in W (safetensors)\n"
	"  --save-weights W  save the weights and optimizer state to W at the end\n"
	"  --seed S        seed of dropout and augmentation (default 0; --load-weights\n"
	"                  restores the saved one unless --seed is given)\n"
	"  --device D      cpu or cuda (default: cuda for a model compiled with\n"
	"                  nncc --target=cuda, else cpu)\n"
	"  --version       print the version and the artifact ABI it loads\n"
	"  -h, --help      show this help\n";

static int
fail(char *err)
{
	fprintf(stderr, "nncc-run: %s\n", err ? err : "out of memory");
	nncc_error_free(err);
	return 1;
}

static int
usage(const char *msg, const char *arg)
{
	fprintf(stderr, "nncc-run: %s%s%s\n(run 'nncc-run -h' for help)\n", msg, arg ? ": " : "",
		arg ? arg : "");
	return 2;
}

static int
parse_count(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == 0 && *v >= 1 && *v <= 100000000;
}

/* Returns -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, Opts *o)
{
	const char *a, *val;

	o->spec = calloc((size_t)argc, sizeof *o->spec);
	if (!o->spec)
		return fail(NULL);
	for (int i = 1; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			printf("nncc-run %s\nartifact ABI %d\n", NNCC_VERSION, NNCC_ABI_VERSION);
			return 0;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (a[0] != '-' || a[1] == 0) {
			if (o->model)
				return usage("more than one model given", a);
			o->model = a;
			continue;
		}
		/* options with a value: "-i X", "-iX", "--bench N", "--bench=N" */
		val = NULL;
		if ((a[1] == 'i' || a[1] == 'o') && a[2] != 0) {
			val = a + 2;
		} else if (strncmp(a, "--bench=", 8) == 0 || strncmp(a, "--threads=", 10) == 0 ||
			   strncmp(a, "--train=", 8) == 0 || strncmp(a, "--lr=", 5) == 0 ||
			   strncmp(a, "--load-weights=", 15) == 0 || strncmp(a, "--save-weights=", 15) == 0 ||
			   strncmp(a, "--seed=", 7) == 0 || strncmp(a, "--device=", 9) == 0) {
			val = strchr(a, '=') + 1;
		} else if (strcmp(a, "-i") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--bench") == 0 ||
			   strcmp(a, "--threads") == 0 || strcmp(a, "--train") == 0 || strcmp(a, "--lr") == 0 ||
			   strcmp(a, "--load-weights") == 0 || strcmp(a, "--save-weights") == 0 ||
			   strcmp(a, "--seed") == 0 || strcmp(a, "--device") == 0) {
			if (i + 1 >= argc)
				return usage("missing value for", a);
			val = argv[++i];
		} else {
			return usage("unknown option", a);
		}
		if (a[1] == 'i') {
			o->spec[o->nspec++] = val;
		} else if (a[1] == 'o') {
			o->outdir = val;
		} else if (strncmp(a, "--bench", 7) == 0) {
			if (!parse_count(val, &o->bench))
				return usage("--bench wants a positive count", val);
		} else if (strncmp(a, "--train", 7) == 0) {
			if (!parse_count(val, &o->train))
				return usage("--train wants a positive count", val);
		} else if (strncmp(a, "--lr", 4) == 0) {
			char *end;
			double x = strtod(val, &end);
			if (!*val || *end || !(x >= 0) || x > 3.4e38)
				return usage("--lr wants a number >= 0", val);
			o->lr = val;
		} else if (strncmp(a, "--load-weights", 14) == 0) {
			o->load_w = val;
		} else if (strncmp(a, "--save-weights", 14) == 0) {
			o->save_w = val;
		} else if (strncmp(a, "--device", 8) == 0) {
			if (strcmp(val, "cpu") != 0 && strcmp(val, "cuda") != 0)
				return usage("--device wants cpu or cuda", val);
			o->device = val;
		} else if (strncmp(a, "--seed", 6) == 0) {
			char *end;
			errno = 0;
			(void)strtoull(val, &end, 10);
			if (!*val || *end || *val == '-' || errno)
				return usage("--seed wants a number from 0 to 2^64-1", val);
			o->seed = val;
		} else if (!parse_count(val, &o->threads) || o->threads > RT_MAX_THREADS) {
			return usage("--threads wants a count from 1 to 256", val);
		}
	}
	if (!o->model)
		return usage("no model given", NULL);
	if (o->train && o->bench)
		return usage("--train and --bench do not combine", NULL);
	if (!o->train && (o->lr || o->load_w || o->save_w || o->seed))
		return usage("--lr, --load-weights, --save-weights and --seed need --train N", NULL);
	return -1;
}


static void
list_inputs(const nncc_model *m)
{
	nncc_tensor_info ti;
	char ty[256];

	fprintf(stderr, "nncc-run: the model's inputs are:");
	for (int i = 0; i < nncc_model_num_inputs(m); i++) {
		nncc_model_input_info(m, i, &ti);
		fprintf(stderr, " %s %s", ti.name, rt_format_type(ty, sizeof ty, ti.dtype, ti.rank, ti.dims));
	}
	fprintf(stderr, "\n");
}

static int
set_one(nncc_session *s, int index, const char *path)
{
	RtTensor t;
	char *err = NULL, *err2 = NULL;
	nncc_status st;

	if (rt_tensor_read(path, &t, &err) != NNCC_STATUS_OK)
		return fail(err);
	st = nncc_session_set_input(s, index, t.data, t.rank, t.dims, t.dtype, &err);
	rt_tensor_free(&t);
	if (st != NNCC_STATUS_OK) {
		rt_err(&err2, st, "%s: %s", path, err ? err : nncc_status_string(st));
		nncc_error_free(err);
		return fail(err2);
	}
	return 0;
}

/* Named specs first, then positional ones fill the remaining inputs in
 * order; then every input must be set. */
static int
set_inputs(const nncc_model *m, nncc_session *s, const Opts *o)
{
	int n = nncc_model_num_inputs(m), idx, next = 0, bad = 0;
	unsigned char *given = calloc((size_t)n + 1, 1);
	unsigned char *named = calloc((size_t)o->nspec + 1, 1);
	nncc_tensor_info ti;
	char name[256], ty[256];
	const char *eq;
	size_t len;

	if (!given || !named) {
		free(given);
		free(named);
		return fail(NULL);
	}
	for (int i = 0; i < o->nspec && !bad; i++) {
		eq = strchr(o->spec[i], '=');
		if (!eq)
			continue;
		len = (size_t)(eq - o->spec[i]);
		if (len >= sizeof name) {
			fprintf(stderr, "nncc-run: %s: input name too long\n", o->spec[i]);
			bad = 1;
			break;
		}
		memcpy(name, o->spec[i], len);
		name[len] = 0;
		idx = nncc_model_find_input(m, name);
		if (idx < 0) {
			struct stat sb;
			if (stat(o->spec[i], &sb) == 0) /* a file name holding '=' */
				continue;
			fprintf(stderr, "nncc-run: %s: model '%s' has no input named '%s'\n", o->model,
				nncc_model_name(m), name);
			list_inputs(m);
			bad = 1;
			break;
		}
		if (given[idx]) {
			fprintf(stderr, "nncc-run: input '%s' given twice\n", name);
			bad = 1;
			break;
		}
		named[i] = 1;
		given[idx] = 1;
		bad = set_one(s, idx, eq + 1);
	}
	for (int i = 0; i < o->nspec && !bad; i++) {
		if (named[i])
			continue;
		while (next < n && given[next])
			next++;
		if (next == n) {
			fprintf(stderr, "nncc-run: %s: too many inputs (model '%s' has %d)\n",
				o->spec[i], nncc_model_name(m), n);
			bad = 1;
			break;
		}
		given[next] = 1;
		bad = set_one(s, next, o->spec[i]);
	}
	for (int i = 0; i < n && !bad; i++)
		if (!given[i]) {
			nncc_model_input_info(m, i, &ti);
			fprintf(stderr, "nncc-run: %s: input '%s' (%s) not given (use -i %s=FILE.npy)\n",
				o->model, ti.name, rt_format_type(ty, sizeof ty, ti.dtype, ti.rank, ti.dims),
				ti.name);
			bad = 1;
		}
	free(given);
	free(named);
	return bad ? 1 : 0;
}

/* --- outputs ---------------------------------------------------------------- */

static double
half_to_float(uint16_t h)
{
	int e = h >> 10 & 0x1f, f = h & 0x3ff;
	double v = e == 0 ? f / 1024.0 * (1.0 / 16384) : e == 31 ? (f ? NAN : INFINITY)
							: (1 + f / 1024.0) * ((double)(1 << e) / 32768);

	return h & 0x8000 ? -v : v;
}

static void
print_value(FILE *f, int dtype, const void *data, int64_t i)
{
	const unsigned char *p = data;
	union { float f; uint32_t u; } bf;
	uint16_t h;

	switch (dtype) {
	case NNCC_DTYPE_F32: fprintf(f, "%g", ((const float *)data)[i]); break;
	case NNCC_DTYPE_F64: fprintf(f, "%g", ((const double *)data)[i]); break;
	case NNCC_DTYPE_I8: fprintf(f, "%d", ((const int8_t *)data)[i]); break;
	case NNCC_DTYPE_U8: case NNCC_DTYPE_BOOL: fprintf(f, "%u", p[i]); break;
	case NNCC_DTYPE_I16: fprintf(f, "%d", ((const int16_t *)data)[i]); break;
	case NNCC_DTYPE_U16: fprintf(f, "%u", ((const uint16_t *)data)[i]); break;
	case NNCC_DTYPE_I32: fprintf(f, "%d", ((const int32_t *)data)[i]); break;
	case NNCC_DTYPE_U32: fprintf(f, "%u", ((const uint32_t *)data)[i]); break;
	case NNCC_DTYPE_I64: fprintf(f, "%lld", (long long)((const int64_t *)data)[i]); break;
	case NNCC_DTYPE_U64: fprintf(f, "%llu", (unsigned long long)((const uint64_t *)data)[i]); break;
	case NNCC_DTYPE_F16:
		memcpy(&h, p + 2 * i, 2);
		fprintf(f, "%g", half_to_float(h));
		break;
	case NNCC_DTYPE_BF16:
		memcpy(&h, p + 2 * i, 2);
		bf.u = (uint32_t)h << 16;
		fprintf(f, "%g", bf.f);
		break;
	case NNCC_DTYPE_I4: case NNCC_DTYPE_I2: fprintf(f, "%d", ((const int8_t *)data)[i]); break;
	case NNCC_DTYPE_U4: case NNCC_DTYPE_U2: fprintf(f, "%u", p[i]); break;
	case NNCC_DTYPE_F8E4M3FN: case NNCC_DTYPE_F8E4M3FNUZ: case NNCC_DTYPE_F8E5M2:
	case NNCC_DTYPE_F8E5M2FNUZ: case NNCC_DTYPE_F4E2M1: case NNCC_DTYPE_F8E8M0:
		fprintf(f, "0x%02x", p[i]); /* the code: the runtime has no float8 decoder */
		break;
	default: fprintf(f, "?"); break;
	}
}

static void
print_outputs(const nncc_model *m, const nncc_session *s)
{
	nncc_tensor_info ti;
	const void *data;
	char ty[256];
	int64_t numel;

	for (int i = 0; i < nncc_model_num_outputs(m); i++) {
		nncc_session_output_info(s, i, &ti); /* a dynamic batch: the run's rows */
		nncc_session_output(s, i, &data);
		numel = ti.nbytes / nncc_dtype_size(ti.dtype);
		printf("%s %s:", ti.name, rt_format_type(ty, sizeof ty, ti.dtype, ti.rank, ti.dims));
		for (int64_t j = 0; j < numel && j < MAX_SHOWN; j++) {
			putchar(' ');
			print_value(stdout, ti.dtype, data, j);
		}
		printf("%s\n", numel > MAX_SHOWN ? " ..." : "");
	}
}

/* name with every character outside [A-Za-z0-9_.-] replaced by '_'. */
static void
sanitize(const char *name, char *buf, size_t size)
{
	size_t n = 0;

	for (; *name && n + 1 < size; name++) {
		char c = *name;
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '_' || c == '.' || c == '-';
		buf[n++] = ok ? c : '_';
	}
	buf[n] = 0;
	if (n == 0 || strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
		snprintf(buf, size, "output");
}

static int
write_outputs(const nncc_model *m, const nncc_session *s, const char *dir)
{
	int n = nncc_model_num_outputs(m);
	char (*names)[200] = calloc((size_t)n + 1, sizeof *names);
	nncc_tensor_info ti;
	const void *data;
	struct stat sb;
	char *path, *err = NULL;
	int rc = 0;

	if (!names)
		return fail(NULL);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "nncc-run: %s: %s\n", dir, strerror(errno));
		free(names);
		return 1;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "nncc-run: %s: not a directory\n", dir);
		free(names);
		return 1;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		nncc_session_output_info(s, i, &ti);
		sanitize(ti.name, names[i], 180);
		/* two names sanitize alike: suffix _i, then _i_i, ... until unique
		 * (a suffixed name may equal another output's own name) */
		for (int j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0 && strlen(names[i]) < 180) {
				snprintf(names[i] + strlen(names[i]), 20, "_%d", i);
				j = -1;
			}
		path = malloc(strlen(dir) + strlen(names[i]) + 8);
		if (!path) {
			rc = fail(NULL);
			break;
		}
		sprintf(path, "%s/%s.npy", dir, names[i]);
		nncc_session_output(s, i, &data);
		if (rt_npy_write(path, ti.dtype, ti.rank, ti.dims, data, &err) != NNCC_STATUS_OK)
			rc = fail(err);
		free(path);
	}
	free(names);
	return rc;
}

/* --- running ---------------------------------------------------------------- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int
bench(const nncc_model *m, nncc_session *s, const Opts *o)
{
	double *t = malloc((size_t)o->bench * sizeof *t), t0, med;
	char *err = NULL;
	long n = o->bench;

	if (!t)
		return fail(NULL);
	if (nncc_session_run(s, &err) != NNCC_STATUS_OK) { /* warm-up */
		free(t);
		return fail(err);
	}
	for (long i = 0; i < n; i++) {
		t0 = now_ms();
		nncc_session_run(s, NULL);
		t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	if (o->json) {
		printf("{\"model\": ");
		json_string(nncc_model_name(m));
		printf(", \"median_ms\": %.6f, \"min_ms\": %.6f, \"runs\": %ld}\n", med, t[0], n);
	} else {
		printf("median_ms %.4f min_ms %.4f runs %ld\n", med, t[0], n);
	}
	free(t);
	return 0;
}

/* The outputs' names, dtypes and shapes; with -o DIR also "outdir", the
 * folder their .npy files were written to. */
static void
json_outputs(const nncc_model *m, const nncc_session *s, const char *outdir)
{
	nncc_tensor_info ti;

	printf("{\"model\": ");
	json_string(nncc_model_name(m));
	if (outdir) {
		printf(", \"outdir\": ");
		json_string(outdir);
	}
	printf(", \"outputs\": [");
	for (int i = 0; i < nncc_model_num_outputs(m); i++) {
		nncc_session_output_info(s, i, &ti);
		printf("%s{\"name\": ", i ? ", " : "");
		json_string(ti.name);
		printf(", \"dtype\": \"%s\", \"shape\": [", nncc_dtype_name(ti.dtype));
		for (int j = 0; j < ti.rank; j++)
			printf("%s%lld", j ? ", " : "", (long long)ti.dims[j]);
		printf("]}");
	}
	printf("]}\n");
}

/* --train N: N steps, each printing its loss; weights loaded before and
 * saved after. */
static int
train(nncc_session *s, const Opts *o)
{
	char *err = NULL;

	if (o->load_w && nncc_session_load_weights(s, o->load_w, &err) != NNCC_STATUS_OK)
		return fail(err);
	if (o->seed)
		nncc_session_set_seed(s, strtoull(o->seed, NULL, 10));
	if (o->lr && nncc_session_set_learning_rate(s, strtof(o->lr, NULL), &err) != NNCC_STATUS_OK)
		return fail(err);
	for (long k = 0; k < o->train; k++) {
		float loss;
		if (nncc_session_train_step(s, &loss, &err) != NNCC_STATUS_OK)
			return fail(err);
		printf("step %lld loss %.9g\n", (long long)nncc_session_step(s), (double)loss);
	}
	if (o->save_w && nncc_session_save_weights(s, o->save_w, &err) != NNCC_STATUS_OK)
		return fail(err);
	return 0;
}

int
main(int argc, char **argv)
{
	Opts o = {0};
	nncc_model *m = NULL;
	nncc_session *s = NULL;
	char *err = NULL;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		goto out;
	if (nncc_model_load(o.model, &m, &err) != NNCC_STATUS_OK ||
	    nncc_session_create(m, &s, &err) != NNCC_STATUS_OK ||
	    (o.threads && nncc_session_set_threads(s, (int)o.threads, &err) != NNCC_STATUS_OK) ||
	    ((o.device ? strcmp(o.device, "cuda") == 0 : nncc_model_has_cuda(m)) &&
	     nncc_session_use_cuda(s, 0, &err) != NNCC_STATUS_OK)) {
		rc = fail(err);
		goto out;
	}
	if ((rc = set_inputs(m, s, &o)) != 0)
		goto out;
	if (o.train > 0) {
		rc = train(s, &o);
		if (rc == 0 && o.outdir)
			rc = write_outputs(m, s, o.outdir);
		goto out;
	}
	if (o.bench > 0) {
		rc = bench(m, s, &o);
	} else if (nncc_session_run(s, &err) != NNCC_STATUS_OK) {
		rc = fail(err);
	}
	if (rc == 0 && o.outdir)
		rc = write_outputs(m, s, o.outdir);
	if (rc == 0 && !o.bench) {
		if (o.json)
			json_outputs(m, s, o.outdir);
		else if (!o.outdir)
			print_outputs(m, s);
	}
out:
	nncc_session_free(s);
	nncc_model_free(m);
	free(o.spec);
	if (fflush(stdout) != 0 && rc == 0)
		rc = 1;
	return rc;
}
