/* test_onnx.c — `nncc test-onnx DIR...`: runs ONNX backend-style test
 * folders (model.onnx + test_data_set_N/{input,output}_K.pb) through the
 * whole compiler and the runtime, and compares with the expected outputs
 * the way the upstream runner does: |out - ref| <= atol + rtol*|ref| with
 * rtol 1e-3, atol 1e-7, exact dtype and shape, NaN matching NaN.
 * A DIR without model.onnx is taken as a folder of such test folders.
 * Each test prints one line (PASS, FAIL, UNSUPPORTED or ERROR); the last
 * line counts them. Exit status 0 when nothing FAILed or ERRORed. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "frontend/frontend.h"
#include "nncc/nncc.h"
#include "passes/passes.h"
#include "runtime/rt.h"

enum { MAX_TENSORS = 64 };

typedef enum Verdict { V_PASS, V_FAIL, V_UNSUPPORTED, V_ERROR, V_COUNT } Verdict;
static const char *const verdict_name[V_COUNT] = {"PASS", "FAIL", "UNSUPPORTED", "ERROR"};

typedef struct Run {
	int opt_level;  /* -O for every test */
	bool verbose;   /* print the whole message, not its first line */
	int count[V_COUNT];
} Run;

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Reads dir/test_data_set_0/<prefix>_K.pb for K = 0, 1, ... */
static int read_pbs(const char *dir, const char *prefix, RtTensor *t, char **err)
{
	int n = 0;
	for (; n < MAX_TENSORS; n++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/test_data_set_0/%s_%d.pb", dir, prefix, n);
		if (!is_file(path))
			break;
		if (rt_tensor_read(path, &t[n], err) != NNCC_STATUS_OK) {
			for (int i = 0; i < n; i++)
				rt_tensor_free(&t[i]);
			return -1;
		}
	}
	return n;
}

static bool close_enough(double got, double want)
{
	if (isnan(want))
		return isnan(got);
	if (isinf(want))
		return got == want;
	return fabs(got - want) <= 1e-7 + 1e-3 * fabs(want);
}

/* Element i as a double (for the float tolerance and for messages). */
static double elem(const void *p, int dtype, int64_t i)
{
	switch (dtype) {
	case NNCC_DTYPE_F32: return ((const float *)p)[i];
	case NNCC_DTYPE_F64: return ((const double *)p)[i];
	case NNCC_DTYPE_I32: return ((const int32_t *)p)[i];
	case NNCC_DTYPE_I64: return (double)((const int64_t *)p)[i];
	case NNCC_DTYPE_I8: return ((const int8_t *)p)[i];
	case NNCC_DTYPE_U8: case NNCC_DTYPE_BOOL: return ((const uint8_t *)p)[i];
	case NNCC_DTYPE_I16: return ((const int16_t *)p)[i];
	case NNCC_DTYPE_U16: return ((const uint16_t *)p)[i];
	case NNCC_DTYPE_U32: return ((const uint32_t *)p)[i];
	case NNCC_DTYPE_U64: return (double)((const uint64_t *)p)[i];
	default: return NAN;
	}
}

/* Element i as text: integers exactly, floats with 9 digits. */
static void elem_text(char *buf, size_t n, const void *p, int dtype, int64_t i)
{
	if (dtype == NNCC_DTYPE_I64)
		snprintf(buf, n, "%lld", (long long)((const int64_t *)p)[i]);
	else if (dtype == NNCC_DTYPE_U64)
		snprintf(buf, n, "%llu", (unsigned long long)((const uint64_t *)p)[i]);
	else
		snprintf(buf, n, "%.9g", elem(p, dtype, i));
}

/* Compares one output; fills why on a mismatch. */
static bool compare(const nncc_tensor_info *info, const void *got, const RtTensor *ref, char *why, size_t n)
{
	if ((int)info->dtype != ref->dtype) {
		snprintf(why, n, "output '%s': dtype %s, expected %s", info->name, nncc_dtype_name(info->dtype),
			 nncc_dtype_name(ref->dtype));
		return false;
	}
	bool same = info->rank == ref->rank;
	for (int i = 0; same && i < info->rank; i++)
		same = info->dims[i] == ref->dims[i];
	if (!same) {
		char a[128], b[128];
		snprintf(why, n, "output '%s': shape %s, expected %s", info->name,
			 rt_format_type(a, sizeof a, info->dtype, info->rank, info->dims),
			 rt_format_type(b, sizeof b, ref->dtype, ref->rank, ref->dims));
		return false;
	}
	int64_t size = nncc_dtype_size(ref->dtype), count = size > 0 ? ref->nbytes / size : 0;
	bool exact = ref->dtype != NNCC_DTYPE_F32 && ref->dtype != NNCC_DTYPE_F64;
	if (ref->dtype == NNCC_DTYPE_F16 || ref->dtype == NNCC_DTYPE_BF16) {
		/* compared bit for bit: the runtime has no half converter */
		if (memcmp(got, ref->data, (size_t)ref->nbytes) != 0) {
			snprintf(why, n, "output '%s': 16-bit float data differs", info->name);
			return false;
		}
		return true;
	}
	for (int64_t i = 0; i < count; i++) {
		double g = elem(got, ref->dtype, i), w = elem(ref->data, ref->dtype, i);
		/* integers bit for bit: i64/u64 past 2^53 do not survive a double */
		if (exact ? memcmp((const char *)got + i * size, (const char *)ref->data + i * size, (size_t)size) != 0
		          : !close_enough(g, w)) {
			char gs[32], ws[32];
			elem_text(gs, sizeof gs, got, ref->dtype, i);
			elem_text(ws, sizeof ws, ref->data, ref->dtype, i);
			snprintf(why, n, "output '%s': element %lld is %s, expected %s", info->name,
				 (long long)i, gs, ws);
			return false;
		}
	}
	return true;
}

static bool unsupported_msg(const char *m)
{
	/* "only 2-D pooling is supported", "must be a constant" (nncc needs
	 * the value at compile time; the suite feeds it as an input) */
	return strstr(m, "supported") || strstr(m, "cannot lower") || strstr(m, "not implemented") ||
	       strstr(m, "must be a constant");
}

/* Runs one test folder; returns its verdict and a message in msg. */
static Verdict run_one(const char *dir, const Run *r, char *msg, size_t msglen)
{
	RtTensor in[MAX_TENSORS], ref[MAX_TENSORS];
	memset(in, 0, sizeof in);
	memset(ref, 0, sizeof ref);
	char *err = NULL, path[4096], so[4096] = "";
	Verdict v = V_ERROR;
	Graph *g = NULL;
	nncc_model *m = NULL;
	nncc_session *s = NULL;
	Diag d;
	diag_init(&d);
	snprintf(path, sizeof path, "%s/model.onnx", dir);
	if (!(g = fe_onnx_load(path, &d))) {
		snprintf(msg, msglen, "%s", d.msg);
		v = unsupported_msg(d.msg) ? V_UNSUPPORTED : V_ERROR;
		goto done;
	}
	int nin = read_pbs(dir, "input", in, &err), nref = nin < 0 ? -1 : read_pbs(dir, "output", ref, &err);
	if (nin < 0 || nref < 0) {
		snprintf(msg, msglen, "reading test data: %s", err ? err : "?");
		v = unsupported_msg(err ? err : "") ? V_UNSUPPORTED : V_ERROR;
		goto done;
	}
	if (g->ninput != nin || g->noutput != nref) {
		snprintf(msg, msglen, "the model has %d inputs and %d outputs, the data %d and %d (inputs that must be constants are not supported)",
			 g->ninput, g->noutput, nin, nref);
		v = V_UNSUPPORTED;
		goto done;
	}
	Options o;
	memset(&o, 0, sizeof o);
	o.opt_level = r->opt_level;
	for (int i = 0; i < nin && i < PS_MAX_BINDINGS; i++) {
		if (in[i].rank > IR_MAX_RANK) {
			snprintf(msg, msglen, "input %d has rank %d", i, in[i].rank);
			v = V_UNSUPPORTED;
			goto done;
		}
		o.bind[o.nbind].name = g->val[g->input[i]].name;
		o.bind[o.nbind].rank = in[i].rank;
		memcpy(o.bind[o.nbind].dims, in[i].dims, (size_t)in[i].rank * sizeof(int64_t));
		o.nbind++;
	}
	char tmpl[] = "/tmp/nncc-test-XXXXXX";
	if (!mkdtemp(tmpl)) {
		snprintf(msg, msglen, "cannot create a temporary directory: %s", strerror(errno));
		goto done;
	}
	snprintf(so, sizeof so, "%s/model.so", tmpl);
	CpuOptions co = {r->opt_level, NULL, NULL};
	if (ps_pipeline(g, &o, &d) < 0 || drv_build_so(g, so, &co, &d) < 0) {
		snprintf(msg, msglen, "%s", d.msg);
		v = unsupported_msg(d.msg) ? V_UNSUPPORTED : V_ERROR;
		goto done;
	}
	if (nncc_model_load(so, &m, &err) || nncc_session_create(m, &s, &err)) {
		snprintf(msg, msglen, "%s", err ? err : "?");
		goto done;
	}
	for (int i = 0; i < nin; i++)
		if (nncc_session_set_input(s, i, in[i].data, in[i].rank, in[i].dims, in[i].dtype, &err)) {
			snprintf(msg, msglen, "%s", err ? err : "?");
			goto done;
		}
	if (nncc_session_run(s, &err)) {
		snprintf(msg, msglen, "%s", err ? err : "?");
		goto done;
	}
	v = V_PASS;
	msg[0] = 0;
	for (int i = 0; i < nref && v == V_PASS; i++) {
		nncc_tensor_info info;
		const void *data;
		if (nncc_model_output_info(m, i, &info) || nncc_session_output(s, i, &data)) {
			snprintf(msg, msglen, "output %d unavailable", i);
			v = V_ERROR;
		} else if (!compare(&info, data, &ref[i], msg, msglen)) {
			v = V_FAIL;
		}
	}
done:
	nncc_error_free(err);
	nncc_session_free(s);
	nncc_model_free(m);
	if (so[0]) {
		unlink(so);
		*strrchr(so, '/') = 0;
		rmdir(so);
	}
	ir_graph_free(g);
	for (int i = 0; i < MAX_TENSORS; i++) {
		rt_tensor_free(&in[i]);
		rt_tensor_free(&ref[i]);
	}
	return v;
}

static void report(Run *r, const char *dir, Verdict v, char *msg)
{
	r->count[v]++;
	const char *name = strrchr(dir, '/');
	name = name && name[1] ? name + 1 : dir;
	if (!r->verbose) {
		char *nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
	}
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	printf("%-11s %s%s%s\n", verdict_name[v], name, msg[0] ? ": " : "", msg);
	fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(Run *r, const char *dir)
{
	char path[4096], msg[8192];
	snprintf(path, sizeof path, "%s/model.onnx", dir);
	if (is_file(path)) {
		Verdict v = run_one(dir, r, msg, sizeof msg);
		report(r, dir, v, msg);
		return;
	}
	DIR *dp = opendir(dir);
	if (!dp) {
		snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
		report(r, dir, V_ERROR, msg);
		return;
	}
	char **names = NULL;
	int n = 0, cap = 0;
	for (struct dirent *e; (e = readdir(dp));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (!is_dir(path))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			names = xrealloc(names, (size_t)cap * sizeof *names);
		}
		names[n++] = strdup(path);
	}
	closedir(dp);
	qsort(names, (size_t)n, sizeof *names, by_name);
	for (int i = 0; i < n; i++) {
		run_dir(r, names[i]);
		free(names[i]);
	}
	free(names);
}

int drv_test_onnx(int argc, char **argv)
{
	Run r;
	memset(&r, 0, sizeof r);
	r.opt_level = 2;
	int ndirs = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "-O", 2) == 0 && a[2] >= '0' && a[2] <= '3' && !a[3])
			r.opt_level = a[2] - '0';
		else if (strcmp(a, "-v") == 0)
			r.verbose = true;
		else if (a[0] == '-') {
			fprintf(stderr, "nncc test-onnx: unknown option '%s'\nusage: nncc test-onnx [-O0..-O3] [-v] DIR...\n", a);
			return 2;
		} else
			ndirs++;
	}
	if (!ndirs) {
		fprintf(stderr, "usage: nncc test-onnx [-O0..-O3] [-v] DIR...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			run_dir(&r, argv[i]);
	printf("%d passed, %d failed, %d unsupported, %d errors\n", r.count[V_PASS], r.count[V_FAIL],
	       r.count[V_UNSUPPORTED], r.count[V_ERROR]);
	return r.count[V_FAIL] || r.count[V_ERROR] ? 1 : 0;
}
