/*
 * machine.c - machine and build description (machine.h).  Reads
 * /proc/cpuinfo and /proc/meminfo, uname(2) and getloadavg(3); the build
 * switches come from CMake as BENCH_* definitions.
 */
#include "machine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <pce/pce.h>

#include "runner.h"
#include "timing.h"

/* Above this share of the CPU time taken by others, the report warns. */
#define BUSY_WARN_PCT 10.0

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

double machine_process_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void machine_sample(struct machine_sample *m)
{
	unsigned long long v[8] = {0};
	double hz = (double)sysconf(_SC_CLK_TCK), l[1];
	FILE *f = fopen("/proc/stat", "r");

	/* cpu  user nice system idle iowait irq softirq steal */
	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof(v));
	if (f)
		fclose(f);
	m->wall = (double)now_ns() / 1e9;
	m->busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz;
	m->steal = (double)v[7] / hz;
	m->self = machine_process_cpu_s();
	m->load = getloadavg(l, 1) == 1 ? l[0] : -1;
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

#define PROBE_NS 200000000u

struct probe {
	unsigned slot;
	double rate; /* iterations per second */
};

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	volatile uint64_t x = 1;
	uint64_t n = 0, t0;

	runner_pin_self(p->slot, runner_cpus());
	t0 = now_ns();
	while (now_ns() - t0 < PROBE_NS) {
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n += 100000;
	}
	p->rate = (double)n * 1e9 / (double)(now_ns() - t0);
	return NULL;
}

/* Summed rate of @threads probe threads; 0 if one could not start. */
static double probe(unsigned threads)
{
	struct probe p[2] = {{0, 0}, {1, 0}};
	pthread_t tid[2];
	unsigned started = 0;
	double sum = 0;

	while (started < threads && pthread_create(&tid[started], NULL, probe_main, &p[started]) == 0)
		started++;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		sum += p[i].rate;
	}
	return started == threads ? sum : 0;
}

double machine_cpu_scaling(void)
{
	double r[3];

	for (int i = 0; i < 3; i++) {
		double one = probe(1), two = probe(2);
		r[i] = one > 0 ? two / one : 0;
	}
	/* median of three */
	if (r[0] > r[1]) {
		double t = r[0];
		r[0] = r[1];
		r[1] = t;
	}
	return r[2] < r[0] ? r[0] : r[2] > r[1] ? r[1] : r[2];
}

void machine_describe_scaling(FILE *out, double scaling_start, double scaling_end)
{
	fprintf(out,
		"| CPU scaling probe | 2 threads pinned to 2 CPUs do %.2fx the work of 1 (a "
		"pure integer loop) at the start, %.2fx at the end; two free cores give 2 |\n",
		scaling_start, scaling_end);
}

void machine_describe(FILE *out, const struct machine_sample *start,
		      const struct machine_sample *end)
{
	double cpu_s = (end->wall - start->wall) * runner_cpus();
	double others = end->busy - start->busy - (end->self - start->self);
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
	fprintf(out, "| load average (1 min) | %.2f at start, %.2f at end |\n", start->load,
		end->load);
	if (cpu_s > 0) {
		double busy = 100 * ((others > 0 ? others : 0) + end->steal - start->steal) / cpu_s;

		fprintf(out,
			"| during the run | other processes used %.0f%% of the CPU time, the "
			"hypervisor took %.0f%% (steal); the suite %.0f%% |\n",
			100 * (others > 0 ? others : 0) / cpu_s,
			100 * (end->steal - start->steal) / cpu_s,
			100 * (end->self - start->self) / cpu_s);
		if (busy > BUSY_WARN_PCT)
			fprintf(out,
				"| **warning** | the machine was busy with other work (%.0f%% of its "
				"CPU time): throughputs, scaling and latency tails are depressed "
				"and noisy; ratios between contenders suffer least |\n",
				busy);
	}
	fprintf(out, "| compiler | gcc-compatible %s |\n", __VERSION__);
	fprintf(out, "| build | %s, PCE_DEBUG=%d, allocator %s%s%s |\n", BENCH_BUILD_TYPE,
		BENCH_PCE_DEBUG, BENCH_ALLOCATOR, BENCH_SANITIZE[0] ? ", sanitizer " : "",
		BENCH_SANITIZE);
	fprintf(out, "| libpce | %s |\n", pce_version_string());
	if (problem)
		fprintf(out, "| **warning** | %s: these numbers do not measure a release build |\n",
			problem);
}
