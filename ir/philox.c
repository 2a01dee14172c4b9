/* philox.c — the counter-based generator behind every random op: Philox
 * 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11; Random123's philox4x32 with 10 rounds), and the one mapping from
 * (seed, step, stream, element index) to an f32 in [0, 1) that the
 * interpreter, the kernel interpreter and the compiled code all follow
 * (docs/training.md "Randomness"):
 *   key     = (seed & 0xffffffff, seed >> 32)
 *   counter = (i >> 2, stream, step & 0xffffffff, step >> 32)
 *   u32     = word (i & 3) of philox4x32_10(counter, key)
 *   value   = (u32 >> 8) * 2^-24          (exact in f32: 24 bits)
 * where i is the element's row-major index (< 2^34), seed and step are
 * read as unsigned 64-bit. Every element is a pure function of its index,
 * so the result does not depend on threads or vector width. */
#include "ir.h"

enum {
	PHILOX_M0 = 0xD2511F53u, /* round multipliers */
	PHILOX_M1 = 0xCD9E8D57u,
	PHILOX_W0 = 0x9E3779B9u, /* key schedule increments (Weyl) */
	PHILOX_W1 = 0xBB67AE85u,
};

void ir_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
	uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
	uint32_t k0 = key[0], k1 = key[1];
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k0 += PHILOX_W0;
			k1 += PHILOX_W1;
		}
		uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
		uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
		uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
		c1 = (uint32_t)p1;
		c3 = (uint32_t)p0;
		c0 = n0;
		c2 = n2;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

uint32_t ir_random_bits(uint64_t seed, uint64_t step, uint32_t stream, uint64_t i)
{
	uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
	uint32_t ctr[4] = {(uint32_t)(i >> 2), stream, (uint32_t)step, (uint32_t)(step >> 32)};
	uint32_t out[4];
	ir_philox4x32_10(ctr, key, out);
	return out[i & 3];
}

float ir_random_uniform(uint64_t seed, uint64_t step, uint32_t stream, uint64_t i)
{
	return (float)(ir_random_bits(seed, step, stream, i) >> 8) * 0x1p-24f;
}
