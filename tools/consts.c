/* consts.c — reads the values of `--const NAME=FILE` (and test-onnx's own
 * bindings) into FeConst records for the frontend (frontend/bind.c). FILE
 * is a .npy or an ONNX TensorProto .pb, read by the runtime's one tensor
 * reader as nncc-run's -i is; the frontend then checks the value against
 * the input's declared type. */
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "runtime/rt.h"

int drv_const_from_tensor(const RtTensor *t, const char *name, const char *file, FeConst *c, Diag *d)
{
	memset(c, 0, sizeof *c);
	if (t->rank > IR_MAX_RANK)
		return diag(d, "--const %s=%s: rank %d exceeds the supported %d", name, file ? file : "",
			t->rank, IR_MAX_RANK);
	if (t->nbytes < 0)
		return diag(d, "--const %s=%s: bad size", name, file ? file : "");
	size_t n = (size_t)t->nbytes;
	void *p = xmalloc(n ? n : 1);
	if (n)
		memcpy(p, t->data, n);
	c->name = strdup(name);
	c->file = file ? strdup(file) : NULL;
	c->dtype = (DType)t->dtype;
	c->rank = t->rank;
	memcpy(c->dims, t->dims, (size_t)t->rank * sizeof *t->dims);
	c->data = p;
	c->nbytes = n;
	return 0;
}

int drv_read_const(const char *arg, FeConst *c, Diag *d)
{
	const char *eq = strchr(arg, '=');
	memset(c, 0, sizeof *c);
	if (!eq || eq == arg || !eq[1])
		return diag(d, "bad --const '%s' (want NAME=FILE, FILE a .npy or TensorProto .pb)", arg);
	char *name = xmalloc((size_t)(eq - arg) + 1);
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = 0;
	RtTensor t;
	char *err = NULL;
	int rc = 0;
	if (rt_tensor_read(eq + 1, &t, &err) != NNCC_STATUS_OK)
		rc = diag(d, "--const %s: %s", arg, err ? err : "cannot read the file");
	else
		rc = drv_const_from_tensor(&t, name, eq + 1, c, d);
	nncc_error_free(err);
	rt_tensor_free(&t);
	free(name);
	return rc;
}

void drv_const_free(FeConst *c)
{
	free((void *)c->name);
	free((void *)c->file);
	free((void *)c->data);
	memset(c, 0, sizeof *c);
}
