/* cpu_check.c — nncc --cpu=NAME and --features=LIST checked before any
 * work: LLVM only warns about an unknown processor or feature (on stderr,
 * once per function it compiles) and then ignores it. Here a target
 * machine with the given CPU and features compiles an empty function with
 * stderr captured in a temporary file; any warning there turns into one
 * `nncc:` usage error naming the bad value. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "driver.h"

/* What LLVM printed while compiling an empty function for cpu/features
 * (malloc'd, "" when nothing), or NULL when it could not be captured. */
static char *llvm_warnings(const char *cpu, const char *features)
{
	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	char *triple = LLVMGetDefaultTargetTriple();
	LLVMTargetRef target;
	char *err = NULL;
	if (LLVMGetTargetFromTriple(triple, &target, &err)) {
		LLVMDisposeMessage(err);
		LLVMDisposeMessage(triple);
		return NULL;
	}
	char path[] = "/tmp/nncc-cpu-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		LLVMDisposeMessage(triple);
		return NULL;
	}
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	char *host_cpu = LLVMGetHostCPUName(), *host_features = LLVMGetHostCPUFeatures();
	LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu ? cpu : host_cpu,
		features ? features : host_features, LLVMCodeGenLevelNone, LLVMRelocPIC, LLVMCodeModelDefault);
	if (tm) {
		LLVMContextRef ctx = LLVMContextCreate();
		LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("cpu_check", ctx);
		LLVMSetTarget(mod, triple);
		LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0);
		LLVMValueRef fn = LLVMAddFunction(mod, "f", fty);
		LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
		LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
		LLVMBuildRetVoid(b);
		LLVMDisposeBuilder(b);
		LLVMMemoryBufferRef mb = NULL;
		if (!LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &err, &mb))
			LLVMDisposeMemoryBuffer(mb);
		else
			LLVMDisposeMessage(err);
		LLVMDisposeModule(mod);
		LLVMContextDispose(ctx);
		LLVMDisposeTargetMachine(tm);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	LLVMDisposeMessage(host_cpu);
	LLVMDisposeMessage(host_features);
	LLVMDisposeMessage(triple);
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
	if (!buf || n < 0 || lseek(fd, 0, SEEK_SET) < 0 || (n > 0 && read(fd, buf, (size_t)n) != n)) {
		free(buf);
		close(fd);
		return NULL;
	}
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	return buf;
}

int drv_check_cpu(const char *cpu, const char *features)
{
	if (!cpu && !features)
		return 0;
	if (features) { /* LLVM takes "+a,-b"; anything else it would ignore */
		for (const char *p = features; *p;) {
			size_t n = strcspn(p, ",");
			if ((*p != '+' && *p != '-') || n < 2) {
				fprintf(stderr, "nncc: bad --features '%s' (want +name or -name, comma-separated)\n"
					"(run 'nncc --help' for the options)\n", features);
				return 2;
			}
			p += n + (p[n] == ',');
		}
	}
	char *w = llvm_warnings(cpu, features);
	if (!w || !*w) {
		free(w);
		return 0;
	}
	bool bad_cpu = cpu && strstr(w, "not a recognized processor");
	char *nl = strchr(w, '\n');
	if (nl)
		*nl = 0;
	if (bad_cpu)
		fprintf(stderr, "nncc: unknown --cpu '%s' for this target (see `llc-19 -mcpu=help`)\n", cpu);
	else
		fprintf(stderr, "nncc: bad --features '%s': %s\n", features ? features : "", w);
	fprintf(stderr, "(run 'nncc --help' for the options)\n");
	free(w);
	return 2;
}
