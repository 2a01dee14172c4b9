/* fuzz_model.c — libFuzzer target: model loading in the runtime. The bytes
 * describe a model descriptor (abi.h) — magic, version, counts, arena
 * size, and per tensor its name, dtype, rank, dims, nbytes and role —
 * which is built in memory and handed to nncc_model_from_abi (the
 * validator of runtime/model_check.c and the role checks of train.c). A
 * descriptor it accepts then gets a session, its inputs, a run of a stub
 * that writes every output, and its outputs read back. Pointers are kept
 * valid (a descriptor in memory has no image to check them against:
 * tests/malformed checks that half on damaged libraries); counts match the
 * arrays built, and every dims array has room for 64 extents, so a rank
 * the validator fails to refuse reads within bounds only up to 64. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAXT = 4, MAXDIMS = 64, MAXDATA = 1 << 16 };

typedef struct Reader {
	const uint8_t *p; /* next byte */
	size_t n;         /* bytes left */
} Reader;

static uint64_t take(Reader *r, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		v |= (uint64_t)(r->n ? *r->p : 0) << (8 * i);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

typedef struct Built {
	nncc_abi_tensor t[3][MAXT];    /* inputs, outputs, params */
	int64_t dims[3][MAXT][MAXDIMS]; /* their extents */
	char names[3][MAXT][16];        /* their names */
	void *data[MAXT];               /* params' data, MAXDATA bytes each */
	int32_t roles[MAXT];            /* params' roles */
	nncc_abi_model m;               /* the descriptor */
	int32_t nouts;                  /* outputs the stub writes */
} Built;

static const Built *running; /* the descriptor the stub run belongs to */

static void stub_run(void *arena, const void *const *in, void *const *out, const void *const *params,
	void *ctx)
{
	(void)arena; (void)in; (void)params; (void)ctx;
	for (int32_t i = 0; i < running->nouts; i++)
		memset(out[i], 0x5a, (size_t)running->m.outputs[i].nbytes);
}

static void tensor(Reader *r, Built *b, int kind, int i)
{
	nncc_abi_tensor *t = &b->t[kind][i];
	int len = (int)take(r, 1) % 17;
	if (len == 16) {
		t->name = NULL;
	} else {
		for (int k = 0; k < len; k++)
			b->names[kind][i][k] = (char)('a' + take(r, 1) % 26);
		b->names[kind][i][len] = '\0';
		t->name = b->names[kind][i];
	}
	t->dtype = (int32_t)take(r, 1) - 8; /* -8 .. 247: known codes and junk */
	uint8_t rk = (uint8_t)take(r, 1);
	t->rank = rk < 200 ? rk % 8 : rk == 255 ? -1 : (int32_t)take(r, 4); /* any int32 */
	for (int k = 0; k < MAXDIMS; k++)
		b->dims[kind][i][k] = take(r, 1) < 250 ? (int64_t)(take(r, 1) % 9) : (int64_t)take(r, 8);
	t->dims = take(r, 1) == 255 ? NULL : b->dims[kind][i];
	int64_t want = 0;
	if (rt_tensor_bytes(t->dtype, t->rank > 0 && t->rank <= MAXDIMS ? t->rank : 0,
			    b->dims[kind][i], &want, "", NULL) != NNCC_STATUS_OK)
		want = 0;
	t->nbytes = take(r, 1) < 240 ? want : (int64_t)take(r, 8);
	bool has_data = take(r, 1) != 255;
	t->data = kind == 2 && has_data ? b->data[i] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Reader r = {data, size};
	setenv("NNCC_THREADS", "2", 0); /* sessions without eight workers each */
	Built *b = calloc(1, sizeof *b);
	if (!b)
		return 0;
	for (int i = 0; i < MAXT; i++)
		b->data[i] = calloc(1, MAXDATA);
	nncc_abi_model *m = &b->m;
	m->magic = take(&r, 1) ? NNCC_ABI_MAGIC : (uint32_t)take(&r, 4);
	m->version = take(&r, 1) ? NNCC_ABI_VERSION : (uint32_t)take(&r, 4);
	m->name = take(&r, 1) == 255 ? NULL : "fuzz";
	int cnt[3];
	for (int k = 0; k < 3; k++)
		cnt[k] = (int)(take(&r, 1) % (MAXT + 1));
	m->ninputs = cnt[0];
	m->noutputs = cnt[1];
	m->nparams = cnt[2];
	if (take(&r, 1) == 255) /* a negative count */
		m->nparams = -(int32_t)(take(&r, 1) + 1);
	m->inputs = b->t[0];
	m->outputs = b->t[1];
	m->params = b->t[2];
	m->arena_bytes = take(&r, 1) < 250 ? (int64_t)take(&r, 2) : (int64_t)take(&r, 8);
	m->run = take(&r, 1) == 255 ? NULL : stub_run;
	bool roles = take(&r, 1) & 1;
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < cnt[k]; i++)
			tensor(&r, b, k, i);
	for (int i = 0; i < MAXT; i++)
		b->roles[i] = (int32_t)(take(&r, 1) % 9) - 1;
	m->param_role = roles ? b->roles : NULL;
	b->nouts = cnt[1];

	nncc_model *model = NULL;
	char *err = NULL;
	bool small = m->arena_bytes <= (1 << 20);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < cnt[k]; i++)
			small &= b->t[k][i].nbytes <= MAXDATA;
	if (nncc_model_from_abi(m, &model, &err) == NNCC_STATUS_OK && small) {
		nncc_session *s = NULL;
		if (nncc_session_create(model, &s, &err) == NNCC_STATUS_OK) {
			for (int i = 0; i < m->ninputs; i++)
				nncc_session_set_input(s, i, b->data[0], m->inputs[i].rank, m->inputs[i].dims,
					m->inputs[i].dtype, NULL);
			running = b;
			nncc_session_run(s, NULL);
			const void *y;
			for (int i = 0; i < m->noutputs; i++)
				nncc_session_output(s, i, &y);
			nncc_session_free(s);
		}
	}
	nncc_model_free(model);
	free(err);
	for (int i = 0; i < MAXT; i++)
		free(b->data[i]);
	free(b);
	return 0;
}
