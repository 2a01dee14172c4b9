/* eval_check.h — helpers shared by test_eval.c and test_eval_nn.c: build
 * a one-node graph, wrap caller-owned arrays as tensors, evaluate the
 * node, and compare results. Include after <cmocka.h>. */
#ifndef NNCC_TEST_EVAL_CHECK_H
#define NNCC_TEST_EVAL_CHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

#define DIMS(...) (int64_t[]){__VA_ARGS__}

static inline Tensor TT(DType t, int rank, const int64_t *dims, const void *v)
{
	return (Tensor){t, ir_shape_make(rank, dims), (void *)v};
}

/* A graph holding one node of op over nin placeholder inputs. */
static inline Graph *one(Op op, int nin, int *node)
{
	Graph *g = ir_graph_new("t");
	int in[8];
	for (int k = 0; k < nin; k++)
		in[k] = ir_add_input(g, "i", DT_UNDEF, ir_shape_unknown());
	*node = ir_add_node(g, op, "n", in, nin, 1, NULL);
	return g;
}

/* Evaluates the node; fails the test with the message on error. */
static inline Tensor run(Graph *g, int node, const Tensor *in)
{
	Diag d;
	diag_init(&d);
	Tensor out;
	if (ir_eval_node(g, node, in, &out, &d))
		fail_msg("eval failed: %s", d.msg);
	return out;
}

/* Evaluates the node, expects an error containing needle. */
static inline void run_bad(Graph *g, int node, const Tensor *in, const char *needle)
{
	Diag d;
	diag_init(&d);
	Tensor out = {0};
	assert_int_equal(ir_eval_node(g, node, in, &out, &d), -1);
	assert_null(out.data);
	if (strncmp(d.msg, "node ", 5) || !strstr(d.msg, needle))
		fail_msg("message '%s' lacks '%s'", d.msg, needle);
}

static inline void shape_is(const Tensor *t, int rank, const int64_t *dims)
{
	Shape s = ir_shape_make(rank, dims);
	assert_true(ir_shape_eq(&t->shape, &s));
}

/* Compares with want (as f64) after rounding want to t's float dtype;
 * NaN must match NaN. */
static inline void near(const Tensor *t, const double *want, int64_t n, double tol)
{
	assert_int_equal(ir_shape_numel(&t->shape), n);
	for (int64_t i = 0; i < n; i++) {
		double got, w = want[i];
		if (t->dtype == DT_F32) {
			got = ((float *)t->data)[i];
			w = (float)w;
		} else {
			assert_int_equal(t->dtype, DT_F64);
			got = ((double *)t->data)[i];
		}
		if ((isnan(w) && isnan(got)) || got == w)
			continue;
		if (!(fabs(got - w) <= tol * fmax(1, fabs(w))))
			fail_msg("element %lld: got %.17g, want %.17g", (long long)i, got, w);
	}
}


#endif
