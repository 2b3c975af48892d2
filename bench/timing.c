/*
 * timing.c - tick-rate calibration and sleeping (see timing.h).
 */
#include "timing.h"

#include <errno.h>

static double tick_rate = 1.0;

void timing_calibrate(void)
{
	uint64_t t0 = now_ns(), k0 = ticks(), t1, k1;

	sleep_ns(50 * 1000 * 1000);
	t1 = now_ns();
	k1 = ticks();
	if (t1 > t0 && k1 > k0)
		tick_rate = (double)(k1 - k0) / (double)(t1 - t0);
}

double timing_ticks_per_ns(void)
{
	return tick_rate;
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
