/*-------------------------------------------------------------------------
 *
 * mkto_limiter.h
 *		  Client-side limits on Marketo calls: the instance's rate and
 *		  concurrency limits, shared by all backends when the library is
 *		  preloaded, and the call budget of a query execution.
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
	bool		unproven;		/* the window of credentials Marketo has not
								 * accepted yet (this backend's) */
	int			calls_in_window;
	int			in_flight;
	int64		calls;			/* started since the server (or backend)
								 * started, libcurl's resends included */
	int64		waits;			/* calls that had to wait for the limits */
	double		waited_ms;
} MktoLimiterStats;

/* A call admitted by mkto_limiter_acquire, for release. */
typedef struct MktoLimiterTicket
{
	int			slot;			/* -1: nothing to release */
	int			pos;			/* its start in the slot's ring */
	bool		unproven;		/* counted in this backend's window for
								 * credentials not yet accepted */
	uint64		credential;
} MktoLimiterTicket;

/* From _PG_init: GUCs, executor hooks, and shared memory when preloaded. */
extern void mkto_limiter_init(void);

/*
 * The limiter's name for the instance behind url: its host in lower case
 * and its port (the scheme's default when not given), so that spellings of
 * one URL share one count.  key has MKTO_LIMITER_KEY_LEN bytes.
 */
extern void mkto_limiter_instance_key(const char *url, char *key);

/*
 * Waits until instance (a key from mkto_limiter_instance_key) may start
 * one more call under the rate and concurrency limits, and counts it
 * against the query's call budget (ERROR when spent).  Interruptible.
 *
 * credential identifies the client id and secret.  Only calls with
 * credentials Marketo has accepted at this instance (see
 * mkto_limiter_accepted) enter the instance's shared window; the others
 * are limited in a window of this backend's own, so that calls with wrong
 * credentials cannot delay anybody else's.
 */
extern MktoLimiterTicket mkto_limiter_acquire(const char *instance,
											  uint64 credential);

/*
 * As mkto_limiter_acquire, but never waits: false, with nothing counted,
 * when the limits have no room now.  For a caller that already holds
 * tickets, which must not wait for room that only its own calls can free,
 * nor for room other backends holding tickets are waiting for too.
 */
extern bool mkto_limiter_try_acquire(const char *instance, uint64 credential,
									 MktoLimiterTicket *ticket);

/*
 * Ends an admitted call.  requests_sent is how often the request went out
 * (libcurl may resend it; 0 counts as 1): the extra sendings count against
 * the window and the budget too.  No ereport, no allocation.
 */
extern void mkto_limiter_release(MktoLimiterTicket *ticket, int requests_sent);

/*
 * Marketo accepted the ticket's credential (it answered a REST call with
 * something other than a token error): from now on its calls enter the
 * instance's shared window, and this call, if it was counted apart, is
 * added to it.
 */
extern void mkto_limiter_accepted(const char *instance,
								  const MktoLimiterTicket *ticket,
								  int requests_sent);

/*
 * After a 606: waits until the rate window has passed, as Marketo advises.
 * Returns false, without waiting, when the call has already waited
 * marketo_fdw.rate_limit_waits windows (waits_done of them).
 */
extern bool mkto_limiter_wait_rate_window(int waits_done);

/* True when the limits are shared by all backends (shared memory). */
extern bool mkto_limiter_shared(void);

/* Fills up to max entries, one per instance seen; returns how many. */
extern int	mkto_limiter_stats(MktoLimiterStats *out, int max);

/* Calls the current query execution has made, and its budget (0: none). */
extern int64 mkto_statement_calls(void);
/* The bulk export bytes the current execution has read, to add to. */
extern int64 *mkto_statement_export_bytes(void);
/* Sets whether calls pass the budget (cleanup); returns the old setting. */
extern bool mkto_limiter_exempt_from_budget(bool exempt);
extern int	mkto_max_calls_per_statement(void);

#endif							/* MKTO_LIMITER_H */
