/*-------------------------------------------------------------------------
 *
 * mkto_multi.c
 *		  Independent Marketo calls sent together, through one curl multi
 *		  handle.
 *
 * Each call has its own easy handle, set up by mkto_http_begin() as every
 * call is, in the client's multi handle (kept for the backend's life, so
 * that its connections stay alive between groups).  A call starts once
 * the limiter admits it: without waiting while any of the group's calls
 * is in flight, and waiting for room only when none is, so that a backend
 * never waits while it holds tickets (for room its own calls hold, or for
 * room that another backend, holding tickets too, is waiting for).  Answers are judged as mkto_call
 * judges them; a call to be sent again (a new token, a retry after its
 * backoff) waits for its next start like the others.
 *
 * curl is driven here, never in a callback: the easy handles' callbacks
 * are mkto_http.c's, which neither palloc nor ereport.  The loop polls at
 * most MKTO_MULTI_POLL_MS at a time, so that cancel and statement_timeout
 * are serviced.  The easy handles, their place in the multi handle and the
 * limiter tickets are given back by a reset callback on a child of the
 * group's context, which runs before the context's own callbacks free the
 * calls' headers and buffers (mkto_http_begin registers them there), and
 * on any error before it is raised.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "mkto_multi.h"
#include "pgstat.h"
#include "utils/memutils.h"

/* Longest wait on the sockets, so that interrupts are serviced. */
#define MKTO_MULTI_POLL_MS		200

typedef enum GroupCallState
{
	CALL_WAITING,				/* to be sent (first or again) */
	CALL_RUNNING,				/* in the multi handle */
	CALL_DONE					/* answered with success */
} GroupCallState;

typedef struct GroupCall
{
	const MktoRequest *req;
	MktoHttpExchange ex;		/* set up once, sent at each start */
	void	   *easy;			/* CURL *, NULL until the first start */
	MktoHttpCall *call;			/* of the current sending, or NULL */
	MktoLimiterTicket ticket;	/* of the current sending */
	MktoRetries retries;
	GroupCallState state;
	bool		in_multi;
} GroupCall;

typedef struct CallGroup
{
	MemoryContextCallback cb;
	MktoClient *client;
	CURLM	   *multi;
	MemoryContext cxt;			/* the calls' resources */
	int			n;
	GroupCall  *calls;
	int			running;		/* calls in CALL_RUNNING */
} CallGroup;

/* Takes every call out of curl and the limiter; no ereport, no palloc. */
static void
group_release(void *arg)
{
	CallGroup  *g = (CallGroup *) arg;

	for (int i = 0; i < g->n; i++)
	{
		GroupCall  *c = &g->calls[i];

		if (c->in_multi)
		{
			curl_multi_remove_handle(g->multi, c->easy);
			c->in_multi = false;
		}
		mkto_limiter_release(&c->ticket,
							 c->call ? mkto_http_requests_sent(c->call) : 0);
		if (c->call != NULL)
		{
			mkto_http_release(c->call);
			c->call = NULL;
		}
		if (c->easy != NULL)
		{
			curl_easy_cleanup(c->easy);
			c->easy = NULL;
		}
	}
	g->running = 0;
}

/*
 * Starts c if the limiter admits it: waiting for room only while none of
 * the group's calls is in flight, so that no backend ever waits for room
 * while holding tickets (two such backends could wait for each other).
 */
static bool
start_call(CallGroup *g, GroupCall *c)
{
	MemoryContext oldcxt;
	CURLMcode	mc;

	if (g->running == 0)
		c->ticket = mkto_client_admit(g->client, &c->ex);
	else if (!mkto_client_try_admit(g->client, &c->ex, &c->ticket))
		return false;
	oldcxt = MemoryContextSwitchTo(g->cxt);
	c->call = mkto_http_begin(&c->easy, &c->ex, NULL, NULL);
	c->ex.bearer_token = NULL;
	c->ex.response = NULL;
	c->ex.response_len = 0;
	mc = curl_multi_add_handle(g->multi, c->easy);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not set up Marketo call %s", c->ex.label),
				 errdetail("%s", curl_multi_strerror(mc))));
	c->in_multi = true;
	c->state = CALL_RUNNING;
	g->running++;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * The call's transfer ended with rc: gives its ticket back and judges the
 * answer, into *resp on success (in the caller's context, current here).
 */
static void
end_call(CallGroup *g, GroupCall *c, CURLcode rc, MktoResponse **resp)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MktoHttpCall *call = c->call;
	int			requests_sent = mkto_http_requests_sent(call);

	curl_multi_remove_handle(g->multi, c->easy);
	c->in_multi = false;
	c->call = NULL;
	g->running--;
	c->state = CALL_WAITING;
	mkto_limiter_release(&c->ticket, requests_sent);
	MemoryContextSwitchTo(g->cxt);
	mkto_http_end(c->easy, call, &c->ex, (int) rc);
	MemoryContextSwitchTo(callercxt);

	if (mkto_client_judge_call(g->client, c->req, &c->ex, &c->ticket,
							   &c->retries, resp) == MKTO_VERDICT_SUCCESS)
		c->state = CALL_DONE;
	if (c->ex.response != NULL)
	{
		pfree(c->ex.response);
		c->ex.response = NULL;
	}
}

/* Starts the waiting calls the limiter has room for, in request order. */
static void
start_waiting(CallGroup *g)
{
	for (int i = 0; i < g->n; i++)
	{
		if (g->calls[i].state != CALL_WAITING)
			continue;
		if (!start_call(g, &g->calls[i]))
			return;
	}
}

static void
run_group(CallGroup *g, MktoResponse **out)
{
	int			done = 0;

	while (done < g->n)
	{
		int			still_running;
		int			queued;
		CURLMcode	mc;
		CURLMsg    *msg;

		start_waiting(g);
		CHECK_FOR_INTERRUPTS();
		mc = curl_multi_perform(g->multi, &still_running);
		if (mc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Marketo calls failed"),
					 errdetail("%s", curl_multi_strerror(mc))));
		while ((msg = curl_multi_info_read(g->multi, &queued)) != NULL)
		{
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (int i = 0; i < g->n; i++)
			{
				GroupCall  *c = &g->calls[i];

				if (c->state == CALL_RUNNING && c->easy == msg->easy_handle)
				{
					end_call(g, c, msg->data.result, &out[i]);
					if (c->state == CALL_DONE)
						done++;
					break;
				}
			}
		}
		if (done >= g->n || g->running == 0)
			continue;

		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		mc = curl_multi_poll(g->multi, NULL, 0, MKTO_MULTI_POLL_MS, NULL);
		pgstat_report_wait_end();
		if (mc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Marketo calls failed"),
					 errdetail("%s", curl_multi_strerror(mc))));
	}
}

void
mkto_call_many(MktoClient *client, const MktoRequest *reqs, int n,
			   MktoResponse **out)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext groupcxt;
	MemoryContext guard;
	CallGroup  *g;
	void	  **multi = mkto_client_multi_handle(client);

	if (n == 1)
	{
		out[0] = mkto_call(client, &reqs[0]);
		return;
	}
	if (*multi == NULL && (*multi = curl_multi_init()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	groupcxt = AllocSetContextCreate(callercxt, "marketo_fdw call group",
									 ALLOCSET_DEFAULT_SIZES);
	g = MemoryContextAllocZero(groupcxt, sizeof(CallGroup));
	g->client = client;
	g->multi = (CURLM *) *multi;
	g->cxt = groupcxt;
	g->n = n;
	g->calls = MemoryContextAllocZero(groupcxt, sizeof(GroupCall) * n);
	MemoryContextSwitchTo(groupcxt);
	for (int i = 0; i < n; i++)
	{
		g->calls[i].req = &reqs[i];
		g->calls[i].ticket.slot = -1;
		g->calls[i].state = CALL_WAITING;
		mkto_client_prepare_call(client, &reqs[i], &g->calls[i].ex);
		out[i] = NULL;
	}
	MemoryContextSwitchTo(callercxt);
	guard = AllocSetContextCreate(groupcxt, "marketo_fdw call group handles",
								  ALLOCSET_SMALL_SIZES);
	g->cb.func = group_release;
	g->cb.arg = g;
	MemoryContextRegisterResetCallback(guard, &g->cb);

	PG_TRY();
	{
		run_group(g, out);
	}
	PG_CATCH();
	{
		/* the others abandoned and their tickets back before the error */
		MemoryContextSwitchTo(callercxt);
		MemoryContextDelete(groupcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextDelete(groupcxt);
}
