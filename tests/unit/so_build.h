/* so_build.h — for the tests of the runtime API (test_rt_contract,
 * test_rt_release, test_train_optim, test_train_apps): a graph that has
 * been through the pass pipeline lowered, scheduled, planned and
 * compiled into DIR/NAME.so (its object file removed), the path in so.
 * With plan_check, the memory plan is checked first. */
#ifndef NNCC_TEST_SO_BUILD_H
#define NNCC_TEST_SO_BUILD_H

#include <stdio.h>

#include "codegen/codegen.h"

static inline void so_build(Graph *g, const char *dir, const char *name, int plan_check, char *so,
			    size_t n)
{
	Diag d;
	diag_init(&d);
	KernelList kl;
	if (cg_lower(g, &kl, &d) < 0)
		fail_msg("%s", d.msg);
	cg_schedule(&kl, 0);
	cg_plan(&kl);
	if (plan_check)
		assert_int_equal(cg_plan_check(&kl, &d), 0);
	char obj[512];
	snprintf(obj, sizeof obj, "%s/%s.o", dir, name);
	snprintf(so, n, "%s/%s.so", dir, name);
	CpuOptions co = {.opt_level = 2};
	if (cg_cpu_emit(&kl, &co, obj, 0, &d) < 0 || cg_link_so(obj, so, &d) < 0)
		fail_msg("%s", d.msg);
	cg_free(&kl);
	remove(obj);
}

#endif
