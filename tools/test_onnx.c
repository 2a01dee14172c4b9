/* test_onnx.c — `nncc test-onnx DIR...`: runs ONNX backend-style test
 * folders (model.onnx + test_data_set_0/{input,output}_K.pb) through the
 * whole compiler and the runtime, and compares with the expected outputs
 * the way the upstream runner does: |out - ref| <= atol + rtol*|ref| with
 * rtol 1e-3, atol 1e-7, exact dtype and shape, NaN matching NaN.
 * A DIR without model.onnx is taken as a folder of such test folders.
 * Each test runs in its own process (-jN at a time), so a crash or a
 * timeout is one ERROR line, not the end of the run. A test nncc reports
 * unsupported as given is tried again with its integer graph inputs that
 * the model uses only as shapes, axes or sizes (frontend/onnx_uses.c)
 * bound to their data, as `--const` would; such a test's line says
 * `[--const NAMES]` and the closing lines count those passes apart.
 * Each test prints one line (PASS, FAIL, UNSUPPORTED or ERROR); the last
 * two lines count them. Exit status 0 when nothing FAILed or ERRORed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	bool no_const;  /* --no-const: never bind inputs to constants */
	int jobs;       /* -j: tests run at once, each in its own process */
	int timeout;    /* --timeout: seconds a test may take, 0 for no limit */
	int count[V_COUNT]; /* tests per verdict */
	int const_pass; /* passes that needed --const */
} Run;

/* One test's outcome, as a child process hands it to the parent. */
typedef struct Result {
	Verdict v;        /* the verdict */
	char bound[256];  /* inputs bound with --const ("a,b"), "" if none */
	char msg[8192];   /* why, for anything but PASS */
} Result;

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
	else if (ir_dtype_is_exotic((DType)dtype)) /* one byte each: value and code */
		snprintf(buf, n, "%g (0x%02x)", ir_elem_get((DType)dtype, (const uint8_t *)p + i),
			 ((const uint8_t *)p)[i]);
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

/* One test's data: inputs matched to the model's graph inputs by position. */
typedef struct Data {
	RtTensor in[MAX_TENSORS];  /* input_K.pb */
	RtTensor ref[MAX_TENSORS]; /* output_K.pb */
	int nin, nref;             /* entries read */
	FeInputUse *use;           /* the model's graph inputs (onnx_uses.c), NULL if unread */
	int nuse;                  /* entries of use */
} Data;

/* The data tensor of graph input `name`, or NULL. */
static const RtTensor *data_for(const Data *t, const char *name)
{
	for (int j = 0; j < t->nuse && j < t->nin; j++)
		if (strcmp(t->use[j].name, name) == 0)
			return &t->in[j];
	return NULL;
}

/* Compiles and runs the model once, the inputs flagged in bind bound as
 * constants to their data; returns the verdict and a message in msg. */
static Verdict attempt(const char *dir, const Run *r, const Data *t, const bool *bind, char *msg,
		       size_t msglen)
{
	char *err = NULL, path[4096], so[4096] = "";
	Verdict v = V_ERROR;
	Graph *g = NULL;
	nncc_model *m = NULL;
	nncc_session *s = NULL;
	FeConst c[MAX_TENSORS];
	int nc = 0;
	Diag d;
	diag_init(&d);
	for (int j = 0; j < t->nuse; j++)
		if (bind[j] && drv_const_from_tensor(&t->in[j], t->use[j].name, NULL, &c[nc], &d) == 0)
			nc++;
	snprintf(path, sizeof path, "%s/model.onnx", dir);
	if (d.msg[0] || !(g = fe_onnx_load_with(path, c, nc, &d))) {
		snprintf(msg, msglen, "%s", d.msg);
		v = unsupported_msg(d.msg) ? V_UNSUPPORTED : V_ERROR;
		goto done;
	}
	if (g->noutput != t->nref) {
		snprintf(msg, msglen, "the model has %d outputs, the data %d", g->noutput, t->nref);
		v = V_UNSUPPORTED;
		goto done;
	}
	Options o;
	memset(&o, 0, sizeof o);
	o.opt_level = r->opt_level;
	for (int i = 0; i < g->ninput && i < PS_MAX_BINDINGS; i++) {
		const RtTensor *x = data_for(t, g->val[g->input[i]].name);
		if (!x) {
			snprintf(msg, msglen, "no data for graph input \"%s\"", g->val[g->input[i]].name);
			goto done;
		}
		if (x->rank > IR_MAX_RANK) {
			snprintf(msg, msglen, "input \"%s\" has rank %d", g->val[g->input[i]].name, x->rank);
			v = V_UNSUPPORTED;
			goto done;
		}
		o.bind[o.nbind].name = g->val[g->input[i]].name;
		o.bind[o.nbind].rank = x->rank;
		memcpy(o.bind[o.nbind].dims, x->dims, (size_t)x->rank * sizeof(int64_t));
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
	for (int i = 0; i < nncc_model_num_inputs(m); i++) {
		nncc_tensor_info info;
		const RtTensor *x = nncc_model_input_info(m, i, &info) ? NULL : data_for(t, info.name);
		if (!x) {
			snprintf(msg, msglen, "compiled input %d has no data", i);
			goto done;
		}
		if (nncc_session_set_input(s, i, x->data, x->rank, x->dims, x->dtype, &err)) {
			snprintf(msg, msglen, "%s", err ? err : "?");
			goto done;
		}
	}
	if (nncc_session_run(s, &err)) {
		snprintf(msg, msglen, "%s", err ? err : "?");
		goto done;
	}
	v = V_PASS;
	msg[0] = 0;
	for (int i = 0; i < t->nref && v == V_PASS; i++) {
		nncc_tensor_info info;
		const void *data;
		if (nncc_model_output_info(m, i, &info) || nncc_session_output(s, i, &data)) {
			snprintf(msg, msglen, "output %d unavailable", i);
			v = V_ERROR;
		} else if (!compare(&info, data, &t->ref[i], msg, msglen)) {
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
	for (int i = 0; i < nc; i++)
		drv_const_free(&c[i]);
	return v;
}

/* An ONNX integer element type (the only inputs test-onnx binds). */
static bool onnx_int_type(int elem)
{
	switch (elem) {
	case 2: case 3: case 4: case 5: case 6: case 7: case 12: case 13: return true;
	default: return false;
	}
}

/* Runs one test folder: as given, and if nncc reports that unsupported,
 * again with its shape-only integer inputs bound to their data (--const). */
static void run_one(const char *dir, const Run *r, Result *res)
{
	Data t;
	memset(&t, 0, sizeof t);
	char *err = NULL, path[4096];
	char *msg = res->msg;
	size_t msglen = sizeof res->msg;
	Diag d;
	diag_init(&d);
	res->v = V_ERROR;
	res->bound[0] = 0;
	snprintf(path, sizeof path, "%s/model.onnx", dir);
	t.nuse = fe_onnx_inputs(path, &t.use, &d);
	if (t.nuse < 0) {
		snprintf(msg, msglen, "%s", d.msg);
		goto done;
	}
	t.nin = read_pbs(dir, "input", t.in, &err);
	t.nref = t.nin < 0 ? -1 : read_pbs(dir, "output", t.ref, &err);
	if (t.nin < 0 || t.nref < 0) {
		/* sequence and optional values are no TensorProto: what the
		 * model says about them comes first */
		Graph *g = fe_onnx_load(path, &d);
		if (!g) {
			snprintf(msg, msglen, "%s", d.msg);
			res->v = unsupported_msg(d.msg) ? V_UNSUPPORTED : V_ERROR;
		} else {
			snprintf(msg, msglen, "reading test data: %s", err ? err : "?");
			res->v = unsupported_msg(err ? err : "") ? V_UNSUPPORTED : V_ERROR;
		}
		ir_graph_free(g);
		goto done;
	}
	if (t.nuse != t.nin) {
		snprintf(msg, msglen, "the model has %d graph inputs, the data %d", t.nuse, t.nin);
		res->v = V_UNSUPPORTED;
		goto done;
	}
	bool bind[MAX_TENSORS] = {false}, any = false;
	res->v = attempt(dir, r, &t, bind, msg, msglen);
	/* binding cannot help a model with ops nncc lacks altogether */
	if (res->v != V_UNSUPPORTED || r->no_const || strstr(msg, ": unsupported operators: "))
		goto done;
	size_t len = 0;
	for (int j = 0; j < t.nuse && j < MAX_TENSORS; j++) {
		bind[j] = t.use[j].shape_only && onnx_int_type(t.use[j].elem);
		if (bind[j] && len + strlen(t.use[j].name) + 2 < sizeof res->bound)
			len += (size_t)sprintf(res->bound + len, "%s%s", any ? "," : "", t.use[j].name);
		any |= bind[j];
	}
	if (any)
		res->v = attempt(dir, r, &t, bind, msg, msglen);
done:
	nncc_error_free(err);
	fe_onnx_inputs_free(t.use, t.nuse);
	for (int i = 0; i < MAX_TENSORS; i++) {
		rt_tensor_free(&t.in[i]);
		rt_tensor_free(&t.ref[i]);
	}
}

static void report(Run *r, const char *dir, Result *res)
{
	r->count[res->v]++;
	r->const_pass += res->v == V_PASS && res->bound[0];
	const char *name = strrchr(dir, '/');
	name = name && name[1] ? name + 1 : dir;
	char *msg = res->msg;
	if (!r->verbose) {
		char *nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
	}
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	printf("%-11s %s%s%s%s%s%s\n", verdict_name[res->v], name, res->bound[0] ? " [--const " : "",
	       res->bound, res->bound[0] ? "]" : "", msg[0] ? ": " : "", msg);
	fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The test folders under dir (dir itself if it holds model.onnx), sorted
 * per level; a folder that cannot be read is listed to fail as a test. */
typedef struct List {
	char **dir;   /* malloc'd paths */
	int n, cap;   /* entries used, allocated */
} List;

static void add(List *l, const char *p)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->dir = xrealloc(l->dir, (size_t)l->cap * sizeof *l->dir);
	}
	l->dir[l->n++] = strdup(p);
}

static void collect(List *l, const char *dir, int depth)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/model.onnx", dir);
	DIR *dp = is_file(path) || depth > 8 ? NULL : opendir(dir);
	if (!dp) {
		add(l, dir);
		return;
	}
	List sub = {NULL, 0, 0};
	for (struct dirent *e; (e = readdir(dp));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (is_dir(path))
			add(&sub, path);
	}
	closedir(dp);
	qsort(sub.dir, (size_t)sub.n, sizeof *sub.dir, by_name);
	for (int i = 0; i < sub.n; i++) {
		collect(l, sub.dir[i], depth + 1);
		free(sub.dir[i]);
	}
	free(sub.dir);
}

/* Runs test i in a child process that writes its Result to fd; a crash
 * or a timeout is the parent's to report. */
static pid_t spawn(const Run *r, const char *dir, int *fd)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	/* the linker nncc runs must not hold the pipe open past the test */
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (r->timeout > 0)
			alarm((unsigned)r->timeout);
		Result *res = xcalloc(1, sizeof *res);
		run_one(dir, r, res);
		const char *b = (const char *)res;
		for (size_t done = 0, k; done < sizeof *res; done += k) {
			ssize_t w = write(p[1], b + done, sizeof *res - done);
			if (w <= 0)
				_exit(3);
			k = (size_t)w;
		}
		free(res);
		exit(0); /* not _exit: a leak checker (make asan) reports this test's leaks */
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

/* Reads a child's Result; turns a crash, a timeout or a short read into an ERROR. */
static void collect_result(const Run *r, int fd, int status, Result *res)
{
	size_t got = 0;
	for (ssize_t k; got < sizeof *res && (k = read(fd, (char *)res + got, sizeof *res - got)) > 0;)
		got += (size_t)k;
	close(fd);
	if (got == sizeof *res && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		res->msg[sizeof res->msg - 1] = 0;
		res->bound[sizeof res->bound - 1] = 0;
		return;
	}
	memset(res, 0, sizeof *res);
	res->v = V_ERROR;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(res->msg, sizeof res->msg, "timed out after %d s", r->timeout);
	else if (WIFSIGNALED(status))
		snprintf(res->msg, sizeof res->msg, "crashed: signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(res->msg, sizeof res->msg, "crashed: exit status %d (see stderr)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Runs every test, r->jobs at a time, printing the lines in list order. */
static void run_all(Run *r, const List *l)
{
	Result *res = xcalloc((size_t)l->n + 1, sizeof *res);
	pid_t *pid = xcalloc((size_t)l->n + 1, sizeof *pid);
	int *fd = xcalloc((size_t)l->n + 1, sizeof *fd);
	bool *done = xcalloc((size_t)l->n + 1, sizeof *done);
	int next = 0, printed = 0, active = 0;
	while (printed < l->n) {
		while (active < r->jobs && next < l->n) {
			pid[next] = spawn(r, l->dir[next], &fd[next]);
			if (pid[next] < 0) {
				res[next].v = V_ERROR;
				snprintf(res[next].msg, sizeof res[next].msg, "cannot start a process: %s",
					 strerror(errno));
				done[next] = true;
			} else {
				active++;
			}
			next++;
		}
		if (active) {
			int status;
			pid_t w = waitpid(-1, &status, 0);
			if (w < 0 && errno == EINTR)
				continue;
			NN_ASSERT(w > 0);
			int i = 0;
			while (i < next && (done[i] || pid[i] != w))
				i++;
			NN_ASSERT(i < next);
			collect_result(r, fd[i], status, &res[i]);
			done[i] = true;
			active--;
		}
		while (printed < l->n && done[printed]) {
			report(r, l->dir[printed], &res[printed]);
			printed++;
		}
	}
	free(res);
	free(pid);
	free(fd);
	free(done);
}

static const char usage_text[] =
	"usage: nncc test-onnx [-O0..-O3] [-v] [-jN] [--timeout=S] [--no-const] DIR...\n"
	"  DIR              a test folder (model.onnx, test_data_set_0/) or a folder of them\n"
	"  -O0 .. -O3       optimization level of every compile (default -O2)\n"
	"  -v               print whole messages, not their first lines\n"
	"  -jN              run N tests at once (default 1)\n"
	"  --timeout=S      a test taking more than S seconds is an ERROR (default 300, 0: none)\n"
	"  --no-const       never bind inputs: every model compiled exactly as given\n"
	"  -h, --help\n";

int drv_test_onnx(int argc, char **argv)
{
	Run r;
	memset(&r, 0, sizeof r);
	r.opt_level = 2;
	r.jobs = 1;
	r.timeout = 300;
	List l = {NULL, 0, 0};
	int ndirs = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else if (strncmp(a, "-O", 2) == 0 && a[2] >= '0' && a[2] <= '3' && !a[3])
			r.opt_level = a[2] - '0';
		else if (strcmp(a, "-v") == 0)
			r.verbose = true;
		else if (strcmp(a, "--no-const") == 0)
			r.no_const = true;
		else if (strncmp(a, "-j", 2) == 0 && (r.jobs = (int)strtol(a + 2, &end, 10)) > 0 &&
			 r.jobs <= 256 && !*end && a[2])
			;
		else if (strncmp(a, "--timeout=", 10) == 0 &&
			 (r.timeout = (int)strtol(a + 10, &end, 10)) >= 0 && !*end && a[10])
			;
		else if (a[0] == '-') {
			fprintf(stderr, "nncc test-onnx: bad option '%s'\n(run 'nncc test-onnx --help' for the "
				"options)\n", a);
			return 2;
		} else
			ndirs++;
	}
	if (!ndirs) {
		fprintf(stderr, "nncc test-onnx: no test folder given\n(run 'nncc test-onnx --help' for the "
			"options)\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		int before = l.n;
		if (argv[i][0] != '-')
			collect(&l, argv[i], 0);
		if (argv[i][0] != '-' && l.n == before) { /* a mistyped path must not pass */
			fprintf(stderr, "nncc test-onnx: %s: no tests there (no folder with a model.onnx)\n",
				argv[i]);
			for (int k = 0; k < l.n; k++)
				free(l.dir[k]);
			free(l.dir);
			return 1;
		}
	}
	run_all(&r, &l);
	for (int i = 0; i < l.n; i++)
		free(l.dir[i]);
	free(l.dir);
	printf("%d passed, %d failed, %d unsupported, %d errors\n", r.count[V_PASS], r.count[V_FAIL],
	       r.count[V_UNSUPPORTED], r.count[V_ERROR]);
	printf("const-bound: %d of the %d passed needed --const (%d compiled exactly as given)\n",
	       r.const_pass, r.count[V_PASS], r.count[V_PASS] - r.const_pass);
	return r.count[V_FAIL] || r.count[V_ERROR] ? 1 : 0;
}
