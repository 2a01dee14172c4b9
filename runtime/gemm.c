/* gemm.c — the kernel library's single-precision GEMM: packed panels, a
 * register-blocked micro-kernel, and the run's own threads.
 *
 * The loops are those of BLIS (Van Zee and van de Geijn, "BLIS: A
 * Framework for Rapidly Instantiating BLAS Functionality"): for each block
 * of NC columns and KC of the inner dimension, B's block is packed into
 * panels of NR columns (KC x NR, row by row); for each block of MC rows
 * A's block is packed into panels of MR rows (column by column); the
 * micro-kernel multiplies one A panel by one B panel into an MR x NR tile
 * held in registers, then adds it to C. The A panel stays in L1 while the
 * kernel walks the B block in L2. A is packed anew for each NC columns,
 * unless it outgrows L2 (gemm_block's keep): then the KC blocks run
 * outermost and A's panels, packed for the first NC columns, are read
 * back for the others.
 *
 * A constant weight packed ahead (rt_gemm_const_a) is one stream of
 * panels, read from memory once per run: a model's weights outgrow the
 * caches. The first tile of each panel would wait on it (a 32 x 7 tile
 * takes 128 bytes a step, several times what one core's memory feeds), so
 * each tile brings a slice of the next panel into L2 as it runs, the
 * prefetches spread among its multiply-adds (gemm_ukr.c): ResNet-50's 7x7
 * layers then run as fast with their weights in memory as in the cache.
 *
 * The micro-kernels (gemm_ukr.c), picked per call by the CPU's features
 * and the shape (rt_gemm_isa): with AVX-512, tiles of 12 x 32, 8 x 48, 6 x 64 and 4 x 96
 * (vectors along the columns, 24 zmm accumulators) and, for C narrow or
 * of an awkward width, 32 x 12, 32 x 9, 32 x 8, 32 x 7 and 32 x 4 (vectors
 * down the rows); with AVX2+FMA 6 x 16; a plain C 4 x 8 for anything else.
 * Each is compiled for its ISA with a target attribute, so the library
 * needs no -m flags. B stored k x n is read in place, unpacked, when C has
 * few rows. C with at most 4 rows against B stored n x k, or at most 16
 * columns wide (but not 9), runs as dot products along k of
 * operands read in place (dots_avx512): there packing the big operand
 * would cost more than the few products it feeds.
 *
 * Threads: C splits into as many pieces as the run has threads, along its
 * longer side in whole tiles; each piece packs its own operands into its
 * own slot of ctx->gemm_scratch (NNCC_ABI_GEMM_SCRATCH bytes). Every
 * element of C is the sum, from zero, of each KC block in p order, added to
 * C block by block, whichever tile or piece holds it: the result does not
 * depend on the thread count.
 *
 * Without a context, or one without gemm_scratch (an embedder calling a
 * model's entry point with ctx NULL), the product runs on the calling
 * thread over a scratch slot allocated for the call. Models once called
 * OpenBLAS there, and linking it cost every model's process about 120 ms
 * of a core at load: its threads start spinning as the library loads
 * (OpenBLAS stays the reference of bench/gemm_bench.c). */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <immintrin.h>

#include "gemm.h"

enum {
	MC = 96,  /* rows of A per packed block (whole tiles of MR rows: 96 for every MR) */
	KC = 512, /* inner extent per packed block */
	NC = 512, /* columns of B per packed block (whole tiles: 480 for NR 48 and 96) */
	NC_SMALL_L2 = 256, /* the same where L2 holds less than 2 MiB (nc_block) */
};

_Static_assert((MC * KC + KC * NC) * sizeof(float) <= NNCC_ABI_GEMM_SCRATCH,
	       "a GEMM scratch slot holds one packed A and one packed B block");

/* Columns of B per packed block when A comes packed ahead (a model's
 * weight): KC x NC floats, 1 MiB, half of a Sapphire Rapids core's 2 MiB
 * L2; a Zen 4 core has 1 MiB, which that block fills, so there 256
 * (ResNet-50's layers at batch 1 on one thread 2 to 10% faster). An A
 * packed block by block keeps NC: narrower blocks would pack it more
 * often (a square 512 on one thread 7% slower). The columns of a block
 * never change a sum: the same bits either way. */
static atomic_int nc_known; /* 0: not yet known */

static int64_t
nc_block(void)
{
	int v = atomic_load_explicit(&nc_known, memory_order_relaxed);

	if (!v) {
		long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
		v = l2 > 0 && l2 < (2L << 20) ? NC_SMALL_L2 : NC;
		atomic_store_explicit(&nc_known, v, memory_order_relaxed);
	}
	return v;
}

/* Floats of A (the rows of one piece) from which gemm_block keeps its
 * packed panels for all of C's columns rather than packing them anew for
 * each NC: twice what L2 holds. */
enum { KEEP_MIN_A = 1 << 20 };

/* The micro-kernels and the choice among them: gemm_ukr.c. */
typedef RtIsa Isa;

/* One GEMM, and how its C splits into pieces (one per chunk). */
typedef struct Gemm {
	const Isa *isa;
	int64_t m, n, k, lda, ldb, ldc;
	const float *a, *b;
	float *c;
	int trans_a, trans_b, acc;
	char *scratch;  /* slot ch at ch * NNCC_ABI_GEMM_SCRATCH */
	int split_n;    /* pieces split the columns (else the rows) */
	int linear;     /* pieces split the tiles taken row by row (split_n unused) */
	const float *bt; /* dots_avx512: B transposed (n x k), B itself or a copy */
	int64_t ldbt;   /* its row stride */
	int64_t npiece;
	/* A packed ahead (rt_gemm_const_a): per KC block from p0, the panels
	 * of all mp rows (m padded to whole mr) at apack + p0 * mp; NULL:
	 * packed block by block */
	const float *apack;
	int64_t mp;
	/* C's rows start as these values (m floats; on the tiled path each
	 * tile's micro-kernel adds its rows' to the first KC block's sums at
	 * its store), not 0; NULL: none */
	const float *bias;
	const RtEpi *epi; /* canonical, applied to C where it is final (the micro-kernels' last
			     stores; a pass after each piece of the other paths), or NULL */
	int avx512;       /* the CPU has AVX-512 (pack_b, and pack_a of a transposed A, copy by vectors) */
	float *keep;      /* A's packed panels over one KC block, keep_slot floats a piece (gemm_block) */
	int64_t nc;       /* columns of B per packed block (nc_block) */
	int64_t keep_slot;
} Gemm;

/* The first n rows of s (row stride lds, 8 floats each; rows n.. read as
 * zeros) in registers, shuffled so that transpose_row(r, i) is row i of
 * their transpose: 8 loads, 24 shuffles (and 8 more in transpose_row). */
__attribute__((always_inline, target("avx2"))) static inline void
transpose_regs(const float *s, int64_t lds, int n, __m256 r[8])
{
	__m256 t[8];

	for (int i = 0; i < 8; i++)
		r[i] = i < n ? _mm256_loadu_ps(s + i * lds) : _mm256_setzero_ps();
	for (int i = 0; i < 8; i += 2) {
		t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 8; i += 4) {
		r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
		r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
		r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
		r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
	}
}

/* Row i (0..8) of transpose_regs' result. */
__attribute__((always_inline, target("avx2"))) static inline __m256
transpose_row(const __m256 r[8], int i)
{
	return i < 4 ? _mm256_permute2f128_ps(r[i], r[i + 4], 0x20)
		     : _mm256_permute2f128_ps(r[i - 4], r[i], 0x31);
}

/* d[0..8)[0..8) (row stride ldd) = the transpose of s (row stride lds):
 * 8 loads, 24 shuffles, 8 stores. */
__attribute__((target("avx2"))) static void
transpose8x8(const float *s, int64_t lds, float *d, int64_t ldd)
{
	__m256 r[8];

	transpose_regs(s, lds, 8, r);
	for (int i = 0; i < 8; i++)
		_mm256_storeu_ps(d + i * ldd, transpose_row(r, i));
}

/* d[0..8)[0..n) (row stride ldd) = the transpose of s[0..n)[0..8) (row
 * stride lds), for 0 < n < 8: each store masked to n floats. */
__attribute__((target("avx2"))) static void
transpose_nx8(const float *s, int64_t lds, int n, float *d, int64_t ldd)
{
	__m256 r[8];
	__m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));

	transpose_regs(s, lds, n, r);
	for (int i = 0; i < 8; i++)
		_mm256_maskstore_ps(d + i * ldd, mk, transpose_row(r, i));
}

/* d (kc rows of w) = the transpose of s (rows x kc, row stride lds),
 * with zeros in columns [rows, w) of d: blocks of 8 rows (the last one
 * fewer) by 8 columns through registers when the CPU has AVX, the columns
 * past whole blocks of 8 one by one. */
static void
transpose_panel(const float *restrict s, int64_t lds, int64_t rows, int64_t kc, int w, int avx,
		float *restrict d)
{
	int64_t pb = avx ? kc / 8 * 8 : 0;

	for (int64_t p = 0; p < pb; p += 8)
		for (int64_t i = 0; i < rows; i += 8) {
			if (rows - i >= 8)
				transpose8x8(s + i * lds + p, lds, d + p * w + i, w);
			else
				transpose_nx8(s + i * lds + p, lds, (int)(rows - i), d + p * w + i, w);
		}
	for (int64_t i = 0; i < rows; i++) { /* the columns past whole blocks */
		const float *si = s + i * lds;
		for (int64_t p = pb; p < kc; p++)
			d[p * w + i] = si[p];
	}
	if (rows < w)
		for (int64_t p = 0; p < kc; p++)
			memset(d + p * w + rows, 0, (size_t)(w - rows) * sizeof(float));
}

/* d (kc rows of nr, contiguous) = kc rows of cols floats from s (row
 * stride lds), zeros in columns [cols, nr): whole vectors, the last of a
 * row masked (a 32 x 7 tile's panel rows are 7 floats). */
__attribute__((target("avx512f"))) static void
copy_panel_avx512(const float *restrict s, int64_t lds, int64_t kc, int64_t cols, int nr, float *restrict d)
{
	int nv = (nr + 15) / 16;
	__mmask16 last = (__mmask16)((1u << (nr - 16 * (nv - 1))) - 1);
	__mmask16 in[6];

	for (int v = 0; v < nv; v++) {
		int64_t c = cols - 16 * v;
		in[v] = (__mmask16)(c <= 0 ? 0 : c >= 16 ? 0xffff : (1u << c) - 1);
	}
	for (int64_t p = 0; p < kc; p++, s += lds, d += nr)
		for (int v = 0; v < nv; v++)
			_mm512_mask_storeu_ps(d + 16 * v, v == nv - 1 ? last : 0xffff,
					      _mm512_maskz_loadu_ps(in[v], s + 16 * v));
}

/* ap = rows [i0, i0 + mc) x inner [p0, p0 + kc) of op(A), as panels of mr
 * rows (zero rows past mc), each column by column. */
static void
pack_a(const Gemm *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float *restrict ap)
{
	int mr = g->isa->mr;

	for (int64_t ir = 0; ir < mc; ir += mr, ap += mr * kc) {
		int64_t rows = mc - ir < mr ? mc - ir : mr;
		if (g->trans_a) { /* A stored k x m: row p of the panel is contiguous */
			const float *s = g->a + p0 * g->lda + i0 + ir;
			if (g->avx512) { /* by vectors (Winograd's weight gradient: V^T) */
				copy_panel_avx512(s, g->lda, kc, rows, mr, ap);
				continue;
			}
			for (int64_t p = 0; p < kc; p++, s += g->lda) {
				float *d = ap + p * mr;
				int64_t i = 0;
				for (; i < rows; i++)
					d[i] = s[i];
				for (; i < mr; i++)
					d[i] = 0.0f;
			}
			continue;
		}
		/* A stored m x k: the panel's rows are runs of kc, transposed in
		 * blocks of TB columns so the writes stay in a few lines */
		transpose_panel(g->a + (i0 + ir) * g->lda + p0, g->lda, rows, kc, mr, g->isa->avx, ap);
	}
}

/* bp = inner [p0, p0 + kc) x columns [j0, j0 + nc) of op(B), as panels of
 * nr columns (zero columns past nc), each row by row. */
static void
pack_b(const Gemm *g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float *restrict bp)
{
	int nr = g->isa->nr;

	for (int64_t jr = 0; jr < nc; jr += nr, bp += nr * kc) {
		int64_t cols = nc - jr < nr ? nc - jr : nr;
		if (!g->trans_b && g->avx512 && nr <= 96) {
			copy_panel_avx512(g->b + p0 * g->ldb + j0 + jr, g->ldb, kc, cols, nr, bp);
			continue;
		}
		if (!g->trans_b) { /* B stored k x n: each panel row is a contiguous run */
			const float *s = g->b + p0 * g->ldb + j0 + jr;
			for (int64_t p = 0; p < kc; p++, s += g->ldb) {
				float *restrict d = bp + p * nr;
				int64_t j = 0;
				for (; j < cols; j++) /* inline: runs of 32 to 96 */
					d[j] = s[j];
				for (; j < nr; j++)
					d[j] = 0.0f;
			}
			continue;
		}
		transpose_panel(g->b + (j0 + jr) * g->ldb + p0, g->ldb, cols, kc, nr, g->isa->avx, bp);
	}
}

/* Rows of C up to which B (stored k x n) is read in place rather than
 * packed: few A panels reuse it, so packing would cost more than it saves
 * (a matrix-vector product, a small batch times a weight matrix, a 1x1
 * convolution of few filters). 48 rather than 16: MobileNetV2, GoogLeNet
 * and ResNet-50 at batch 1, one thread, 3-4% faster, SqueezeNet 2%, the
 * ResNet-18 training step 2%; two threads about even. */
enum { INPLACE_B_ROWS = 48 };

/* c[i][0 .. n) = bias[i] for rows i < m (row stride ldc). */
__attribute__((target("avx512f"))) static void
fill_rows_avx512(float *c, int64_t ldc, int64_t m, int64_t n, const float *bias)
{
	for (int64_t i = 0; i < m; i++) {
		__m512 v = _mm512_set1_ps(bias[i]);
		int64_t j = 0;
		for (; j + 16 <= n; j += 16)
			_mm512_storeu_ps(c + i * ldc + j, v);
		if (j < n)
			_mm512_mask_storeu_ps(c + i * ldc + j, (__mmask16)((1u << (n - j)) - 1), v);
	}
}

static void
fill_rows(float *c, int64_t ldc, int64_t m, int64_t n, const float *bias, int avx512)
{
	if (avx512) {
		fill_rows_avx512(c, ldc, m, n, bias);
		return;
	}
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++)
			c[i * ldc + j] = bias[i];
}

/* C rows [i0, i1) x columns [j0, j1), packing into ap and bp. With keep
 * (room for rows [i0, i1) of A over one KC block, as panels), the KC
 * blocks run outermost and A's panels are packed into keep for the first
 * block of columns and read back from it for the others, the next panel
 * brought into L2 a slice per tile as for a pre-packed A: packed into ap
 * anew for each NC columns, an A that outgrows the caches comes from
 * memory each time (a square product of 4096 spent 6% of its time so).
 * The same sums, KC block by KC block, either way. */
static void
gemm_block(const Gemm *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *ap, float *bp, float *keep)
{
	int mr = g->isa->mr, nr = g->isa->nr;
	int64_t ncb = g->nc / nr * nr, mcb = MC / mr * mr; /* whole tiles per block */
	int64_t njc = (j1 - j0 + ncb - 1) / ncb, npc = (g->k + KC - 1) / KC;
	int inplace = !g->trans_b && i1 - i0 <= INPLACE_B_ROWS;

	for (int64_t o = 0; o < njc * npc; o++) {
		int64_t jq = keep ? o % njc : o / npc, pc = (keep ? o / njc : o % npc) * KC, jc = j0 + jq * ncb;
		int64_t nc = j1 - jc < ncb ? j1 - jc : ncb, kc = g->k - pc < KC ? g->k - pc : KC;
		int64_t full = inplace ? nc / nr * nr : 0; /* columns read in place */
		int acc = pc > 0 || g->acc;
		const float *bias = pc == 0 ? g->bias : NULL; /* the first block starts from it */
		const RtEpi *ep = pc + kc >= g->k ? g->epi : NULL; /* the last block stores results */
		pack_b(g, pc, kc, jc + full, nc - full, bp + full * kc);
		for (int64_t ic = i0; ic < i1; ic += mcb) {
			int64_t mc = i1 - ic < mcb ? i1 - ic : mcb;
			float *own = keep ? keep + (ic - i0) * kc : ap; /* where A is packed */
			const float *apk = g->apack ? g->apack + pc * g->mp + ic * kc : own;
			if (!g->apack && (!keep || jq == 0))
				pack_a(g, ic, mc, pc, kc, own);
			/* panels read from memory: the next one, a slice per tile */
			int64_t lines = g->apack || (keep && jq > 0) ? mr * kc / 16 : 0;
			for (int64_t ir = 0; ir < mc; ir += mr)
				for (int64_t jr = 0; jr < nc; jr += nr) {
					float *c = g->c + (ic + ir) * g->ldc + jc + jr;
					int64_t rows = mc - ir < mr ? mc - ir : mr;
					int64_t cols = nc - jr < nr ? nc - jr : nr;
					const float *a = apk + ir * kc, *b = bp + jr * kc;
					int64_t ldb = nr;
					if (jr < full)
						b = g->b + pc * g->ldb + jc + jr, ldb = g->ldb;
					const float *bt = bias ? bias + ic + ir : NULL;
					int64_t l0 = lines * jr / nc, l1 = lines * (jr + cols) / nc;
					RtUkr ukr = g->isa->ukr; /* fewer vectors for a right edge */
					int64_t nv = (cols + 15) / 16;
					if (nv < nr / 16 && g->isa->edge[nv])
						ukr = g->isa->edge[nv];
					ukr(kc, a, b, ldb, c, g->ldc, acc, bt, rows, cols,
						    lines ? a + mr * kc + l0 * 16 : NULL, l1 - l0, ep);
				}
		}
	}
}

/* Piece ch of the GEMM: a range of whole column (or row) tiles; or
 * (linear) a range of the tiles taken row of tiles by row of tiles, at
 * most three blocks: the end of a row of tiles, whole rows, the start of
 * one. Each tile sums alike in any piece. */
static void
gemm_piece(void *closure, int64_t ch)
{
	const Gemm *g = closure;
	float *ap = (float *)(g->scratch + ch * NNCC_ABI_GEMM_SCRATCH), *bp = ap + MC * KC;
	int64_t unit = g->split_n ? g->isa->nr : g->isa->mr, ext = g->split_n ? g->n : g->m;
	int64_t tiles = (ext + unit - 1) / unit;
	int64_t lo = ch * tiles / g->npiece * unit, hi = (ch + 1) * tiles / g->npiece * unit;
	float *keep = g->keep ? g->keep + ch * g->keep_slot : NULL;

	if (g->linear) {
		int64_t mr = g->isa->mr, nr = g->isa->nr, tn = (g->n + nr - 1) / nr;
		int64_t all = (g->m + mr - 1) / mr * tn, t0 = ch * all / g->npiece, t1 = (ch + 1) * all / g->npiece;
		while (t0 < t1) {
			int64_t r = t0 / tn, c0 = t0 % tn, i1 = (r + 1) * mr < g->m ? (r + 1) * mr : g->m;
			if (c0 == 0 && t1 - t0 >= tn) { /* whole rows of tiles */
				int64_t r1 = r + (t1 - t0) / tn;
				gemm_block(g, r * mr, r1 * mr < g->m ? r1 * mr : g->m, 0, g->n, ap, bp, NULL);
				t0 = r1 * tn;
				continue;
			}
			int64_t c1 = t1 - t0 < tn - c0 ? c0 + t1 - t0 : tn;
			gemm_block(g, r * mr, i1, c0 * nr, c1 * nr < g->n ? c1 * nr : g->n, ap, bp, NULL);
			t0 += c1 - c0;
		}
		return;
	}
	if (hi > ext)
		hi = ext;
	if (g->split_n)
		gemm_block(g, 0, g->m, lo, hi, ap, bp, keep);
	else
		gemm_block(g, lo, hi, 0, g->n, ap, bp, keep);
}

enum {
	PAR_MIN_MACS = 1 << 16, /* multiply-adds below which one thread does it all */
	ROWS_MAX = NNCC_ABI_DOTS_MAX_M, /* C rows up to which B's rows are streamed */
	ROWS_SPLIT = 256,       /* columns per piece of rows_gemm at least */
	DOTS_MIN_K = NNCC_ABI_DOTS_MIN_K, /* inner extent from which dots_avx512 beats packing */
	DOTS_MAX_N = RT_GEMM_DOTS_MAX_N, /* C columns up to which dots_avx512 beats packing A */
};

/* C with at most ROWS_MAX rows and B stored k x n (a matrix-vector product,
 * a small batch times a weight matrix): B is read once, row after row, in
 * order, and each of its rows scaled into every row of C (c_i += a_ip *
 * B_p). The tiled path would walk B down columns of panels, a page per row,
 * where here the prefetcher sees one stream. Columns [j0, j1). */
__attribute__((target("avx512f"))) static void
rows_avx512(const Gemm *g, int64_t j0, int64_t j1)
{
	for (int64_t i = 0; i < g->m; i++)
		if (!g->acc)
			memset(g->c + i * g->ldc + j0, 0, (size_t)(j1 - j0) * sizeof(float));
	for (int64_t p = 0; p < g->k; p++) {
		const float *bp = g->b + p * g->ldb;
		for (int64_t i = 0; i < g->m; i++) {
			__m512 av = _mm512_set1_ps(g->trans_a ? g->a[p * g->lda + i] : g->a[i * g->lda + p]);
			float *ci = g->c + i * g->ldc;
			int64_t j = j0;
			for (; j + 16 <= j1; j += 16)
				_mm512_storeu_ps(ci + j, _mm512_fmadd_ps(av, _mm512_loadu_ps(bp + j),
									 _mm512_loadu_ps(ci + j)));
			if (j < j1) {
				__mmask16 mk = (__mmask16)((1u << (j1 - j)) - 1);
				_mm512_mask_storeu_ps(ci + j, mk,
						      _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(mk, bp + j),
								      _mm512_maskz_loadu_ps(mk, ci + j)));
			}
		}
	}
}

/* C rows [i0, i1) x columns [j0, j1) as dot products of A's rows (m x k,
 * row stride lda) with the rows of bt (B transposed: n x k, row stride
 * ldbt), both read in place along k: tiles of 4 x 4 sums, each a vector of
 * 16 partial sums reduced at the end. For C with few rows (A a batch of
 * one to four, B a weight matrix kept n x k) or few columns (a convolution's
 * small output planes), where packing the big operand would cost more
 * than the products. */
/* out[u][q] = the dot product of rows a[u] and b[q], k floats each, for
 * u < MI, q < NQ: MI * NQ vectors of 16 partial sums. Inlined with
 * constant MI and NQ, the sums stay in registers. */
__attribute__((always_inline, target("avx512f"))) static inline void
dot_tile(int64_t k, const float *const *a, const float *const *b, int MI, int NQ, float out[4][4])
{
	int64_t kv = k / 16 * 16;
	__mmask16 tail = (__mmask16)((1u << (k - kv)) - 1);
	__m512 r[4][4], bv[4];

	for (int u = 0; u < MI; u++)
		for (int q = 0; q < NQ; q++)
			r[u][q] = _mm512_setzero_ps();
	for (int64_t p = 0; p < k; p += 16) {
		__mmask16 mk = p < kv ? (__mmask16)0xffff : tail;
		for (int q = 0; q < NQ; q++)
			bv[q] = _mm512_maskz_loadu_ps(mk, b[q] + p);
		for (int u = 0; u < MI; u++) {
			__m512 av = _mm512_maskz_loadu_ps(mk, a[u] + p);
			__asm__("" : "+v"(av)); /* one load, not one folded into each FMA */
			for (int q = 0; q < NQ; q++)
				r[u][q] = _mm512_fmadd_ps(av, bv[q], r[u][q]);
		}
	}
	for (int u = 0; u < MI; u++)
		for (int q = 0; q < NQ; q++)
			out[u][q] = _mm512_reduce_add_ps(r[u][q]);
}

/* C rows [i0, i1) x columns [j0, j1) as dot products of A's rows (m x k,
 * row stride lda) with the rows of bt (B transposed: n x k, row stride
 * ldbt), both read in place along k, in tiles of up to 4 x 4 sums: rows in
 * fours, columns in the fewest groups of at most four, as even as can be
 * (9 columns: 3, 3, 3). For C with few rows (A a batch of one to four, B
 * a weight matrix kept n x k) or few columns (a convolution's small output
 * planes), where packing the big operand would cost more than the
 * products. */
__attribute__((target("avx512f"))) static void
dots_avx512(const Gemm *g, const float *bt, int64_t ldbt, int64_t i0, int64_t i1, int64_t j0,
	    int64_t j1)
{
	int64_t ngrp = (j1 - j0 + 3) / 4, gb[17], *gbp = ngrp <= 16 ? gb : NULL;

	if (gbp) /* the groups' first columns, once: no divisions per tile */
		for (int64_t gj = 0; gj <= ngrp; gj++)
			gb[gj] = j0 + gj * (j1 - j0) / ngrp;
	for (int64_t i = i0; i < i1; i += 4) {
		int mi = i1 - i < 4 ? (int)(i1 - i) : 4;
		const float *a[4];
		for (int u = 0; u < mi; u++)
			a[u] = g->a + (i + u) * g->lda;
		for (int64_t gj = 0; gj < ngrp; gj++) {
			int64_t j = gbp ? gb[gj] : j0 + gj * (j1 - j0) / ngrp;
			int nq = (int)((gbp ? gb[gj + 1] : j0 + (gj + 1) * (j1 - j0) / ngrp) - j);
			const float *b[4];
			float out[4][4];
			for (int q = 0; q < nq; q++)
				b[q] = bt + (j + q) * ldbt;
			switch ((mi - 1) * 4 + nq - 1) {
#define DOT_CASE(MI, NQ)                                                                           \
	case (MI - 1) * 4 + NQ - 1:                                                                \
		dot_tile(g->k, a, b, MI, NQ, out);                                                 \
		break;
				DOT_CASE(1, 1) DOT_CASE(1, 2) DOT_CASE(1, 3) DOT_CASE(1, 4)
				DOT_CASE(2, 1) DOT_CASE(2, 2) DOT_CASE(2, 3) DOT_CASE(2, 4)
				DOT_CASE(3, 1) DOT_CASE(3, 2) DOT_CASE(3, 3) DOT_CASE(3, 4)
				DOT_CASE(4, 1) DOT_CASE(4, 2) DOT_CASE(4, 3) DOT_CASE(4, 4)
#undef DOT_CASE
			}
			for (int u = 0; u < mi; u++)
				for (int q = 0; q < nq; q++) {
					float *c = g->c + (i + u) * g->ldc + j + q;
					*c = g->acc ? *c + out[u][q] : out[u][q];
				}
		}
	}
}

/* Piece ch of a dot-product GEMM: whole groups of four rows of C, or of
 * four columns when C has at most ROWS_MAX rows. */
static void
dots_piece(void *closure, int64_t ch)
{
	const Gemm *g = closure;
	int64_t ext = g->split_n ? g->n : g->m, quads = (ext + 3) / 4;
	int64_t lo = ch * quads / g->npiece * 4, hi = (ch + 1) * quads / g->npiece * 4;

	if (hi > ext)
		hi = ext;
	if (g->split_n) {
		dots_avx512(g, g->bt, g->ldbt, 0, g->m, lo, hi);
		rt_epi_rows(g->epi, g->c + lo, g->ldc, g->m, hi - lo);
	} else {
		dots_avx512(g, g->bt, g->ldbt, lo, hi, 0, g->n);
		rt_epi_rows(g->epi, g->c + lo * g->ldc, g->ldc, hi - lo, g->n);
	}
}

static void
rows_piece(void *closure, int64_t ch)
{
	const Gemm *g = closure;
	int64_t blocks = (g->n + 15) / 16; /* whole vectors per piece */
	int64_t lo = ch * blocks / g->npiece * 16;
	int64_t hi = (ch + 1) * blocks / g->npiece * 16 < g->n ? (ch + 1) * blocks / g->npiece * 16 : g->n;

	rows_avx512(g, lo, hi);
	rt_epi_rows(g->epi, g->c + lo, g->ldc, g->m, hi - lo);
}

/* Whether an m x n x k product takes dots_avx512 (C a few columns wide,
 * or a few rows times B transposed). Not C of 9 columns (a 3x3 plane) and
 * more rows: the 32 x 9 tile fits it whole (SqueezeNet's last layers 2.4%
 * faster on one thread from k = 128 on; its 1x1 convolution 64 -> 256 on
 * 3x3, k = 64, 7.4 -> 2.8 us). */
static int
dots_path(const Isa *isa, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b)
{
	return isa->avx && __builtin_cpu_supports("avx512f") && !trans_a && k >= DOTS_MIN_K &&
	       ((m <= ROWS_MAX && trans_b) ||
		(m > ROWS_MAX && n <= DOTS_MAX_N && n != 9 &&
		 n * k * (int64_t)sizeof(float) <= NNCC_ABI_GEMM_SCRATCH));
}

/* Whether a product that is not a dot-product one streams B's rows into
 * C's (rows_avx512: C a few rows, B stored k x n). */
static int
rows_path(const Isa *isa, int64_t m, int trans_b)
{
	return m <= ROWS_MAX && !trans_b && isa->avx && __builtin_cpu_supports("avx512f");
}

/* Whether rt_gemm_const_a's product m x n x k (B not transposed) takes
 * the tiled path, the one that reads A's panels from the weight cache. */
static int
tiled_const_a(const Isa *isa, int64_t m, int64_t n, int64_t k)
{
	return !dots_path(isa, m, n, k, 0, 0) && !rows_path(isa, m, 0);
}

/* g's A panels, all of them, from cx's weight cache (packed on the first
 * call): the tiled path then packs only B. Left to pack block by block
 * when the cache declines. */
static void
const_a(const nncc_abi_ctx *cx, Gemm *g, const void *key, uint64_t part)
{
	int mr = g->isa->mr, fresh;
	int64_t mp = (g->m + mr - 1) / mr * mr;
	uint64_t tag = (uint64_t)0x41 << 56 | (uint64_t)(g->trans_a != 0) << 55 | (uint64_t)mr << 48 |
		       (part & 0xffff) << 32 | (uint64_t)(g->k & 0xffffffff);
	float *ap = cx->wcache(cx->wcache_owner, key, tag, mp * g->k * (int64_t)sizeof(float), &fresh);

	if (!ap)
		return;
	if (fresh)
		for (int64_t pc = 0; pc < g->k; pc += KC)
			pack_a(g, 0, g->m, pc, g->k - pc < KC ? g->k - pc : KC, ap + pc * mp);
	g->apack = ap, g->mp = mp;
}

/* C = (accumulate ? C : bias or 0) + op(A) op(B), then epi: the plain
 * loops, for when not even a scratch slot can be allocated. */
static void
gemm_plain(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int trans_a, const float *b,
	   int64_t ldb, int trans_b, int accumulate, const float *bias, float *c, int64_t ldc, const RtEpi *epi)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			float s = accumulate ? c[i * ldc + j] : bias ? bias[i] : 0.0f;
			for (int64_t p = 0; p < k; p++)
				s += (trans_a ? a[p * lda + i] : a[i * lda + p]) *
				     (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
			c[i * ldc + j] = s;
		}
	rt_epi_rows(epi, c, ldc, m, n);
}

/* rt_gemm; with key, A (or A^T) is the constant weight at key and
 * the tiled path takes its panels from cx's weight cache when it can. */
static void
gemm_run(const nncc_abi_ctx *cx, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
	 int trans_a, const float *b, int64_t ldb, int trans_b, int accumulate, const float *bias, float *c,
	 int64_t ldc, const void *key, uint64_t tag, const RtEpi *epi)
{
	if (m <= 0 || n <= 0)
		return;
	if (k > 0 && (!cx || !cx->gemm_scratch)) { /* one thread, a scratch slot of its own */
		nncc_abi_ctx c1 = {.nthreads = 1, .gemm_scratch = aligned_alloc(64, NNCC_ABI_GEMM_SCRATCH)};
		if (c1.gemm_scratch)
			gemm_run(&c1, m, n, k, a, lda, trans_a, b, ldb, trans_b, accumulate, bias, c, ldc, NULL, 0,
				 epi);
		else /* out of memory: the kernels cannot report it, so the plain loops */
			gemm_plain(m, n, k, a, lda, trans_a, b, ldb, trans_b, accumulate, bias, c, ldc, epi);
		free(c1.gemm_scratch);
		return;
	}
	if (rt_epi_on(epi) && (k <= 0 || !epi->canon)) { /* a pass after */
		gemm_run(cx, m, n, k, a, lda, trans_a, b, ldb, trans_b, accumulate, bias, c, ldc, key, tag,
			 NULL);
		rt_epi_rows(epi, c, ldc, m, n);
		return;
	}
	if (bias && k <= 0) { /* C = bias */
		fill_rows(c, ldc, m, n, bias, __builtin_cpu_supports("avx512f"));
		bias = NULL, accumulate = 1;
	}
	if (k <= 0) { /* the product is empty */
		if (!accumulate)
			for (int64_t i = 0; i < m; i++)
				memset(c + i * ldc, 0, (size_t)n * sizeof(float));
		return;
	}
	Gemm g = {
	    .isa = rt_gemm_isa(m, n, k), .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb, .ldc = ldc,
	    .a = a, .b = b, .c = c, .trans_a = trans_a, .trans_b = trans_b, .acc = accumulate,
	    .scratch = cx->gemm_scratch, .npiece = 1, .epi = rt_epi_on(epi) ? epi : NULL, .nc = NC,
	};
	int64_t threads = cx->parallel_for && m * n * k >= PAR_MIN_MACS ? cx->nthreads : 1;
	g.avx512 = g.isa->avx && __builtin_cpu_supports("avx512f");
	int dots = dots_path(g.isa, m, n, k, trans_a, trans_b), rows = !dots && rows_path(g.isa, m, trans_b);
	if (bias && (dots || rows)) { /* paths without it */
		fill_rows(c, ldc, m, n, bias, g.avx512);
		g.acc = 1;
	} else {
		g.bias = bias;
	}
	if (dots) {
		g.bt = b, g.ldbt = ldb;
		if (!trans_b) { /* B (k x n) is a few columns wide: transposed once */
			float *bt = (float *)g.scratch;
			int64_t p8 = g.isa->avx ? k / 8 * 8 : 0, j8 = g.isa->avx ? n / 8 * 8 : 0;
			for (int64_t p = 0; p < p8; p += 8) /* 8 x 8 blocks through registers */
				for (int64_t j = 0; j < j8; j += 8)
					transpose8x8(b + p * ldb + j, ldb, bt + j * k + p, k);
			for (int64_t p = 0; p < k; p++) /* the edges */
				for (int64_t j = p < p8 ? j8 : 0; j < n; j++)
					bt[j * k + p] = b[p * ldb + j];
			g.bt = bt, g.ldbt = k;
		}
		g.split_n = m <= ROWS_MAX;
		int64_t quads = ((g.split_n ? n : m) + 3) / 4;
		g.npiece = quads / 4 < threads ? quads / 4 : threads;
		if (g.npiece > 1) {
			cx->parallel_for(cx->pool, dots_piece, &g, g.npiece);
		} else {
			g.npiece = 1;
			dots_piece(&g, 0);
		}
		return;
	}
	if (rows) {
		g.npiece = n / ROWS_SPLIT < threads ? n / ROWS_SPLIT : threads;
		if (g.npiece > 1) {
			cx->parallel_for(cx->pool, rows_piece, &g, g.npiece);
		} else {
			g.npiece = 1;
			rows_piece(&g, 0);
		}
		return;
	}
	if (key && cx->wcache && tag <= 0xffff) /* the tag's 16 bits of part */
		const_a(cx, &g, key, tag);
	if (g.apack) /* no A packed per block: the B block sized by L2 */
		g.nc = nc_block();
	int64_t tm = (m + g.isa->mr - 1) / g.isa->mr, tn = (n + g.isa->nr - 1) / g.isa->nr;
	g.split_n = tn >= tm || tn >= 4 * threads;
	g.npiece = g.split_n ? tn : tm;
	if (g.npiece > threads)
		g.npiece = threads;
	/* A packed ahead and neither way splitting the tiles evenly: the tiles
	 * row by row (MobileNetV2's 160 x 49 layers: 5 row or 7 column tiles,
	 * split 3 and 2 or 4 and 3, 20 of the 35 to one thread; row by row,
	 * 18). Not with 2 rows of tiles: that is a split by rows, each piece
	 * reading all of B (SqueezeNet's 16 x 225 layers: 2.4% slower) */
	int64_t most = g.split_n ? (tn + g.npiece - 1) / g.npiece * tm : (tm + g.npiece - 1) / g.npiece * tn;
	g.linear = g.npiece > 1 && g.apack && tm >= 3 && tn >= 3 &&
		   10 * ((tm * tn + g.npiece - 1) / g.npiece) <= 9 * most;
	int64_t prows = g.split_n ? m : (tm + g.npiece - 1) / g.npiece * g.isa->mr; /* rows of a piece */
	int64_t pcols = g.split_n ? (tn + g.npiece - 1) / g.npiece * g.isa->nr : n;
	if (!g.apack && pcols > g.nc / g.isa->nr * g.isa->nr && prows * k >= KEEP_MIN_A) {
		/* A packed once per KC block, not per NC columns: room for the call */
		g.keep_slot = ((prows + g.isa->mr - 1) / g.isa->mr * g.isa->mr * KC + 15) / 16 * 16;
		g.keep = aligned_alloc(64, (size_t)(g.npiece * g.keep_slot) * sizeof(float));
	}
	if (g.npiece > 1)
		cx->parallel_for(cx->pool, gemm_piece, &g, g.npiece);
	else
		gemm_piece(&g, 0);
	free(g.keep);
}

void
rt_gemm(const nncc_abi_ctx *cx, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
	int trans_a, const float *b, int64_t ldb, int trans_b, int accumulate, float *c, int64_t ldc)
{
	gemm_run(cx, m, n, k, a, lda, trans_a, b, ldb, trans_b, accumulate, NULL, c, ldc, NULL, 0, NULL);
}

int
rt_gemm_const_a_ready(const nncc_abi_ctx *cx, const void *key, uint32_t part, int64_t m, int64_t n,
		      int64_t k, const float *a)
{
	Gemm g = {.isa = rt_gemm_isa(m, n, k), .m = m, .n = n, .k = k, .lda = k, .a = a};

	if (m <= 0 || n <= 0 || k <= 0 || !tiled_const_a(g.isa, m, n, k))
		return 1;
	if (!cx || !cx->wcache || !cx->gemm_scratch || part > 0xffff)
		return 0;
	const_a(cx, &g, key, part);
	return g.apack != NULL;
}

void
rt_gemm_const_a(const nncc_abi_ctx *cx, const void *key, uint32_t part, int64_t m, int64_t n,
		int64_t k, const float *a, const float *b, int64_t ldb, int trans_b, int accumulate,
		const float *row_bias, float *c, int64_t ldc, const RtEpi *epi)
{
	gemm_run(cx, m, n, k, a, k, 0, b, ldb, trans_b, accumulate && !row_bias, row_bias, c, ldc, key, part,
		 epi);
}

void
rt_gemm_const_at(const nncc_abi_ctx *cx, const void *key, uint32_t part, int64_t m, int64_t n, int64_t k,
		 const float *a, const float *b, int64_t ldb, float *c, int64_t ldc)
{
	gemm_run(cx, m, n, k, a, m, 1, b, ldb, 0, 0, NULL, c, ldc, key, part, NULL);
}
