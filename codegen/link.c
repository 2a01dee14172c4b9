/* link.c — links a model's object file into a shared library (cg_link_so).
 *
 * Runs `$CC -shared -o TMP OBJ KERNELS_LIB OPENBLAS_LIB -lm -Wl,-z,noexecstack`
 * through fork/execvp, no shell, so paths with spaces or quotes are safe.
 * $CC (default `cc`) is split on blanks so `ccache gcc` works; the kernel
 * library defaults to the one built with nncc and $NNCC_RT_KERNELS_LIB
 * overrides it. TMP sits next to OUT and is renamed over it only when the
 * linker succeeds, so a failed link never leaves a partial OUT. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen.h"

#ifndef NNCC_RT_KERNELS_LIB
#define NNCC_RT_KERNELS_LIB "libnncc_rt_kernels.a"
#endif

enum { MAX_CC_WORDS = 16, MAX_OBJS = 8 };

/* Runs argv; returns its wait status, or -1 with errno set if it could not
 * be started (exec errors come back through a close-on-exec pipe). */
static int run(char *const *argv)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return -1;
	fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		execvp(argv[0], argv);
		int e = errno;
		ssize_t w = write(pfd[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	close(pfd[1]);
	int e = 0;
	ssize_t r;
	do
		r = read(pfd[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (r == (ssize_t)sizeof e) {
		errno = e;
		return -1;
	}
	return status;
}


/* objs: nobj objects (the model's, then e.g. the cuda target's descriptor
 * or a split step's halves). */
static int link_so(const char *const *objs, int nobj, const char *out, Diag *d)
{
	const char *cc = getenv("CC");
	if (!cc || !*cc)
		cc = "cc";
	const char *rtlib = getenv("NNCC_RT_KERNELS_LIB");
	if (!rtlib || !*rtlib)
		rtlib = NNCC_RT_KERNELS_LIB;

	char *ccw = xmalloc(strlen(cc) + 1);
	strcpy(ccw, cc);
	char *argv[MAX_CC_WORDS + MAX_OBJS + 12];
	int n = 0;
	for (char *save, *w = strtok_r(ccw, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == MAX_CC_WORDS) {
			free(ccw);
			return diag(d, "$CC has more than %d words", MAX_CC_WORDS);
		}
		argv[n++] = w;
	}
	if (!n || nobj < 1 || nobj > MAX_OBJS) {
		free(ccw);
		return diag(d, !n ? "$CC is blank" : "linking %s: %d objects", out, nobj);
	}
	char *tmp = make_tmp_next_to(out, d);
	if (!tmp) {
		free(ccw);
		return -1;
	}
	argv[n++] = "-shared";
	argv[n++] = "-o";
	argv[n++] = tmp;
	for (int i = 0; i < nobj; i++)
		argv[n++] = (char *)objs[i];
	argv[n++] = (char *)rtlib;
	argv[n++] = "-lm";
	argv[n++] = "-Wl,-z,noexecstack";
	argv[n] = NULL;

	int rc = 0;
	int st = run(argv);
	if (st < 0)
		rc = diag(d, "linking %s: cannot run %s: %s", out, argv[0], strerror(errno));
	else if (WIFSIGNALED(st))
		rc = diag(d, "linking %s: %s killed by signal %d", out, argv[0], WTERMSIG(st));
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		rc = diag(d, "linking %s: %s exited with status %d", out, argv[0], WEXITSTATUS(st));
	else if (rename(tmp, out) != 0)
		rc = diag(d, "cannot write %s: %s", out, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	free(ccw);
	return rc;
}

int cg_link_so(const char *obj, const char *out, Diag *d)
{
	return link_so(&obj, 1, out, d);
}

int cg_link_so_extra(const char *obj, const char *extra, const char *out, Diag *d)
{
	const char *objs[2] = {obj, extra};
	return link_so(objs, extra ? 2 : 1, out, d);
}

int cg_link_so_objs(const char *const *objs, int nobj, const char *out, Diag *d)
{
	return link_so(objs, nobj, out, d);
}
