/* rnd.h — the unit tests' reproducible random data (a linear congruential
 * generator): rnd draws a float in [-1, 1) with 23 random bits, rnd16 one
 * with 16 (products and short sums of those are exact in float: the
 * Winograd and pooling tests), rnd_array / rnd16_array n of them into a
 * new array (at least one float; free it). */
#ifndef NNCC_TEST_RND_H
#define NNCC_TEST_RND_H

#include <stdint.h>
#include <stdlib.h>

static inline float rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)(*s >> 8) / 8388608.0f - 1.0f;
}

static inline float rnd16(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static inline float *rnd_fill(int64_t n, uint32_t *s, float (*gen)(uint32_t *))
{
	float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));

	assert_non_null(p);
	for (int64_t i = 0; i < n; i++)
		p[i] = gen(s);
	return p;
}

static inline float *rnd_array(int64_t n, uint32_t *s) { return rnd_fill(n, s, rnd); }
static inline float *rnd16_array(int64_t n, uint32_t *s) { return rnd_fill(n, s, rnd16); }

#endif
