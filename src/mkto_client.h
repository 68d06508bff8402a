/*-------------------------------------------------------------------------
 *
 * mkto_client.h
 *		  The Marketo REST client: authentication, HTTP, the JSON envelope,
 *		  error codes and paging.
 *
 * This layer knows nothing of the planner or executor; the FDW callbacks
 * hand it a path, a query string or a body and get parsed JSON back.
 *
 * Memory: everything a call returns is palloc'd in CurrentMemoryContext.
 * json-c objects, curl header lists and the malloc'd response buffer are
 * released by a reset callback registered on that same context, so an
 * ereport anywhere leaks nothing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MKTO_CLIENT_H
#define MKTO_CLIENT_H

#include "postgres.h"

#include "mkto_json.h"

#include "lib/stringinfo.h"
#include "mkto_limiter.h"

/* Documented Marketo limits. */
#define MKTO_MAX_BATCH			300 /* records per page and per write batch */
#define MKTO_MAX_FILTER_VALUES	300 /* filterValues per call */
#define MKTO_MAX_URL_LENGTH		8192	/* longer GETs go as POST ?_method=GET */

/* Endpoint timeouts from the Leads reference ("Timeouts" section). */
#define MKTO_TIMEOUT_DEFAULT_MS	30000
#define MKTO_TIMEOUT_QUERY_MS	60000
#define MKTO_TIMEOUT_SYNC_MS	90000

typedef struct MktoClientConfig
{
	const char *rest_url;		/* base_url + "/rest", no trailing slash */
	const char *identity_url;	/* base_url + "/identity" or the option */
	const char *client_id;
	const char *client_secret;
	long		connect_timeout_ms;
	long		read_timeout_ms;	/* replaces the reads' own, if > 0 */
	long		write_timeout_ms;	/* replaces the writes' own, if > 0 */
	const char *ca_file;		/* CA bundle for TLS, or NULL for the system's */
	bool		restricted;		/* the server's owner is not a superuser:
								 * connect only to allowed, public addresses */
} MktoClientConfig;

/* Opaque: curl handle, current access token and its expiry. */
typedef struct MktoClient MktoClient;

typedef enum MktoMethod
{
	MKTO_GET,
	MKTO_POST,
	MKTO_DELETE					/* with a body, like POST */
} MktoMethod;

typedef struct MktoRequest
{
	MktoMethod	method;
	const char *path;			/* below rest_url, e.g. "/v1/leads.json" */
	bool		below_base_url; /* path is below base_url instead, as the bulk
								 * API's "/bulk/v1/..." is */
	const char *query;			/* URL-encoded query string without '?', or
								 * NULL */
	const char *json_body;		/* POST body (application/json), or NULL */
	const char *form_body;		/* POST body (x-www-form-urlencoded), or NULL */
	long		timeout_ms;		/* total time allowed for this call */
	bool		idempotent;		/* safe to repeat after a timeout, 5xx or a
								 * retryable Marketo code */
	const char *hint_code;		/* a Marketo code this call explains better */
	const char *hint;			/* the errhint for it */
	/*
	 * Return Marketo's refusal of this call (success:false with a code that
	 * is not transient, not a token problem and, unless named in
	 * return_refusal_of, not a quota) in the response's refusal_code
	 * instead of raising it.
	 */
	bool		return_refusal;
	const char *return_refusal_of;	/* only this code, or NULL for any */
} MktoRequest;

typedef struct MktoResponse
{
	json_object *root;			/* the whole body */
	json_object *result;		/* the "result" array, or NULL if absent */
	bool		more_result;
	bool		more_result_given;	/* moreResult was in the body */
	char	   *next_page_token;	/* or NULL */
	char	   *request_id;		/* or NULL */
	/*
	 * An earlier sending of this same call (a retry of ours, or libcurl
	 * resending on a new connection) may have reached Marketo and been
	 * applied before this answer: a delete's "not found" then means done.
	 */
	bool		maybe_repeated;
	/* with return_refusal: Marketo's code and message, else NULL */
	char	   *refusal_code;
	char	   *refusal_message;
} MktoResponse;

/*
 * Returns the client cached under cache_key (a user mapping OID) for the
 * backend's life.  A changed config (ALTER SERVER / USER MAPPING) drops the
 * cached token.
 */
extern MktoClient *mkto_client_get(Oid cache_key, const MktoClientConfig *config);

/*
 * Sends one call and returns the parsed envelope of a success:true response.
 *
 * A GET whose URL would pass MKTO_MAX_URL_LENGTH goes as
 * POST path?_method=GET with the query as a form body.  On 601/602 the token
 * is refreshed and the call retried once.  success:false, HTTP errors,
 * timeouts and malformed bodies raise ERROR with an ERRCODE_FDW_* code and
 * Marketo's code and message in errdetail.  Query cancel and
 * statement_timeout interrupt a call within about a second.
 */
extern MktoResponse *mkto_call(MktoClient *client, const MktoRequest *req);

/* Appends name=value to buf, URL-encoding both and adding '&' as needed. */
extern void mkto_append_query_param(StringInfo buf, const char *name,
									const char *value);

/* path_template's "%s" replaced by key, percent-encoded as one segment. */
extern char *mkto_path_with_key(const char *path_template, const char *key);

/* Calls this backend has sent to Marketo (identity calls included). */
extern uint64 mkto_backend_call_count(void);

/* Defines marketo_fdw.retry_delay; from _PG_init. */
extern void mkto_client_init(void);

/* Registers json_object_put(obj) on CurrentMemoryContext's reset. */
extern json_object *mkto_track_json(json_object *obj);

/*
 * Transport (mkto_http.c), used by mkto_client.c only: one HTTP exchange on
 * a curl handle that is kept for keep-alive.
 */
typedef enum MktoHttpOutcome
{
	MKTO_HTTP_DONE,				/* a response arrived, whatever its status */
	MKTO_HTTP_TIMEOUT,			/* timeout_ms or the connect timeout passed */
	MKTO_HTTP_CONN_LOST,		/* reset, closed or cut short: the request may
								 * have reached Marketo */
	MKTO_HTTP_CONNECT_FAILED,	/* resolve, connect or TLS failed: nothing
								 * was sent */
	MKTO_HTTP_TOO_LARGE,		/* body over the response size cap */
	MKTO_HTTP_FAILED			/* anything else */
} MktoHttpOutcome;

typedef struct MktoHttpExchange
{
	/* in */
	const char *label;			/* "GET /rest/v1/leads.json", for messages */
	bool		post;
	const char *custom_method;	/* e.g. "DELETE" for a POST-like call */
	const char *url;
	const char *bearer_token;	/* or NULL */
	const char *content_type;	/* of body, or NULL */
	const char *body;			/* POST body, or NULL for none */
	long		timeout_ms;
	long		connect_timeout_ms;
	const char *ca_file;		/* or NULL */
	bool		fresh_connection;	/* not on a kept-alive connection */
	bool		restricted;		/* as MktoClientConfig.restricted */
	const char *accept;			/* the Accept header, or NULL for JSON */
	bool		byte_ranges;	/* no content coding, so that byte ranges
								 * count the body's own bytes */
	int64		range_from;		/* > 0: ask for the bytes from here on */
	/* out */
	MktoHttpOutcome outcome;
	long		http_status;	/* 0 when no response */
	char	   *response;		/* palloc'd, NUL-terminated; NULL unless DONE */
	size_t		response_len;
	char		error[256];		/* curl's message unless DONE */
	/*
	 * Times the request went out: more than 1 when libcurl silently resent
	 * it on a new connection after a kept-alive one died unanswered.
	 */
	int			requests_sent;
} MktoHttpExchange;

/*
 * Host checks for servers of non-superusers (mkto_http.c); option.c uses
 * them for early errors, mkto_http_perform() again on every call.
 */
extern char *mkto_url_host(const char *url, bool *has_userinfo);
extern bool mkto_host_allowed(const char *host);
extern bool mkto_host_is_local(const char *host);

/* *handle is a CURL *, created on first use. */
extern void mkto_http_perform(void **handle, MktoHttpExchange *ex);

/*
 * The same in two halves, for a caller that drives the transfer itself
 * (mkto_stream.c, through a curl multi handle): mkto_http_begin sets
 * *handle up as every call is (TLS, hosts, protocols, no redirects,
 * timeouts, headers, address checks), with the body going to body_cb
 * (curl's write callback: no palloc, no ereport); mkto_http_end, once the
 * transfer ended with curl_rc (a CURLcode) and handle is out of any multi
 * handle, fills ex's outcome, status and error, counts the call and frees
 * it.  The call's resources hang on CurrentMemoryContext's reset until
 * then; mkto_http_release frees them sooner (idempotent).
 */
typedef struct MktoHttpCall MktoHttpCall;
typedef size_t (*MktoHttpWrite) (char *ptr, size_t size, size_t nmemb, void *arg);

extern MktoHttpCall *mkto_http_begin(void **handle, MktoHttpExchange *ex,
									 MktoHttpWrite body_cb, void *body_arg);
extern void mkto_http_end(void *handle, MktoHttpCall *call,
						  MktoHttpExchange *ex, int curl_rc);
extern void mkto_http_release(MktoHttpCall *call);
extern int	mkto_http_requests_sent(const MktoHttpCall *call);
/* Defines marketo_fdw.max_response_size; from _PG_init. */
extern void mkto_http_init(void);

/*
 * For a caller that sends its own exchanges (mkto_stream.c), the pieces of
 * mkto_call, so that its calls are authorized, limited, counted, retried
 * and reported as every call is.
 */

/* Retries so far of one call; zero it before the first attempt. */
typedef struct MktoRetries
{
	int			attempt;		/* attempts failed and retried */
	int			rate_waits;		/* rate windows waited out after 606 */
	bool		reauthed;		/* a refused token was replaced */
} MktoRetries;

typedef enum MktoVerdict
{
	MKTO_VERDICT_SUCCESS,		/* Marketo answered success:true */
	MKTO_VERDICT_AGAIN			/* send it again: the token was replaced, or
								 * the retry's wait is over */
} MktoVerdict;

/*
 * ex set up for req as mkto_call would send it: URL (with req->query),
 * label, timeouts, CA file and host restriction.  No body: a GET.
 */
extern void mkto_client_prepare(MktoClient *client, const MktoRequest *req,
								MktoHttpExchange *ex);

/*
 * The same for a caller that sends req itself (mkto_multi.c): ex set up
 * exactly as mkto_call sends it, its body included (a long GET goes as a
 * form POST).
 */
extern void mkto_client_prepare_call(MktoClient *client, const MktoRequest *req,
									 MktoHttpExchange *ex);

/*
 * How many calls the limiter would admit now without waiting, at most
 * most: the room left under the concurrency limit and in the rate window
 * of the client's instance.  A guess: other backends may take it first.
 */
extern int	mkto_client_room(MktoClient *client, int most);

/* The hint for a spent daily quota: when it resets, in UTC. */
extern const char *mkto_quota_reset_hint(void);

/* Where the client keeps mkto_multi.c's CURLM *, NULL until first use. */
extern void **mkto_client_multi_handle(MktoClient *client);

/*
 * Admits one sending of ex: a valid access token in ex->bearer_token
 * (fetched now if needed; it points into the client, so set the header up
 * at once), and the limiter's ticket (the rate window, the concurrency
 * slot, the call budget), which the caller holds for the transfer and
 * gives back with mkto_limiter_release().
 */
extern MktoLimiterTicket mkto_client_admit(MktoClient *client, MktoHttpExchange *ex);

/*
 * As mkto_client_admit, but never waits, for callers holding tickets
 * already: false when the limiter has no room now or a new token would be
 * needed first.
 */
extern bool mkto_client_try_admit(MktoClient *client, MktoHttpExchange *ex,
								  MktoLimiterTicket *ticket);

/* Marketo took the ticket's token (it answered with something else than a token error). */
extern void mkto_client_accepted(MktoClient *client, const MktoLimiterTicket *ticket,
								 int requests_sent);

/*
 * Judges the answer ex got (ex->response holding its body) as mkto_call
 * judges one: SUCCESS for success:true, AGAIN once a refused token was
 * dropped or a retry's wait has passed; otherwise raises the error
 * mkto_call would.  Tells the limiter when Marketo took the token.
 */
extern MktoVerdict mkto_client_judge(MktoClient *client, const MktoRequest *req,
									 const MktoHttpExchange *ex,
									 const MktoLimiterTicket *ticket,
									 MktoRetries *retries);

/* The same, with the response of a SUCCESS in *resp, palloc'd in
 * CurrentMemoryContext as mkto_call returns it. */
extern MktoVerdict mkto_client_judge_call(MktoClient *client, const MktoRequest *req,
										  const MktoHttpExchange *ex,
										  const MktoLimiterTicket *ticket,
										  MktoRetries *retries, MktoResponse **resp);

/* Sleeps (interruptibly) the backoff after failed attempt n, from 1. */
extern void mkto_client_backoff(int failed_attempt);

#endif							/* MKTO_CLIENT_H */
