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
 * Instances are known by host and port (mkto_limiter_instance_key).  Only
 * calls with credentials that Marketo has accepted at an instance enter its
 * window; calls with credentials never accepted there (wrong ones, or new
 * ones not yet tried) are limited in a window of the calling backend's own.
 * Marketo refuses a bad token before counting the call, so such calls do
 * not use the instance's room, and they must not take it from anybody else.
 *
 * Every call, token requests and libcurl's resends included, also counts
 * against marketo_fdw.max_calls_per_statement, for the query execution it
 * belongs to: a cursor's FETCHes share their query's budget.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "executor/executor.h"
#include "lib/ilist.h"
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
/* Credentials remembered per instance as accepted by Marketo. */
#define MKTO_ACCEPTED_CREDENTIALS	16

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
	/* hashes of credentials Marketo accepted here; 0 is an empty entry */
	uint64		accepted[MKTO_ACCEPTED_CREDENTIALS];
	int			next_accepted;	/* the entry to replace next */
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
static int	rate_limit_waits = 5;

static MktoLimiterShared *shared_state = NULL;	/* shared memory, or NULL */
static MktoLimiterShared *local_state = NULL;	/* this backend's */
static MktoLimiterShared *unproven_state = NULL;	/* this backend's, for
													 * credentials not yet
													 * accepted */
static int *held = NULL;		/* in-flight calls this backend holds in the
								 * main state, per slot */

/*
 * The call budget of one top-level query execution, from ExecutorStart to
 * ExecutorEnd; executions nested in it (functions, triggers) share it.  It
 * lives in the memory context the execution started in, which holds its
 * QueryDesc, and unlinks itself when that context goes, so an execution
 * that ends in an error leaves nothing behind.
 */
typedef struct MktoBudget
{
	dlist_node	node;
	QueryDesc  *query;
	int64		calls;
	int64		export_bytes;	/* bulk export files read (source_bulk.c) */
	bool		linked;
	MemoryContextCallback cb;
} MktoBudget;

static dlist_head budgets = DLIST_STATIC_INIT(budgets);
static MktoBudget *active_budget = NULL;

/* Calls outside any execution (COPY, IMPORT FOREIGN SCHEMA): per statement. */
static TimestampTz statement_start = 0;
static LocalTransactionId statement_lxid = InvalidLocalTransactionId;
static int64 statement_calls = 0;
static int64 statement_export_bytes = 0;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;

static Size
state_size(int nslots)
{
	return add_size(offsetof(MktoLimiterShared, slots),
					mul_size(sizeof(MktoInstanceSlot), nslots));
}

static void
limiter_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(state_size(max_instances));
	RequestNamedLWLockTranche("marketo_fdw", 1);
}

static void
limiter_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_state = ShmemInitStruct("marketo_fdw limiter", state_size(max_instances), &found);
	if (!found)
	{
		memset(shared_state, 0, state_size(max_instances));
		shared_state->lock = &(GetNamedLWLockTranche("marketo_fdw"))->lock;
		shared_state->nslots = max_instances;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ---------------------------------------------------------------- */
/* The call budget of a query execution								  */
/* ---------------------------------------------------------------- */

static void
budget_unlink(MktoBudget *budget)
{
	if (budget->linked)
	{
		dlist_delete(&budget->node);
		budget->linked = false;
	}
	if (active_budget == budget)
		active_budget = NULL;
}

static void
budget_context_reset(void *arg)
{
	budget_unlink((MktoBudget *) arg);
}

static MktoBudget *
budget_of(QueryDesc *query)
{
	dlist_iter	iter;

	dlist_foreach(iter, &budgets)
	{
		MktoBudget *budget = dlist_container(MktoBudget, node, iter.cur);

		if (budget->query == query)
			return budget;
	}
	return NULL;
}

static void
limiter_ExecutorStart(QueryDesc *query, int eflags)
{
	MktoBudget *outer = active_budget;

	if (outer == NULL)
	{
		MktoBudget *budget = MemoryContextAllocZero(CurrentMemoryContext,
													sizeof(MktoBudget));

		budget->query = query;
		budget->cb.func = budget_context_reset;
		budget->cb.arg = budget;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, &budget->cb);
		dlist_push_head(&budgets, &budget->node);
		budget->linked = true;
		active_budget = budget;
	}
	PG_TRY();
	{
		if (prev_ExecutorStart)
			prev_ExecutorStart(query, eflags);
		else
			standard_ExecutorStart(query, eflags);
	}
	PG_FINALLY();
	{
		active_budget = outer;
	}
	PG_END_TRY();
}

/*
 * Makes the budget of query's execution the active one, if it has one (a
 * cursor FETCHed later, or from inside another statement); else the
 * enclosing execution's stays active.
 */
static MktoBudget *
enter_budget(QueryDesc *query)
{
	MktoBudget *outer = active_budget;
	MktoBudget *own = budget_of(query);

	if (own != NULL)
		active_budget = own;
	return outer;
}

static void
limiter_ExecutorRun(QueryDesc *query, ScanDirection direction, uint64 count,
					bool execute_once)
{
	MktoBudget *outer = enter_budget(query);

	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(query, direction, count, execute_once);
		else
			standard_ExecutorRun(query, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		active_budget = outer;
	}
	PG_END_TRY();
}

static void
limiter_ExecutorFinish(QueryDesc *query)
{
	MktoBudget *outer = enter_budget(query);

	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(query);
		else
			standard_ExecutorFinish(query);
	}
	PG_FINALLY();
	{
		active_budget = outer;
	}
	PG_END_TRY();
}

/* Writes may still go out in EndForeignModify: the budget ends after it. */
static void
limiter_ExecutorEnd(QueryDesc *query)
{
	MktoBudget *outer = enter_budget(query);

	PG_TRY();
	{
		if (prev_ExecutorEnd)
			prev_ExecutorEnd(query);
		else
			standard_ExecutorEnd(query);
	}
	PG_FINALLY();
	{
		MktoBudget *own = budget_of(query);

		active_budget = outer;
		if (own != NULL)
			budget_unlink(own);
	}
	PG_END_TRY();
}

/*
 * Cleanup calls (cancelling an export job after an error) are counted but
 * never refused: the error may be the spent budget itself.
 */
static bool budget_exempt = false;

bool
mkto_limiter_exempt_from_budget(bool exempt)
{
	bool		was = budget_exempt;

	budget_exempt = exempt;
	return was;
}

/* Outside any execution: a new statement starts its counts afresh. */
static void
start_statement_counts(void)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();

	if (start != statement_start || MyProc->lxid != statement_lxid)
	{
		statement_start = start;
		statement_lxid = MyProc->lxid;
		statement_calls = 0;
		statement_export_bytes = 0;
	}
}

/* The calls counted for the current execution, or statement outside one. */
static int64 *
budget_calls(void)
{
	if (active_budget != NULL)
		return &active_budget->calls;
	start_statement_counts();
	return &statement_calls;
}

int64 *
mkto_statement_export_bytes(void)
{
	if (active_budget != NULL)
		return &active_budget->export_bytes;
	start_statement_counts();
	return &statement_export_bytes;
}

/* ERROR when one more call would exceed the budget; counts nothing. */
static void
check_statement_budget(void)
{
	int64	   *calls = budget_calls();

	if (max_calls_per_statement > 0 && *calls >= max_calls_per_statement &&
		!budget_exempt)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statement reached marketo_fdw.max_calls_per_statement (%d Marketo calls)",
						max_calls_per_statement),
				 errdetail("Marketo counts every call against the instance's daily quota."),
				 errhint("Narrow the query, or raise marketo_fdw.max_calls_per_statement for this session.")));
}

int64
mkto_statement_calls(void)
{
	if (active_budget != NULL)
		return active_budget->calls;
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

/* ---------------------------------------------------------------- */
/* Settings															  */
/* ---------------------------------------------------------------- */

void
mkto_limiter_init(void)
{
	/*
	 * The window's settings are server-wide (reloaded from the
	 * configuration): backends trim one shared ring, which only works with
	 * one window length and one limit for all of them.
	 */
	DefineCustomIntVariable("marketo_fdw.max_calls_per_window",
							"Marketo calls allowed per rate window, per instance.",
							"Marketo allows 100 calls per 20 seconds; lower it to leave room for other integrations.",
							&max_calls_per_window, 100, 1, MKTO_RING_SIZE,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.rate_window_ms",
							"Length of the rate window.",
							NULL, &rate_window_ms, 20000, 1, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.max_concurrent_calls",
							"Marketo calls allowed in flight at once, per instance.",
							"Marketo allows 10.",
							&max_concurrent_calls, 10, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.rate_limit_waits",
							"Rate windows a call waits out after Marketo's rate-limit answer (606) before it fails.",
							"Marketo advises waiting for its 20-second window to pass before retrying.",
							&rate_limit_waits, 5, 0, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.max_calls_per_statement",
							"Marketo calls one statement may make; 0 for no limit.",
							"Guards the daily API quota against runaway queries.",
							&max_calls_per_statement, 1000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);

	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = limiter_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = limiter_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = limiter_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = limiter_ExecutorEnd;

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
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = limiter_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = limiter_shmem_startup;
}

bool
mkto_limiter_shared(void)
{
	return shared_state != NULL;
}

/* ---------------------------------------------------------------- */
/* Instance keys													  */
/* ---------------------------------------------------------------- */

void
mkto_limiter_instance_key(const char *url, char *key)
{
	const char *scheme_end = strstr(url, "://");
	const char *host;
	const char *end;
	const char *at;
	const char *port = NULL;
	const char *host_end;
	long		port_number;
	int			n = 0;

	host = scheme_end ? scheme_end + 3 : url;
	end = host + strcspn(host, "/?#");
	/* user info, if any, is not part of the instance */
	for (at = end; at > host && at[-1] != '@'; at--)
		;
	if (at > host)
		host = at;
	if (*host == '[' && memchr(host, ']', end - host) != NULL)
		host_end = (const char *) memchr(host, ']', end - host) + 1;
	else
		host_end = host + strcspn(host, ":/?#");
	if (host_end > end)
		host_end = end;
	if (host_end < end && *host_end == ':')
		port = host_end + 1;
	/* "host." names the same host */
	if (host_end > host && host_end[-1] == '.')
		host_end--;

	for (const char *p = host; p < host_end && n < MKTO_LIMITER_KEY_LEN - 8; p++)
		key[n++] = pg_ascii_tolower((unsigned char) *p);
	if (port != NULL && port < end && isdigit((unsigned char) *port))
		port_number = strtol(port, NULL, 10);
	else if (scheme_end && scheme_end - url == 4 && pg_strncasecmp(url, "http", 4) == 0)
		port_number = 80;
	else
		port_number = 443;
	snprintf(key + n, MKTO_LIMITER_KEY_LEN - n, ":%ld", port_number);
}

/* ---------------------------------------------------------------- */
/* The windows														  */
/* ---------------------------------------------------------------- */

/* Gives back the calls a dying backend still holds. */
static void
release_held(int code, Datum arg)
{
	if (shared_state == NULL || held == NULL)
		return;
	LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared_state->nslots; i++)
	{
		shared_state->slots[i].in_flight =
			Max(0, shared_state->slots[i].in_flight - held[i]);
		held[i] = 0;
	}
	LWLockRelease(shared_state->lock);
}

/* The instances' state: shared memory, or this backend's. */
static MktoLimiterShared *
main_state(void)
{
	if (held == NULL)
	{
		int			nslots = shared_state ? shared_state->nslots : max_instances;

		unproven_state = MemoryContextAllocZero(TopMemoryContext, state_size(nslots));
		unproven_state->nslots = nslots;
		if (shared_state == NULL)
		{
			local_state = MemoryContextAllocZero(TopMemoryContext, state_size(nslots));
			local_state->nslots = nslots;
		}
		held = MemoryContextAllocZero(TopMemoryContext, sizeof(int) * nslots);
		if (shared_state)
			before_shmem_exit(release_held, (Datum) 0);
	}
	return shared_state ? shared_state : local_state;
}

static void
lock_state(MktoLimiterShared *state)
{
	if (state == shared_state)
		LWLockAcquire(state->lock, LW_EXCLUSIVE);
}

static void
unlock_state(MktoLimiterShared *state)
{
	if (state == shared_state)
		LWLockRelease(state->lock);
}

/*
 * The slot for instance; if it has none, -1 unless create.  When all are
 * taken, the last one is shared by the rest, which only makes their limits
 * stricter.
 */
static int
find_slot(MktoLimiterShared *state, const char *instance, bool create)
{
	for (int i = 0; i < state->nslots; i++)
	{
		MktoInstanceSlot *slot = &state->slots[i];

		if (!slot->used)
		{
			if (!create)
				return -1;
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

/*
 * Puts a start in the window.  Calls that went out without waiting for
 * room (a resend, or a call counted apart before its credentials were
 * accepted) go in too, so a full ring loses its oldest start rather than
 * refuse.
 */
static void
add_start(MktoInstanceSlot *slot, TimestampTz at)
{
	if (slot->count == MKTO_RING_SIZE)
	{
		slot->head = (slot->head + 1) % MKTO_RING_SIZE;
		slot->count--;
	}
	slot->starts[(slot->head + slot->count) % MKTO_RING_SIZE] = at;
	slot->count++;
}

static bool
credential_accepted(MktoInstanceSlot *slot, uint64 credential)
{
	for (int i = 0; i < MKTO_ACCEPTED_CREDENTIALS; i++)
		if (slot->accepted[i] == credential && credential != 0)
			return true;
	return false;
}

/*
 * Admits the call into instance's window if it has room now; else sets
 * *wait_ms to how long until it may.  The state is locked by the caller.
 */
static bool
admit_now(MktoLimiterShared *state, const char *instance,
		  MktoLimiterTicket *ticket, TimestampTz first_try, bool waited,
		  long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	int			window_calls = Min(max_calls_per_window, MKTO_RING_SIZE);
	int			i = find_slot(state, instance, true);
	MktoInstanceSlot *slot = &state->slots[i];

	expire(slot, now);
	if (slot->count < window_calls && slot->in_flight < max_concurrent_calls)
	{
		ticket->pos = (slot->head + slot->count) % MKTO_RING_SIZE;
		add_start(slot, now);
		slot->calls++;
		slot->in_flight++;
		if (waited)
		{
			slot->waits++;
			slot->waited_us += now - first_try;
		}
		if (!ticket->unproven)
			held[i]++;
		ticket->slot = i;
		return true;
	}
	/* the oldest call leaves the window then; a finishing call, soon */
	*wait_ms = slot->count >= window_calls
		? (long) ((slot->starts[slot->head] + (TimestampTz) rate_window_ms * 1000 - now) / 1000) + 1
		: MKTO_WAIT_STEP_MS;
	return false;
}

/* Which window the credential's calls go in (see mkto_limiter_acquire). */
static MktoLimiterShared *
window_for(const char *instance, MktoLimiterTicket *ticket)
{
	MktoLimiterShared *state = main_state();
	int			i;

	/* wrong credentials take no slot of the instances' */
	lock_state(state);
	i = find_slot(state, instance, false);
	ticket->unproven = i < 0 || !credential_accepted(&state->slots[i], ticket->credential);
	unlock_state(state);
	return ticket->unproven ? unproven_state : state;
}

MktoLimiterTicket
mkto_limiter_acquire(const char *instance, uint64 credential)
{
	MktoLimiterTicket ticket = {-1, 0, false, credential};
	MktoLimiterShared *state;
	TimestampTz first_try = GetCurrentTimestamp();
	bool		waited = false;

	check_statement_budget();
	state = window_for(instance, &ticket);
	for (;;)
	{
		long		wait_ms = 0;
		bool		admitted;

		lock_state(state);
		admitted = admit_now(state, instance, &ticket, first_try, waited, &wait_ms);
		unlock_state(state);
		if (admitted)
		{
			(*budget_calls())++;
			return ticket;
		}

		if (!waited)
			ereport(DEBUG1,
					(errmsg_internal("marketo_fdw: waiting for the call limits of %s%s",
									 instance, ticket.unproven ? " (credentials not yet accepted)" : "")));
		waited = true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(Max(wait_ms, 1), MKTO_WAIT_STEP_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

bool
mkto_limiter_try_acquire(const char *instance, uint64 credential,
						 MktoLimiterTicket *ticket)
{
	MktoLimiterShared *state;
	long		wait_ms;
	bool		admitted;

	ticket->slot = -1;
	ticket->pos = 0;
	ticket->credential = credential;
	check_statement_budget();
	state = window_for(instance, ticket);
	lock_state(state);
	admitted = admit_now(state, instance, ticket, 0, false, &wait_ms);
	unlock_state(state);
	if (admitted)
		(*budget_calls())++;
	return admitted;
}

/*
 * Marketo counts a call when it arrives, somewhere between our start and
 * the answer; so the call stays in the window from its end on, not from
 * its start.  Its entry moves to the end time (if still in the window).
 */
void
mkto_limiter_release(MktoLimiterTicket *ticket, int requests_sent)
{
	MktoLimiterShared *state = ticket->unproven ? unproven_state : main_state();
	MktoInstanceSlot *slot;
	TimestampTz now;

	if (ticket->slot < 0 || state == NULL || ticket->slot >= state->nslots ||
		(!ticket->unproven && held[ticket->slot] == 0))
		return;
	now = GetCurrentTimestamp();
	lock_state(state);
	slot = &state->slots[ticket->slot];
	if ((ticket->pos - slot->head + MKTO_RING_SIZE) % MKTO_RING_SIZE < slot->count)
		slot->starts[ticket->pos] = Max(slot->starts[ticket->pos], now);
	/* libcurl's resends reached Marketo too */
	for (int i = 1; i < requests_sent; i++)
	{
		add_start(slot, now);
		slot->calls++;
	}
	slot->in_flight = Max(0, slot->in_flight - 1);
	if (!ticket->unproven)
		held[ticket->slot]--;
	unlock_state(state);

	/* the budget ran out, if at all, with the next call */
	if (requests_sent > 1)
		*budget_calls() += requests_sent - 1;
	ticket->slot = -1;
}

void
mkto_limiter_accepted(const char *instance, const MktoLimiterTicket *ticket,
					  int requests_sent)
{
	MktoLimiterShared *state = main_state();
	MktoInstanceSlot *slot;

	if (!ticket->unproven || ticket->credential == 0)
		return;
	lock_state(state);
	slot = &state->slots[find_slot(state, instance, true)];
	if (!credential_accepted(slot, ticket->credential))
	{
		slot->accepted[slot->next_accepted] = ticket->credential;
		slot->next_accepted = (slot->next_accepted + 1) % MKTO_ACCEPTED_CREDENTIALS;
	}
	/*
	 * Marketo counted what it accepted: the instance's window must too (its
	 * calls column counted it apart already).
	 */
	expire(slot, GetCurrentTimestamp());
	for (int i = 0; i < Max(requests_sent, 1); i++)
		add_start(slot, GetCurrentTimestamp());
	unlock_state(state);
}

bool
mkto_limiter_wait_rate_window(int waits_done)
{
	TimestampTz until;

	if (waits_done >= rate_limit_waits)
		return false;
	ereport(DEBUG1,
			(errmsg_internal("marketo_fdw: rate limit reached, waiting %d ms for the window to pass (wait %d of %d)",
							 rate_window_ms, waits_done + 1, rate_limit_waits)));
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), rate_window_ms);
	for (;;)
	{
		long		left_ms = (long) ((until - GetCurrentTimestamp()) / 1000);

		if (left_ms <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left_ms, MKTO_WAIT_STEP_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}

static int
collect_stats(MktoLimiterShared *state, bool unproven, MktoLimiterStats *out,
			  int n, int max)
{
	TimestampTz now = GetCurrentTimestamp();

	lock_state(state);
	for (int i = 0; i < state->nslots && n < max; i++)
	{
		MktoInstanceSlot *slot = &state->slots[i];

		if (!slot->used)
			continue;
		expire(slot, now);
		strlcpy(out[n].instance, slot->key, sizeof(out[n].instance));
		out[n].unproven = unproven;
		out[n].calls_in_window = slot->count;
		out[n].in_flight = slot->in_flight;
		out[n].calls = slot->calls;
		out[n].waits = slot->waits;
		out[n].waited_ms = slot->waited_us / 1000.0;
		n++;
	}
	unlock_state(state);
	return n;
}

int
mkto_limiter_stats(MktoLimiterStats *out, int max)
{
	int			n = collect_stats(main_state(), false, out, 0, max);

	return collect_stats(unproven_state, true, out, n, max);
}
