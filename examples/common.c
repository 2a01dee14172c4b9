/* common.c — the code the training examples share (common.h): dataset
 * reader, shuffling and batching, progress, log, options, runtime helpers
 * and a tiny PNG writer over zlib. */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

void ex_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fflush(stdout);
	fprintf(stderr, "error: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

void ex_check(nncc_status st, char **err, const char *what)
{
	if (st == NNCC_STATUS_OK)
		return;
	fflush(stdout);
	fprintf(stderr, "error: %s: %s\n", what, err && *err ? *err : nncc_status_string(st));
	if (err)
		nncc_error_free(*err);
	exit(1);
}

double ex_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- options ---- */

const char ex_common_usage[] =
	"  --epochs N             epochs to train\n"
	"  --seed S               shuffling seed (default 1)\n"
	"  --data DIR             Fashion-MNIST idx.gz files (default /usr/share/datasets/fashion-mnist)\n"
	"  --models DIR           the compiled models (default: the build's examples/models)\n"
	"  --out DIR              log.jsonl, checkpoint.safetensors, PNGs (default .)\n"
	"  --resume               continue from OUT/checkpoint.safetensors\n"
	"  --limit-train N        use the first N training images\n"
	"  --limit-test N         use the first N test images\n"
	"  --checkpoint-every K   also checkpoint every K steps\n"
	"  --lr X                 learning rate (default: the compiled one)\n"
	"  --threads T            threads (default: $NNCC_THREADS or the CPUs, at most 8)\n"
	"  --quiet                no progress output\n"
	"  --kill-after K         (tests) die by SIGKILL after step K, saving nothing\n";

#ifndef EX_MODELS_DIR
#define EX_MODELS_DIR "."
#endif

void ex_args_default(ExArgs *a, int epochs)
{
	memset(a, 0, sizeof *a);
	a->epochs = epochs;
	a->seed = 1;
	a->data = "/usr/share/datasets/fashion-mnist";
	a->models = EX_MODELS_DIR;
	a->out = ".";
	a->lr = -1;
}

static long num(const char *opt, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long x = v ? strtol(v, &end, 10) : 0;
	if (!v || errno || *end || end == v || x < lo || x > hi)
		ex_die("%s: want an integer in [%ld, %ld], got '%s'", opt, lo, hi, v ? v : "");
	return x;
}

bool ex_parse_common(ExArgs *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strcmp(o, "--resume") == 0) {
		a->resume = true;
		return true;
	}
	if (strcmp(o, "--quiet") == 0) {
		a->quiet = true;
		return true;
	}
	if (strcmp(o, "--epochs") == 0)
		a->epochs = (int)num(o, v, 1, 100000);
	else if (strcmp(o, "--seed") == 0)
		a->seed = (uint64_t)num(o, v, 0, 0x7fffffffL);
	else if (strcmp(o, "--data") == 0 && v)
		a->data = v;
	else if (strcmp(o, "--models") == 0 && v)
		a->models = v;
	else if (strcmp(o, "--out") == 0 && v)
		a->out = v;
	else if (strcmp(o, "--limit-train") == 0)
		a->limit_train = (int)num(o, v, 1, 60000);
	else if (strcmp(o, "--limit-test") == 0)
		a->limit_test = (int)num(o, v, 1, 10000);
	else if (strcmp(o, "--checkpoint-every") == 0)
		a->ckpt_every = (int)num(o, v, 1, 1000000000);
	else if (strcmp(o, "--kill-after") == 0)
		a->kill_after = num(o, v, 1, 0x7fffffffL);
	else if (strcmp(o, "--threads") == 0)
		a->threads = (int)num(o, v, 1, 256);
	else if (strcmp(o, "--lr") == 0) {
		char *end;
		a->lr = v ? strtof(v, &end) : -1;
		if (!v || *end || !(a->lr >= 0))
			ex_die("--lr: want a number >= 0, got '%s'", v ? v : "");
	} else
		return false;
	if (!v)
		ex_die("%s needs a value", o);
	++*i;
	return true;
}

const char *ex_path(const ExArgs *a, const char *name)
{
	static char buf[4096];
	if (snprintf(buf, sizeof buf, "%s/%s", a->out, name) >= (int)sizeof buf)
		ex_die("path too long: %s/%s", a->out, name);
	return buf;
}

/* ---- dataset ---- */

/* The whole decompressed file into *len bytes. */
static uint8_t *read_gz(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		ex_die("%s: cannot open (%s)", path, strerror(errno));
	size_t cap = 1 << 20, n = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (!buf)
			ex_die("out of memory reading %s", path);
		int got = gzread(f, buf + n, (unsigned)(cap - n));
		if (got < 0) {
			int e;
			ex_die("%s: %s", path, gzerror(f, &e));
		}
		n += (size_t)got;
		if (got == 0)
			break;
		if (n == cap) {
			cap *= 2;
			uint8_t *nb = realloc(buf, cap);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	gzclose(f);
	*len = n;
	return buf;
}

/* An unsigned-byte idx file of rank `rank`: its dims into d[], the data. */
static uint8_t *read_idx(const char *path, int rank, uint32_t *d, uint8_t **raw)
{
	size_t len;
	uint8_t *b = read_gz(path, &len);
	size_t head = 4 + 4 * (size_t)rank, count = 1;
	if (len < head || b[0] || b[1] || b[2] != 0x08 || b[3] != rank)
		ex_die("%s: not an unsigned-byte idx file of rank %d", path, rank);
	for (int i = 0; i < rank; i++) {
		const uint8_t *p = b + 4 + 4 * i;
		d[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (d[i] == 0 || d[i] > 1000000)
			ex_die("%s: bad dimension %u", path, d[i]);
		count *= d[i];
	}
	if (len - head != count)
		ex_die("%s: expected %zu bytes of data, found %zu", path, count, len - head);
	*raw = b;
	return b + head;
}

int ex_load_sets(const ExArgs *a, int B, ExData *train, ExData *test)
{
	ex_load_data(a->data, "train", a->limit_train, train);
	ex_load_data(a->data, "t10k", a->limit_test, test);
	if (train->n / B == 0)
		ex_die("%d training images: fewer than one batch of %d", train->n, B);
	return train->n / B;
}

void ex_load_data(const char *dir, const char *prefix, int limit, ExData *d)
{
	char path[4096];
	uint32_t di[3], dl[1];
	uint8_t *ri, *rl;
	snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
	const uint8_t *img = read_idx(path, 3, di, &ri);
	snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
	const uint8_t *lab = read_idx(path, 1, dl, &rl);
	if (di[0] != dl[0] || di[1] != 28 || di[2] != 28)
		ex_die("%s/%s: %u images of %ux%u, %u labels (want 28x28, one label each)", dir, prefix,
		       di[0], di[1], di[2], dl[0]);
	d->n = limit > 0 && (uint32_t)limit < di[0] ? limit : (int)di[0];
	d->rows = (int)di[1];
	d->cols = (int)di[2];
	size_t px = (size_t)d->n * (size_t)(d->rows * d->cols);
	d->img = malloc(px);
	d->lab = malloc((size_t)d->n);
	if (!d->img || !d->lab)
		ex_die("out of memory");
	memcpy(d->img, img, px);
	memcpy(d->lab, lab, (size_t)d->n);
	for (int i = 0; i < d->n; i++)
		if (d->lab[i] > 9)
			ex_die("%s/%s: label %d of image %d", dir, prefix, d->lab[i], i);
	free(ri);
	free(rl);
}

void ex_free_data(ExData *d)
{
	free(d->img);
	free(d->lab);
	memset(d, 0, sizeof *d);
}

/* ---- random numbers, shuffling, batches ---- */

uint64_t ex_rand(uint64_t *z)
{
	uint64_t x = (*z += 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

float ex_randn(uint64_t *z)
{
	double u1 = ((double)(ex_rand(z) >> 11) + 0.5) * 0x1p-53;
	double u2 = (double)(ex_rand(z) >> 11) * 0x1p-53;
	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void ex_permute(int *perm, int n, uint64_t seed, int epoch)
{
	uint64_t z = seed * 0x100000001b3ull + (uint64_t)epoch;
	for (int i = 0; i < n; i++)
		perm[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(ex_rand(&z) % (uint64_t)(i + 1));
		int t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

void ex_batch(const ExData *d, const int *idx, int b, float *x, int64_t *y)
{
	size_t px = (size_t)(d->rows * d->cols);
	for (int i = 0; i < b; i++) {
		const uint8_t *s = d->img + (size_t)idx[i] * px;
		for (size_t k = 0; k < px; k++)
			x[(size_t)i * px + k] = ((float)s[k] / 255.0f - EX_MEAN) / EX_STD;
		if (y)
			y[i] = d->lab[idx[i]];
	}
}

void ex_batch01(const ExData *d, const int *idx, int b, float *x)
{
	size_t px = (size_t)(d->rows * d->cols);
	for (int i = 0; i < b; i++)
		for (size_t k = 0; k < px; k++)
			x[(size_t)i * px + k] = (float)d->img[(size_t)idx[i] * px + k] / 255.0f;
}

/* ---- progress and log ---- */

void ex_progress_start(ExProgress *p, int epoch, int epochs, int total, bool quiet)
{
	p->epoch = epoch;
	p->epochs = epochs;
	p->total = total;
	p->tty = isatty(2);
	p->quiet = quiet;
	p->t0 = ex_now();
	p->last = -1;
}

void ex_progress(ExProgress *p, int step, double loss, int batch)
{
	if (p->quiet)
		return;
	double dt = ex_now() - p->t0, rate = dt > 0 ? (double)step * batch / dt : 0;
	if (p->tty) {
		enum { W = 30 };
		char bar[W + 1];
		int fill = p->total ? step * W / p->total : W;
		for (int i = 0; i < W; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[W] = 0;
		fprintf(stderr, "\repoch %d/%d [%s] %d/%d loss %.4f %.0f img/s ", p->epoch + 1, p->epochs,
			bar, step, p->total, loss, rate);
	} else if (step == p->total || step * 10 / p->total != p->last * 10 / p->total) {
		fprintf(stderr, "epoch %d/%d step %d/%d loss %.4f %.0f img/s\n", p->epoch + 1, p->epochs,
			step, p->total, loss, rate);
		p->last = step;
	}
}

void ex_progress_end(ExProgress *p)
{
	if (!p->quiet && p->tty)
		fprintf(stderr, "\n");
}

FILE *ex_log_open(const ExArgs *a)
{
	mkdir(a->out, 0777);
	const char *path = ex_path(a, "log.jsonl");
	FILE *f = fopen(path, a->resume ? "a" : "w");
	if (!f)
		ex_die("%s: %s", path, strerror(errno));
	return f;
}

void ex_log(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputc('{', f);
	vfprintf(f, fmt, ap);
	fputs("}\n", f);
	va_end(ap);
	fflush(f);
}

/* ---- runtime helpers ---- */

void ex_load_model(const char *path, int threads, nncc_model **m, nncc_session **s)
{
	char *err = NULL;
	ex_check(nncc_model_load(path, m, &err), &err, path);
	ex_check(nncc_session_create(*m, s, &err), &err, path);
	if (threads)
		ex_check(nncc_session_set_threads(*s, threads, &err), &err, "--threads");
}

int ex_input(const nncc_model *m, const char *name)
{
	int i = nncc_model_find_input(m, name);
	if (i < 0)
		ex_die("model '%s' has no input '%s'", nncc_model_name(m), name);
	return i;
}

void ex_set(nncc_session *s, const nncc_model *m, const char *name, const void *data, int rank,
	    const int64_t *dims, int dtype)
{
	char *err = NULL;
	ex_check(nncc_session_set_input(s, ex_input(m, name), data, rank, dims, dtype, &err), &err, name);
}

int ex_copy_params(const nncc_session *from, const nncc_model *fm, nncc_session *to,
		   const nncc_model *tm)
{
	int n = 0;
	for (int i = 0; i < nncc_model_num_params(fm); i++) {
		nncc_tensor_info t;
		if (nncc_model_param_role(fm, i) != NNCC_PARAM_TRAINED ||
		    nncc_model_param_info(fm, i, &t) != NNCC_STATUS_OK ||
		    nncc_model_find_param(tm, t.name) < 0)
			continue;
		void *buf = malloc((size_t)t.nbytes);
		char *err = NULL;
		if (!buf)
			ex_die("out of memory");
		ex_check(nncc_session_get_param(from, t.name, buf, t.nbytes, &err), &err, t.name);
		ex_check(nncc_session_set_param(to, t.name, buf, t.nbytes, &err), &err, t.name);
		free(buf);
		n++;
	}
	return n;
}

void ex_save(const nncc_session *s, const ExArgs *a)
{
	char *err = NULL;
	const char *path = ex_path(a, "checkpoint.safetensors");
	ex_check(nncc_session_save_weights(s, path, &err), &err, path);
}

void ex_after_step(const nncc_session *s, const ExArgs *a, int64_t step)
{
	if (a->ckpt_every && step % a->ckpt_every == 0)
		ex_save(s, a);
	if (a->kill_after && step == a->kill_after) {
		fflush(NULL);
		raise(SIGKILL);
	}
}

/* ---- PNG ---- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
	uint8_t b[4];
	put32(b, len);
	fwrite(b, 1, 4, f);
	uLong crc = crc32(0, (const Bytef *)type, 4);
	fwrite(type, 1, 4, f);
	if (len) {
		fwrite(data, 1, len, f);
		crc = crc32(crc, data, len);
	}
	put32(b, (uint32_t)crc);
	fwrite(b, 1, 4, f);
}

void ex_png_gray(const char *path, const uint8_t *px, int w, int h)
{
	size_t raw_len = (size_t)h * ((size_t)w + 1);
	uint8_t *raw = malloc(raw_len);
	uLongf zlen = compressBound((uLong)raw_len);
	uint8_t *z = malloc(zlen);
	if (!raw || !z)
		ex_die("out of memory");
	for (int y = 0; y < h; y++) { /* filter type 0 per row */
		raw[(size_t)y * ((size_t)w + 1)] = 0;
		memcpy(raw + (size_t)y * ((size_t)w + 1) + 1, px + (size_t)y * (size_t)w, (size_t)w);
	}
	if (compress2(z, &zlen, raw, (uLong)raw_len, 9) != Z_OK)
		ex_die("%s: zlib compress failed", path);
	FILE *f = fopen(path, "wb");
	if (!f)
		ex_die("%s: %s", path, strerror(errno));
	static const uint8_t sig[8] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};
	uint8_t ihdr[13] = {0};
	put32(ihdr, (uint32_t)w);
	put32(ihdr + 4, (uint32_t)h);
	ihdr[8] = 8; /* bit depth; colour type 0 (grey), deflate, filter 0, no interlace */
	fwrite(sig, 1, 8, f);
	chunk(f, "IHDR", ihdr, 13);
	chunk(f, "IDAT", z, (uint32_t)zlen);
	chunk(f, "IEND", NULL, 0);
	if (fclose(f) != 0)
		ex_die("%s: write failed", path);
	free(raw);
	free(z);
}

void ex_png_grid(const char *path, const float *img, int n, int cols, int rows, int width)
{
	int cell = width + 2, W = cols * cell, H = rows * cell;
	uint8_t *px = calloc((size_t)W * (size_t)H, 1);
	if (!px)
		ex_die("out of memory");
	for (int k = 0; k < n && k < cols * rows; k++) {
		int ox = (k % cols) * cell + 1, oy = (k / cols) * cell + 1;
		for (int y = 0; y < width; y++)
			for (int x = 0; x < width; x++) {
				float v = img[(size_t)k * (size_t)(width * width) + (size_t)(y * width + x)];
				v = v < 0 ? 0 : v > 1 ? 1 : v;
				px[(size_t)(oy + y) * (size_t)W + (size_t)(ox + x)] = (uint8_t)(v * 255.0f + 0.5f);
			}
	}
	ex_png_gray(path, px, W, H);
	free(px);
}

/* Scores the test set with the eval model (batch E; the last partial
 * batch is padded with copies of its first image and the padding ignored). */
ExEval
ex_evaluate(nncc_session *es, const nncc_model *em, const ExData *test)
{
	nncc_tensor_info xi, li;
	nncc_model_input_info(em, ex_input(em, "x"), &xi);
	int lo = nncc_model_find_output(em, "logits");
	if (lo < 0 || nncc_model_output_info(em, lo, &li) != NNCC_STATUS_OK || li.rank != 2)
		ex_die("eval model '%s' has no output logits[N, C]", nncc_model_name(em));
	int E = (int)xi.dims[0], C = (int)li.dims[1];
	float *x = malloc((size_t)xi.nbytes);
	int *idx = malloc((size_t)E * sizeof *idx);
	if (!x || !idx)
		ex_die("out of memory");
	double loss = 0;
	int right = 0;
	char *err = NULL;
	for (int b0 = 0; b0 < test->n; b0 += E) {
		int nb = test->n - b0 < E ? test->n - b0 : E;
		for (int i = 0; i < E; i++)
			idx[i] = b0 + (i < nb ? i : 0);
		ex_batch(test, idx, E, x, NULL);
		ex_set(es, em, "x", x, xi.rank, xi.dims, NNCC_DTYPE_F32);
		ex_check(nncc_session_run(es, &err), &err, "evaluation");
		const void *out;
		ex_check(nncc_session_output(es, lo, &out), NULL, "logits");
		const float *z = out;
		for (int i = 0; i < nb; i++) {
			const float *r = z + (size_t)i * (size_t)C;
			int best = 0;
			double mx = r[0], se = 0;
			for (int c = 1; c < C; c++)
				if (r[c] > r[best])
					best = c;
			mx = r[best];
			for (int c = 0; c < C; c++)
				se += exp((double)r[c] - mx);
			int y = test->lab[b0 + i];
			loss += log(se) + mx - (double)r[y];
			right += best == y;
		}
	}
	free(x);
	free(idx);
	return (ExEval){loss / test->n, (double)right / test->n};
}
