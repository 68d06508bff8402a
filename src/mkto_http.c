/*-------------------------------------------------------------------------
 *
 * mkto_http.c
 *		  One HTTP exchange with Marketo over libcurl.
 *
 * curl runs its callbacks deep inside curl_easy_perform(), where a longjmp
 * out of an ereport would leave the handle in an undefined state.  So the
 * callbacks only touch malloc'd memory and volatile flags; everything that
 * can raise an error happens before or after the transfer.  What must be
 * freed (the response buffer, the header list) hangs off a reset callback
 * on CurrentMemoryContext, so an error between allocation and cleanup
 * leaks nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "mkto_client.h"
#include "utils/guc.h"
#include "utils/memutils.h"

/*
 * Larger responses are refused rather than buffered (kB; a GUC).  A page of
 * 300 records is normally well under 1 MB; a bigger body means something is
 * wrong upstream, and buffering it whole could exhaust the backend's memory.
 */
static int	max_response_kb = 64 * 1024;

#define MKTO_MAX_RESPONSE_BYTES	((size_t) max_response_kb * 1024)

#define MKTO_DEFAULT_CONNECT_TIMEOUT_MS 10000L

/* Requests actually sent by this backend, retries and identity included. */
static uint64 mkto_http_calls = 0;

static bool curl_initialized = false;

/* Resources of one exchange, released by a memory context reset callback. */
typedef struct MktoHttpCall
{
	MemoryContextCallback cb;
	struct curl_slist *headers;
	char	   *buf;			/* malloc'd response body */
	size_t		len;
	size_t		cap;
	bool		too_large;
	bool		out_of_memory;
} MktoHttpCall;

/*
 * Zeroes and frees.  The Authorization header and an identity response hold
 * a token, which should not linger in freed heap.
 */
static void
http_call_release(void *arg)
{
	MktoHttpCall *call = (MktoHttpCall *) arg;

	if (call->headers != NULL)
	{
		struct curl_slist *h;

		for (h = call->headers; h != NULL; h = h->next)
			if (h->data != NULL)
				explicit_bzero(h->data, strlen(h->data));
		curl_slist_free_all(call->headers);
		call->headers = NULL;
	}
	if (call->buf != NULL)
	{
		explicit_bzero(call->buf, call->len);
		free(call->buf);
		call->buf = NULL;
	}
	call->len = call->cap = 0;
}

/* CURLOPT_WRITEFUNCTION: no palloc or ereport here, see the file header. */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	MktoHttpCall *call = (MktoHttpCall *) userdata;
	size_t		n = size * nmemb;

	if (n > MKTO_MAX_RESPONSE_BYTES - call->len)
	{
		call->too_large = true;
		return 0;
	}
	if (call->len + n + 1 > call->cap)
	{
		size_t		newcap = call->cap > 0 ? call->cap : 16384;
		char	   *newbuf;

		while (newcap < call->len + n + 1)
			newcap *= 2;
		newcap = Min(newcap, MKTO_MAX_RESPONSE_BYTES + 1);

		/* Not realloc: the old block may hold a token and must be zeroed. */
		newbuf = malloc(newcap);
		if (newbuf == NULL)
		{
			call->out_of_memory = true;
			return 0;
		}
		if (call->buf != NULL)
		{
			memcpy(newbuf, call->buf, call->len);
			explicit_bzero(call->buf, call->len);
			free(call->buf);
		}
		call->buf = newbuf;
		call->cap = newcap;
	}
	memcpy(call->buf + call->len, ptr, n);
	call->len += n;
	return n;
}

/*
 * CURLOPT_XFERINFOFUNCTION: curl calls it at least once a second, which is
 * what makes cancel and statement_timeout work during a slow call.  Reading
 * the flags is all that is safe here; the interrupt itself is serviced by
 * CHECK_FOR_INTERRUPTS() once curl has returned.
 */
static int
progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

/* Appends to the header list, keeping the old list if curl runs out of memory. */
static void
add_header(MktoHttpCall *call, const char *header)
{
	struct curl_slist *l = curl_slist_append(call->headers, header);

	if (l == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	call->headers = l;
}

/* The Authorization header, built in malloc'd memory that is zeroed after. */
static void
add_bearer_header(MktoHttpCall *call, const char *token)
{
	static const char prefix[] = "Authorization: Bearer ";
	size_t		len = sizeof(prefix) - 1 + strlen(token) + 1;
	char	   *header = malloc(len);
	struct curl_slist *l;

	if (header == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	snprintf(header, len, "%s%s", prefix, token);
	l = curl_slist_append(call->headers, header);
	explicit_bzero(header, len);
	free(header);
	if (l == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	call->headers = l;
}

static MktoHttpOutcome
classify(CURLcode rc, const MktoHttpCall *call)
{
	switch (rc)
	{
		case CURLE_OK:
			return MKTO_HTTP_DONE;
		case CURLE_OPERATION_TIMEDOUT:
			return MKTO_HTTP_TIMEOUT;
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
			return MKTO_HTTP_CONN_LOST;
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
			return MKTO_HTTP_CONNECT_FAILED;
		case CURLE_WRITE_ERROR:
			return call->too_large ? MKTO_HTTP_TOO_LARGE : MKTO_HTTP_FAILED;
		default:
			return MKTO_HTTP_FAILED;
	}
}

/* Collects the first failure of a run of curl_easy_setopt() calls. */
#define MKTO_SETOPT(h, opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt((h), (opt), (val)); \
		if (setopt_rc_ != CURLE_OK && setopt_rc == CURLE_OK) \
			setopt_rc = setopt_rc_; \
	} while (0)

void
mkto_http_perform(void **handle, MktoHttpExchange *ex)
{
	CURL	   *curl;
	MktoHttpCall *call;
	CURLcode	setopt_rc = CURLE_OK;
	CURLcode	rc;
	char		errbuf[CURL_ERROR_SIZE];
	long		status = 0;
	bool		plain_http;

	if (!curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not initialize libcurl")));
		curl_initialized = true;
	}
	curl = (CURL *) *handle;
	if (curl == NULL)
	{
		curl = curl_easy_init();
		if (curl == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not create a libcurl handle")));
		*handle = curl;
	}

	ex->outcome = MKTO_HTTP_FAILED;
	ex->http_status = 0;
	ex->response = NULL;
	ex->response_len = 0;
	ex->error[0] = '\0';

	/* Everything that can ereport comes before the options are set. */
	call = palloc0(sizeof(MktoHttpCall));
	call->cb.func = http_call_release;
	call->cb.arg = call;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &call->cb);

	add_header(call, "Accept: application/json");
	/* curl would otherwise wait for "100 Continue" before large bodies. */
	add_header(call, "Expect:");
	if (ex->post && ex->content_type != NULL)
	{
		char		ctype[128];

		snprintf(ctype, sizeof(ctype), "Content-Type: %s", ex->content_type);
		add_header(call, ctype);
	}
	if (ex->bearer_token != NULL)
		add_bearer_header(call, ex->bearer_token);

	plain_http = pg_strncasecmp(ex->url, "http://", 7) == 0;

	/*
	 * The handle is reused so that curl keeps the connection alive; a reset
	 * clears what the previous call set but keeps its connection cache.
	 */
	curl_easy_reset(curl);
	errbuf[0] = '\0';
	MKTO_SETOPT(curl, CURLOPT_ERRORBUFFER, errbuf);
	MKTO_SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
	MKTO_SETOPT(curl, CURLOPT_URL, ex->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	MKTO_SETOPT(curl, CURLOPT_PROTOCOLS_STR, plain_http ? "http,https" : "https");
#else
	MKTO_SETOPT(curl, CURLOPT_PROTOCOLS,
				plain_http ? (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long) CURLPROTO_HTTPS);
#endif
	MKTO_SETOPT(curl, CURLOPT_FRESH_CONNECT, ex->fresh_connection ? 1L : 0L);
	/* A redirect is reported as an error, never followed. */
	MKTO_SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
	MKTO_SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	MKTO_SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	MKTO_SETOPT(curl, CURLOPT_CAINFO, ex->ca_file);
	MKTO_SETOPT(curl, CURLOPT_HTTPHEADER, call->headers);
	MKTO_SETOPT(curl, CURLOPT_USERAGENT, "marketo_fdw/1.0");
	MKTO_SETOPT(curl, CURLOPT_ACCEPT_ENCODING, "");
	MKTO_SETOPT(curl, CURLOPT_TIMEOUT_MS,
				ex->timeout_ms > 0 ? ex->timeout_ms : (long) MKTO_TIMEOUT_DEFAULT_MS);
	MKTO_SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS,
				ex->connect_timeout_ms > 0 ? ex->connect_timeout_ms : MKTO_DEFAULT_CONNECT_TIMEOUT_MS);
	MKTO_SETOPT(curl, CURLOPT_WRITEFUNCTION, write_cb);
	MKTO_SETOPT(curl, CURLOPT_WRITEDATA, (void *) call);
	MKTO_SETOPT(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	MKTO_SETOPT(curl, CURLOPT_XFERINFODATA, (void *) NULL);
	MKTO_SETOPT(curl, CURLOPT_NOPROGRESS, 0L);
	if (ex->post)
	{
		const char *body = ex->body ? ex->body : "";

		MKTO_SETOPT(curl, CURLOPT_POST, 1L);
		MKTO_SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
		MKTO_SETOPT(curl, CURLOPT_POSTFIELDS, body);
		if (ex->custom_method)
			MKTO_SETOPT(curl, CURLOPT_CUSTOMREQUEST, ex->custom_method);
	}
	else
		MKTO_SETOPT(curl, CURLOPT_HTTPGET, 1L);

	if (setopt_rc != CURLE_OK)
	{
		/* Drop pointers to errbuf and the headers before leaving. */
		curl_easy_reset(curl);
		http_call_release(call);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not set up Marketo call %s", ex->label),
				 errdetail("%s", curl_easy_strerror(setopt_rc))));
	}

	mkto_http_calls++;
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

	/* Nothing may keep pointing at errbuf, the headers or the body. */
	curl_easy_reset(curl);

	ex->http_status = status;
	ex->outcome = classify(rc, call);
	if (rc != CURLE_OK)
	{
		if (call->out_of_memory)
			strlcpy(ex->error, "out of memory while receiving the response",
					sizeof(ex->error));
		else if (call->too_large)
			snprintf(ex->error, sizeof(ex->error),
					 "the response exceeded marketo_fdw.max_response_size (%d kB)",
					 max_response_kb);
		else
			strlcpy(ex->error, errbuf[0] ? errbuf : curl_easy_strerror(rc),
					sizeof(ex->error));
	}
	else
	{
		/* palloc can fail; the reset callback still frees the buffer then. */
		ex->response = palloc(call->len + 1);
		if (call->len > 0)
			memcpy(ex->response, call->buf, call->len);
		ex->response[call->len] = '\0';
		ex->response_len = call->len;
	}

	http_call_release(call);

	CHECK_FOR_INTERRUPTS();

	/* Interrupts may be held off; the call was abandoned all the same. */
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("canceling Marketo call %s", ex->label),
				 errdetail("A cancel or termination request arrived during the call.")));
}

uint64
mkto_backend_call_count(void)
{
	return mkto_http_calls;
}

void
mkto_http_init(void)
{
	DefineCustomIntVariable("marketo_fdw.max_response_size",
							"Largest Marketo response body a call accepts.",
							"A larger body fails the call instead of being buffered.",
							&max_response_kb, 64 * 1024, 64, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
}
