/*-------------------------------------------------------------------------
 *
 * mkto_limiter.h
 *		  Client-side limits on Marketo calls: the instance's rate and
 *		  concurrency limits, shared by all backends when the library is
 *		  preloaded, and a per-statement call budget.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MKTO_LIMITER_H
#define MKTO_LIMITER_H

#include "postgres.h"

#include "datatype/timestamp.h"

#define MKTO_LIMITER_KEY_LEN	128

typedef struct MktoLimiterStats
{
	char		instance[MKTO_LIMITER_KEY_LEN];
	int			calls_in_window;
	int			in_flight;
	int64		calls;			/* started since the server (or backend)
								 * started */
	int64		waits;			/* calls that had to wait for the limits */
	double		waited_ms;
} MktoLimiterStats;

/* From _PG_init: GUCs, and shared memory when preloaded. */
extern void mkto_limiter_init(void);

/*
 * Waits until instance (the REST base URL) may start one more call under
 * the rate and concurrency limits, and counts it against the statement's
 * budget (ERROR when spent).  Returns a token for release; interruptible.
 */
extern int	mkto_limiter_acquire(const char *instance);

/* Ends a call begun by acquire (its token).  No ereport, no allocation. */
extern void mkto_limiter_release(int slot);

/* True when the limits are shared by all backends (shared memory). */
extern bool mkto_limiter_shared(void);

/* Fills up to max entries, one per instance seen; returns how many. */
extern int	mkto_limiter_stats(MktoLimiterStats *out, int max);

/* Calls the current statement has made, and its budget (0: none). */
extern int64 mkto_statement_calls(void);
extern int	mkto_max_calls_per_statement(void);

#endif							/* MKTO_LIMITER_H */
