/* emu.h — runs nncc's generated CUDA C on the host, for tests on machines
 * without a GPU: force-included (g++ -include) before a module written by
 * `nncc --emit=cuda`, it maps the CUDA keywords to C++ and adds
 * nn_emu_run(), which runs one launch. Blocks run one after another; the
 * threads of a block are real threads meeting at a barrier for
 * __syncthreads(), so __shared__ memory (a static) is shared as on a GPU.
 * Not a model of a GPU's speed or memory, only of the code's meaning. */
#include <cmath>
#include <cstdint>
#include <cstring>
#include <pthread.h>

struct nn_dim3 {
	unsigned x, y, z;
};
static nn_dim3 gridDim, blockDim;
static thread_local nn_dim3 threadIdx, blockIdx;
static pthread_barrier_t nn_emu_barrier;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
static inline void __syncthreads(void) { pthread_barrier_wait(&nn_emu_barrier); }
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline double __longlong_as_double(long long i) { double f; memcpy(&f, &i, 8); return f; }

typedef void (*nn_emu_kernel)(unsigned char *);
struct nn_emu_job {
	nn_emu_kernel fn;
	unsigned char *m;
	unsigned tid;
};

static void *nn_emu_thread(void *p)
{
	nn_emu_job *j = (nn_emu_job *)p;
	threadIdx.x = j->tid % blockDim.x;
	threadIdx.y = j->tid / blockDim.x % blockDim.y;
	threadIdx.z = j->tid / (blockDim.x * blockDim.y);
	for (unsigned z = 0; z < gridDim.z; z++)
		for (unsigned y = 0; y < gridDim.y; y++)
			for (unsigned x = 0; x < gridDim.x; x++) {
				blockIdx.x = x;
				blockIdx.y = y;
				blockIdx.z = z;
				j->fn(j->m);
				pthread_barrier_wait(&nn_emu_barrier); /* the block is done */
			}
	return NULL;
}

/* Runs fn over grid x block; 0, or -1 when threads cannot be made. */
extern "C" int nn_emu_run(nn_emu_kernel fn, unsigned char *m, const unsigned *grid, const unsigned *block)
{
	gridDim = {grid[0], grid[1], grid[2]};
	blockDim = {block[0], block[1], block[2]};
	unsigned n = block[0] * block[1] * block[2];
	if (n == 1) { /* one thread: no barrier needed */
		threadIdx = {0, 0, 0};
		pthread_barrier_init(&nn_emu_barrier, NULL, 1);
		nn_emu_job j = {fn, m, 0};
		nn_emu_thread(&j);
		pthread_barrier_destroy(&nn_emu_barrier);
		return 0;
	}
	pthread_barrier_init(&nn_emu_barrier, NULL, n);
	pthread_t *t = new pthread_t[n];
	nn_emu_job *jobs = new nn_emu_job[n];
	int rc = 0;
	for (unsigned i = 0; i < n; i++) {
		jobs[i] = {fn, m, i};
		if (pthread_create(&t[i], NULL, nn_emu_thread, &jobs[i]) != 0)
			rc = -1; /* the barrier would never open: give up */
	}
	for (unsigned i = 0; i < n && rc == 0; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&nn_emu_barrier);
	delete[] t;
	delete[] jobs;
	return rc;
}
