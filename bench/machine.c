/*
 * machine.c - machine and build description (machine.h).  Reads
 * /proc/cpuinfo and /proc/meminfo, uname(2) and getloadavg(3); the build
 * switches come from CMake as BENCH_* definitions.
 */
#include "machine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <pce/pce.h>

#include "runner.h"

#ifndef BENCH_BUILD_TYPE
#define BENCH_BUILD_TYPE "unknown"
#endif
#ifndef BENCH_PCE_DEBUG
#define BENCH_PCE_DEBUG -1
#endif
#ifndef BENCH_ALLOCATOR
#define BENCH_ALLOCATOR "unknown"
#endif
#ifndef BENCH_SANITIZE
#define BENCH_SANITIZE ""
#endif

/* The value of the first "@key<spaces>: value" line of @path, truncated
 * to @len, or "?". */
static void proc_field(const char *path, const char *key, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, klen = strlen(key);

	snprintf(out, len, "?");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		char *colon;
		if (strncmp(line, key, klen) != 0 || !(colon = strchr(line, ':')))
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, len, "%s", colon);
		break;
	}
	free(line);
	fclose(f);
}

double machine_load(void)
{
	double l[1];

	return getloadavg(l, 1) == 1 ? l[0] : -1;
}

const char *machine_build_problem(void)
{
	if (BENCH_PCE_DEBUG != 0)
		return "libpce was built with assertions (PCE_DEBUG != 0)";
	if (BENCH_SANITIZE[0])
		return "libpce was built with a sanitizer";
	if (strcmp(BENCH_BUILD_TYPE, "Release") != 0 && strcmp(BENCH_BUILD_TYPE, "RelWithDebInfo") != 0)
		return "the build type is neither Release nor RelWithDebInfo";
	return NULL;
}

void machine_describe(FILE *out, double load_start, double load_end)
{
	char model[256], mem[64], flags[4096];
	struct utsname u;
	const char *problem = machine_build_problem();

	proc_field("/proc/cpuinfo", "model name", model, sizeof(model));
	proc_field("/proc/meminfo", "MemTotal", mem, sizeof(mem));
	proc_field("/proc/cpuinfo", "flags", flags, sizeof(flags));
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	fprintf(out, "| | |\n|---|---|\n");
	fprintf(out, "| CPU | %s |\n", model);
	fprintf(out, "| CPUs available | %u |\n", runner_cpus());
	fprintf(out, "| virtual machine | %s |\n",
		strstr(flags, " hypervisor") ? "yes (hypervisor flag)" : "no hypervisor flag");
	fprintf(out, "| memory | %s |\n", mem);
	fprintf(out, "| kernel | %s %s %s |\n", u.sysname, u.release, u.machine);
	fprintf(out, "| load average (1 min) | %.2f at start, %.2f at end |\n", load_start,
		load_end);
	fprintf(out, "| compiler | gcc-compatible %s |\n", __VERSION__);
	fprintf(out, "| build | %s, PCE_DEBUG=%d, allocator %s%s%s |\n", BENCH_BUILD_TYPE,
		BENCH_PCE_DEBUG, BENCH_ALLOCATOR, BENCH_SANITIZE[0] ? ", sanitizer " : "",
		BENCH_SANITIZE);
	fprintf(out, "| libpce | %s |\n", pce_version_string());
	if (problem)
		fprintf(out, "| **warning** | %s: these numbers do not measure a release build |\n",
			problem);
}
