/*
 * pce/pce.h - umbrella header of libpce: include this one.
 */
#ifndef PCE_PCE_H
#define PCE_PCE_H

#include "pce/version.h"
#include "pce/errors.h"
#include "pce/cache.h"
#include "pce/overlap.h"
#include "pce/router.h"
#include "pce/snapshot.h"

#endif /* PCE_PCE_H */
