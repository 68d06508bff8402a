/*-------------------------------------------------------------------------
 *
 * mkto_limiter.c
 *		  Client-side limits on Marketo calls.
 *
 * A Marketo instance allows 100 calls per 20 seconds and 10 concurrent
 * calls, shared by every integration using it; past them it answers 606 or
 * 615.  Each call waits here until both limits leave room, so that one
 * PostgreSQL server does not produce those errors itself.
 *
 * With marketo_fdw in shared_preload_libraries the state is in shared
 * memory and all backends share the limits.  Otherwise each backend keeps
 * its own state: then N backends together may make N times the calls, and
 * Marketo's 606/615 retries remain the safety net.
 *
 * Every call also counts against marketo_fdw.max_calls_per_statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "mkto_limiter.h"

/* The most calls one window can hold: the size of each start-time ring. */
#define MKTO_RING_SIZE			1000
/* Longest single sleep, so cancel is seen promptly. */
#define MKTO_WAIT_STEP_MS		100

typedef struct MktoInstanceSlot
{
	bool		used;
	char		key[MKTO_LIMITER_KEY_LEN];
	int			in_flight;
	int			head;			/* oldest start in the ring */
	int			count;			/* starts within the window */
	TimestampTz starts[MKTO_RING_SIZE];
	int64		calls;
	int64		waits;
	int64		waited_us;
} MktoInstanceSlot;

typedef struct MktoLimiterShared
{
	LWLock	   *lock;
	int			nslots;
	MktoInstanceSlot slots[FLEXIBLE_ARRAY_MEMBER];
} MktoLimiterShared;

static int	max_calls_per_window = 100;
static int	rate_window_ms = 20000;
static int	max_concurrent_calls = 10;
static int	max_instances = 16;
static int	max_calls_per_statement = 1000;

static MktoLimiterShared *shared_state = NULL;	/* shared memory, or NULL */
static MktoLimiterShared *local_state = NULL;	/* this backend's */
static int *held = NULL;		/* in-flight calls this backend holds, per
								 * slot */

/* The statement the budget counts for, and its calls. */
static TimestampTz statement_start = 0;
static LocalTransactionId statement_lxid = InvalidLocalTransactionId;
static int64 statement_calls = 0;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

static Size
state_size(void)
{
	return add_size(offsetof(MktoLimiterShared, slots),
					mul_size(sizeof(MktoInstanceSlot), max_instances));
}

static void
limiter_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(state_size());
	RequestNamedLWLockTranche("marketo_fdw", 1);
}

static void
limiter_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_state = ShmemInitStruct("marketo_fdw limiter", state_size(), &found);
	if (!found)
	{
		memset(shared_state, 0, state_size());
		shared_state->lock = &(GetNamedLWLockTranche("marketo_fdw"))->lock;
		shared_state->nslots = max_instances;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
mkto_limiter_init(void)
{
	DefineCustomIntVariable("marketo_fdw.max_calls_per_window",
							"Marketo calls allowed per rate window, per instance.",
							"Marketo allows 100 calls per 20 seconds; lower it to leave room for other integrations.",
							&max_calls_per_window, 100, 1, MKTO_RING_SIZE,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.rate_window_ms",
							"Length of the rate window.",
							NULL, &rate_window_ms, 20000, 1, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.max_concurrent_calls",
							"Marketo calls allowed in flight at once, per instance.",
							"Marketo allows 10.",
							&max_concurrent_calls, 10, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.max_calls_per_statement",
							"Marketo calls one statement may make; 0 for no limit.",
							"Guards the daily API quota against runaway queries.",
							&max_calls_per_statement, 1000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);

	/*
	 * Loaded by a backend, not preloaded: no shared memory, and a
	 * PGC_POSTMASTER setting may not be defined (it would be FATAL).
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("marketo_fdw.max_instances",
							"Marketo instances whose limits shared memory tracks.",
							NULL, &max_instances, 16, 1, 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = limiter_shmem_request;
#else
	limiter_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = limiter_shmem_startup;
}

bool
mkto_limiter_shared(void)
{
	return shared_state != NULL;
}

/* Gives back the calls a dying backend still holds. */
static void
release_held(int code, Datum arg)
{
	MktoLimiterShared *state = shared_state ? shared_state : local_state;

	if (state == NULL || held == NULL)
		return;
	if (shared_state)
		LWLockAcquire(state->lock, LW_EXCLUSIVE);
	for (int i = 0; i < state->nslots; i++)
	{
		state->slots[i].in_flight = Max(0, state->slots[i].in_flight - held[i]);
		held[i] = 0;
	}
	if (shared_state)
		LWLockRelease(state->lock);
}

static MktoLimiterShared *
current_state(void)
{
	if (held == NULL)
	{
		int			nslots = shared_state ? shared_state->nslots : max_instances;

		held = MemoryContextAllocZero(TopMemoryContext, sizeof(int) * nslots);
		if (shared_state)
			before_shmem_exit(release_held, (Datum) 0);
		else
		{
			local_state = MemoryContextAllocZero(TopMemoryContext,
												 offsetof(MktoLimiterShared, slots) +
												 sizeof(MktoInstanceSlot) * nslots);
			local_state->nslots = nslots;
		}
	}
	return shared_state ? shared_state : local_state;
}

/*
 * The slot for instance; when all are taken, the last one is shared by the
 * rest, which only makes their limits stricter.
 */
static int
find_slot(MktoLimiterShared *state, const char *instance)
{
	for (int i = 0; i < state->nslots; i++)
	{
		MktoInstanceSlot *slot = &state->slots[i];

		if (!slot->used)
		{
			slot->used = true;
			strlcpy(slot->key, instance, sizeof(slot->key));
			return i;
		}
		if (strncmp(slot->key, instance, sizeof(slot->key) - 1) == 0)
			return i;
	}
	return state->nslots - 1;
}

static void
expire(MktoInstanceSlot *slot, TimestampTz now)
{
	TimestampTz cutoff = now - (TimestampTz) rate_window_ms * 1000;

	while (slot->count > 0 && slot->starts[slot->head] <= cutoff)
	{
		slot->head = (slot->head + 1) % MKTO_RING_SIZE;
		slot->count--;
	}
}

static void
count_statement_call(void)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();

	if (start != statement_start || MyProc->lxid != statement_lxid)
	{
		statement_start = start;
		statement_lxid = MyProc->lxid;
		statement_calls = 0;
	}
	if (max_calls_per_statement > 0 && statement_calls >= max_calls_per_statement)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statement reached marketo_fdw.max_calls_per_statement (%d Marketo calls)",
						max_calls_per_statement),
				 errdetail("Marketo counts every call against the instance's daily quota."),
				 errhint("Narrow the query, or raise marketo_fdw.max_calls_per_statement for this session.")));
	statement_calls++;
}

int
mkto_limiter_acquire(const char *instance)
{
	MktoLimiterShared *state = current_state();
	TimestampTz first_try = GetCurrentTimestamp();
	bool		waited = false;

	count_statement_call();
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		MktoInstanceSlot *slot;
		long		wait_ms;
		int			i;
		int			window_calls = Min(max_calls_per_window, MKTO_RING_SIZE);

		if (shared_state)
			LWLockAcquire(state->lock, LW_EXCLUSIVE);
		i = find_slot(state, instance);
		slot = &state->slots[i];
		expire(slot, now);
		if (slot->count < window_calls && slot->in_flight < max_concurrent_calls)
		{
			int			pos = (slot->head + slot->count) % MKTO_RING_SIZE;

			slot->starts[pos] = now;
			slot->count++;
			slot->in_flight++;
			slot->calls++;
			if (waited)
			{
				slot->waits++;
				slot->waited_us += now - first_try;
			}
			held[i]++;
			if (shared_state)
				LWLockRelease(state->lock);
			return i * MKTO_RING_SIZE + pos;
		}
		/* the oldest call leaves the window then; a finishing call, soon */
		wait_ms = slot->count >= window_calls
			? (long) ((slot->starts[slot->head] + (TimestampTz) rate_window_ms * 1000 - now) / 1000) + 1
			: MKTO_WAIT_STEP_MS;
		if (shared_state)
			LWLockRelease(state->lock);

		if (!waited)
			ereport(DEBUG1,
					(errmsg_internal("marketo_fdw: waiting for the call limits of %s", instance)));
		waited = true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(Max(wait_ms, 1), MKTO_WAIT_STEP_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Marketo counts a call when it arrives, somewhere between our start and
 * the answer; so the call stays in the window from its end on, not from
 * its start.  Its entry moves to the end time (if still in the window).
 */
void
mkto_limiter_release(int token)
{
	MktoLimiterShared *state = shared_state ? shared_state : local_state;
	int			i = token / MKTO_RING_SIZE;
	int			pos = token % MKTO_RING_SIZE;
	MktoInstanceSlot *slot;

	if (state == NULL || held == NULL || token < 0 || i >= state->nslots || held[i] == 0)
		return;
	if (shared_state)
		LWLockAcquire(state->lock, LW_EXCLUSIVE);
	slot = &state->slots[i];
	if ((pos - slot->head + MKTO_RING_SIZE) % MKTO_RING_SIZE < slot->count)
		slot->starts[pos] = Max(slot->starts[pos], GetCurrentTimestamp());
	slot->in_flight = Max(0, slot->in_flight - 1);
	held[i]--;
	if (shared_state)
		LWLockRelease(state->lock);
}

int
mkto_limiter_stats(MktoLimiterStats *out, int max)
{
	MktoLimiterShared *state = current_state();
	TimestampTz now = GetCurrentTimestamp();
	int			n = 0;

	if (shared_state)
		LWLockAcquire(state->lock, LW_EXCLUSIVE);
	for (int i = 0; i < state->nslots && n < max; i++)
	{
		MktoInstanceSlot *slot = &state->slots[i];

		if (!slot->used)
			continue;
		expire(slot, now);
		strlcpy(out[n].instance, slot->key, sizeof(out[n].instance));
		out[n].calls_in_window = slot->count;
		out[n].in_flight = slot->in_flight;
		out[n].calls = slot->calls;
		out[n].waits = slot->waits;
		out[n].waited_ms = slot->waited_us / 1000.0;
		n++;
	}
	if (shared_state)
		LWLockRelease(state->lock);
	return n;
}

int64
mkto_statement_calls(void)
{
	if (GetCurrentStatementStartTimestamp() != statement_start ||
		MyProc->lxid != statement_lxid)
		return 0;
	return statement_calls;
}

int
mkto_max_calls_per_statement(void)
{
	return max_calls_per_statement;
}
