/* paths.c — where the installed nncc finds what it links into every model:
 * the kernel library libnncc_rt_kernels.a lies at a fixed place relative
 * to the nncc executable (bin/../lib, cmake/install.cmake), so a prefix
 * can be moved. The build tree's nncc keeps the library it was built with.
 * $NNCC_RT_KERNELS_LIB, when set, wins over both (codegen/link.c). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"

const char *drv_find_runtime(void)
{
	const char *env = getenv("NNCC_RT_KERNELS_LIB");
	if (env && *env)
		return env;
#ifdef NNCC_INSTALL_KERNELS_REL
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	slash[1] = 0;
	char lib[PATH_MAX + sizeof NNCC_INSTALL_KERNELS_REL];
	strcpy(lib, exe);
	strcat(lib, NNCC_INSTALL_KERNELS_REL);
	char real[PATH_MAX];
	if (access(lib, R_OK) == 0 && realpath(lib, real) &&
	    setenv("NNCC_RT_KERNELS_LIB", real, 1) == 0) /* read by cg_link_so */
		return getenv("NNCC_RT_KERNELS_LIB");
#endif
	return NULL;
}
