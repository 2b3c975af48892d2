/*
 * error.c - error strings, reason names and the run-time version, all
 * generated from the lists in the public headers.
 */
#include "internal.h"

const char *pce_strerror(int err)
{
	switch (err) {
	case PCE_OK:
		return "success";
#define PCE_ERR_MSG_(name, value, msg) \
	case PCE_##name:               \
		return msg;
		PCE_ERRNO_MAP(PCE_ERR_MSG_)
#undef PCE_ERR_MSG_
	}
	return "unknown error";
}

const char *pce_err_name(int err)
{
	switch (err) {
	case PCE_OK:
		return "PCE_OK";
#define PCE_ERR_NAME_(name, value, msg) \
	case PCE_##name:                \
		return "PCE_" #name;
		PCE_ERRNO_MAP(PCE_ERR_NAME_)
#undef PCE_ERR_NAME_
	}
	return "PCE_EUNKNOWN";
}

const char *pce_reason_name(enum pce_reason reason)
{
	static const char *const names[PCE_REASON_COUNT] = {
		[PCE_REASON_CAPACITY] = "capacity", [PCE_REASON_TTL] = "ttl",
		[PCE_REASON_REMOVED] = "removed",   [PCE_REASON_CLEARED] = "cleared",
		[PCE_REASON_REPLACED] = "replaced", [PCE_REASON_DESTROYED] = "destroyed",
	};
	return (unsigned)reason < PCE_REASON_COUNT ? names[reason] : "unknown";
}

unsigned pce_version_number(void)
{
	return PCE_VERSION_NUMBER;
}

const char *pce_version_string(void)
{
	return PCE_VERSION_STRING;
}
