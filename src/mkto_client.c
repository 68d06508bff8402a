/*-------------------------------------------------------------------------
 *
 * mkto_client.c
 *		  Marketo REST client: client cache, access tokens, the JSON envelope,
 *		  error codes and retries.
 *
 * A client lives for the backend's life in a hash table keyed by the user
 * mapping OID, like postgres_fdw's connection cache.  It holds copies of
 * its configuration, a curl handle (kept for keep-alive) and the current
 * access token.
 *
 * Every attempt of a call runs in a short-lived child of the caller's
 * memory context, so retries do not pile up response bodies; only the
 * parsed body of the successful attempt is handed to the caller's context.
 *
 * Secrets: client_secret only ever travels in the identity URL, and the
 * token only in the Authorization header.  Messages name a call by method
 * and path, never by its URL, and bodies quoted in messages are masked.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "mkto_client.h"
#include "mkto_limiter.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define MKTO_MAX_ATTEMPTS		5
#define MKTO_BACKOFF_CAP_MS		20000
#define MKTO_SLEEP_STEP_MS		100
#define MKTO_EXCERPT_BYTES		200
#define MKTO_MESSAGE_BYTES		1000

struct MktoClient
{
	Oid			key;			/* hash key: user mapping OID */
	/* copies in ClientContext */
	char	   *rest_url;
	char	   *identity_url;
	char	   *client_id;
	char	   *client_secret;
	long		connect_timeout_ms;
	long		read_timeout_ms;
	long		write_timeout_ms;
	char	   *ca_file;
	bool		restricted;
	void	   *curl;			/* CURL *, created by mkto_http.c */
	void	   *multi;			/* CURLM * of mkto_multi.c: its connections
								 * are kept alive between call groups */
	char		instance[MKTO_LIMITER_KEY_LEN]; /* the limiter's name for it */
	uint64		credential;		/* hash of the credentials, for the limiter */
	char	   *token;			/* malloc'd, zeroed before free, or NULL */
	TimestampTz token_refresh_at;	/* fetch a new token from then on */
};

static HTAB *ClientHash = NULL;
static MemoryContext ClientContext = NULL;

/*
 * How each Marketo error code (and each HTTP status worth singling out) is
 * handled.  Codes not listed fail at once with ERRCODE_FDW_ERROR.
 */
typedef enum MktoRetry
{
	RETRY_NEVER,
	RETRY_ALWAYS,				/* Marketo refused without doing anything */
	RETRY_IDEMPOTENT,			/* only if repeating the call is safe */
	RETRY_REAUTH				/* new token, then once more */
} MktoRetry;

typedef struct MktoErrorInfo
{
	bool		http;			/* an HTTP status rather than a Marketo code */
	const char *code;
	MktoRetry	retry;
	int			sqlstate;
	const char *what;			/* appended to the errmsg, or NULL */
	const char *hint;			/* or NULL */
} MktoErrorInfo;

static const MktoErrorInfo error_table[] = {
	{false, "502", RETRY_IDEMPOTENT, ERRCODE_FDW_ERROR, NULL,
	"Marketo was temporarily unavailable; try again later."},
	{false, "601", RETRY_REAUTH, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL,
	"Marketo rejected a freshly issued access token; check client_id and client_secret of the user mapping."},
	{false, "602", RETRY_REAUTH, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL,
	"Marketo rejected a freshly issued access token; check client_id and client_secret of the user mapping."},
	{false, "603", RETRY_NEVER, ERRCODE_FDW_ERROR, NULL,
	"The role of the Marketo API user lacks a permission this call needs, or a CRM sync makes the object read-only."},
	{false, "604", RETRY_IDEMPOTENT, ERRCODE_FDW_ERROR, NULL,
	"Marketo timed out processing the call; try again later."},
	{false, "606", RETRY_ALWAYS, ERRCODE_FDW_ERROR, NULL,
	"Marketo's rate limit (100 calls in 20 seconds) was still exceeded after retrying; try again later."},
	{false, "607", RETRY_NEVER, ERRCODE_FDW_ERROR, "the daily API quota is exhausted",
	"The quota resets at midnight US Central time."},
	{false, "1029", RETRY_NEVER, ERRCODE_FDW_ERROR, "the bulk export quota is exhausted", NULL},
	{false, "608", RETRY_IDEMPOTENT, ERRCODE_FDW_ERROR, NULL,
	"The Marketo API was temporarily unavailable; try again later."},
	{false, "611", RETRY_IDEMPOTENT, ERRCODE_FDW_ERROR, NULL,
	"Marketo reported a system error; try again later."},
	{false, "615", RETRY_ALWAYS, ERRCODE_FDW_ERROR, NULL,
	"Marketo's limit of 10 concurrent calls was still exceeded after retrying; try again later."},
	{false, "713", RETRY_IDEMPOTENT, ERRCODE_FDW_ERROR, NULL,
	"Marketo reported a transient error; try again later."},
	{false, "1003", RETRY_NEVER, ERRCODE_FDW_ERROR, NULL,
	"Marketo rejected the request data."},
	{false, "1006", RETRY_NEVER, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND, NULL,
	"A column maps to a field this Marketo instance does not have: check the column's field option, or run IMPORT FOREIGN SCHEMA again."},
	{true, "502", RETRY_IDEMPOTENT, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL,
	"Marketo was temporarily unavailable; try again later."},
	{true, "503", RETRY_IDEMPOTENT, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL,
	"Marketo was temporarily unavailable; try again later."},
	{true, "504", RETRY_IDEMPOTENT, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, NULL,
	"Marketo was temporarily unavailable; try again later."},
	{true, "413", RETRY_NEVER, ERRCODE_FDW_ERROR, NULL,
	"Marketo accepts request bodies of at most 1 MB."},
	{true, "414", RETRY_NEVER, ERRCODE_FDW_ERROR, NULL,
	"Marketo accepts URLs of at most 8 KB."},
};

static const MktoErrorInfo default_marketo_error =
{false, NULL, RETRY_NEVER, ERRCODE_FDW_ERROR, NULL, NULL};
static const MktoErrorInfo default_http_error =
{true, NULL, RETRY_NEVER, ERRCODE_FDW_ERROR, NULL, NULL};

static const MktoErrorInfo *
lookup_error(bool http, const char *code)
{
	for (int i = 0; i < lengthof(error_table); i++)
		if (error_table[i].http == http && strcmp(error_table[i].code, code) == 0)
			return &error_table[i];
	return http ? &default_http_error : &default_marketo_error;
}

/* What one attempt came to. */
typedef enum MktoOutcome
{
	OUTCOME_OK,
	OUTCOME_RETRY,				/* back off and try again */
	OUTCOME_REAUTH,				/* new token and try again */
	OUTCOME_FAIL
} MktoOutcome;

typedef enum MktoFailure
{
	FAIL_NONE,
	FAIL_TRANSPORT,				/* curl failed */
	FAIL_TIMEOUT,
	FAIL_HTTP,					/* unexpected HTTP status */
	FAIL_MARKETO,				/* success:false */
	FAIL_MALFORMED,				/* not the JSON we expect */
	FAIL_AUTH					/* identity refused the credentials */
} MktoFailure;

typedef struct MktoAttempt
{
	MktoOutcome outcome;
	MktoFailure failure;
	const MktoErrorInfo *info;	/* FAIL_MARKETO, FAIL_HTTP */
	MktoHttpOutcome transport;
	long		http_status;
	char	   *code;			/* Marketo code, or identity "error" */
	char	   *message;		/* printable */
	char	   *request_id;		/* printable, or NULL */
	char	   *excerpt;		/* printable start of the body, or NULL */
	json_object *root;			/* tracked on the attempt's context */
} MktoAttempt;

/*
 * Marketo answered and refused the call for good: not a transient error,
 * not a token problem, and not a quota (the next call would fail the same
 * way) unless the caller names that code (named_code, or NULL for any): a
 * 1029 is a full export queue as well as a spent quota, which only the
 * caller can tell apart.
 */
static bool
is_refusal(const MktoAttempt *a, const char *named_code)
{
	if (a->failure != FAIL_MARKETO || a->outcome != OUTCOME_FAIL ||
		a->info->retry != RETRY_NEVER || a->code == NULL)
		return false;
	if (named_code)
		return strcmp(named_code, a->code) == 0;
	return strcmp(a->code, "607") != 0 && strcmp(a->code, "1029") != 0;
}


/* ---------------------------------------------------------------- */
/* Small helpers													  */
/* ---------------------------------------------------------------- */

static void
json_put_callback(void *arg)
{
	json_object_put((json_object *) arg);
}

json_object *
mkto_track_json(json_object *obj)
{
	MemoryContextCallback *cb;

	if (obj == NULL)
		return NULL;

	/* If this fails, release obj rather than leak it. */
	cb = palloc_extended(sizeof(MemoryContextCallback), MCXT_ALLOC_NO_OOM);
	if (cb == NULL)
	{
		json_object_put(obj);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	cb->func = json_put_callback;
	cb->arg = obj;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return obj;
}

/* RFC 3986: everything but the unreserved characters is percent-encoded. */
static void
percent_encode(StringInfo buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 0x0F]);
		}
	}
}

char *
mkto_path_with_key(const char *path_template, const char *key)
{
	StringInfoData encoded;

	initStringInfo(&encoded);
	percent_encode(&encoded, key);
	return psprintf(path_template, encoded.data);
}

void
mkto_append_query_param(StringInfo buf, const char *name, const char *value)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, '&');
	percent_encode(buf, name);
	appendStringInfoChar(buf, '=');
	percent_encode(buf, value ? value : "");
}

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static void
replace_string(char **dst, const char *src, bool secret)
{
	if (*dst != NULL)
	{
		if (secret)
			explicit_bzero(*dst, strlen(*dst));
		pfree(*dst);
		*dst = NULL;
	}
	if (src != NULL)
		*dst = MemoryContextStrdup(ClientContext, src);
}

static void
drop_token(MktoClient *client)
{
	if (client->token != NULL)
	{
		explicit_bzero(client->token, strlen(client->token));
		free(client->token);
		client->token = NULL;
	}
	client->token_refresh_at = 0;
}

/* Overwrites every occurrence of secret in s with '*'. */
static void
mask_secret(char *s, const char *secret)
{
	size_t		slen;
	char	   *p;

	/* Masking a very short string would garble more than it hides. */
	if (secret == NULL || (slen = strlen(secret)) < 4)
		return;
	while ((p = strstr(s, secret)) != NULL)
		memset(p, '*', slen);
}

static void
mask_secrets(MktoClient *client, char *s)
{
	StringInfoData enc;

	mask_secret(s, client->token);
	if (client->client_secret == NULL)
		return;
	mask_secret(s, client->client_secret);
	/* as it appears URL-encoded in the identity URL */
	initStringInfo(&enc);
	percent_encode(&enc, client->client_secret);
	mask_secret(s, enc.data);
	explicit_bzero(enc.data, enc.len);
	pfree(enc.data);
}

/*
 * A palloc'd, printable copy of at most maxbytes of s: control characters
 * and invalid UTF-8 become '?', and so does any non-ASCII byte unless the
 * database is UTF-8 (the text is UTF-8 and goes into a message as is).
 * Secrets are masked first, so none survives truncation half-masked.
 */
static char *
printable(MktoClient *client, const char *s, size_t len, size_t maxbytes)
{
	size_t		take = Min(len, maxbytes + 64);
	char	   *raw = palloc(take + 1);
	StringInfoData out;
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	size_t		i = 0;

	memcpy(raw, s, take);
	raw[take] = '\0';
	/* an embedded NUL would end the masking early */
	for (size_t j = 0; j < take; j++)
		if (raw[j] == '\0')
			raw[j] = '?';
	mask_secrets(client, raw);

	take = Min(take, maxbytes);
	initStringInfo(&out);
	while (i < take)
	{
		unsigned char c = (unsigned char) raw[i];

		if (c < 0x80)
		{
			appendStringInfoChar(&out, (c < 0x20 || c == 0x7F) ? '?' : (char) c);
			i++;
		}
		else
		{
			int			l = pg_utf_mblen((const unsigned char *) raw + i);

			if (utf8 && i + l <= take &&
				pg_utf8_islegal((const unsigned char *) raw + i, l))
			{
				appendBinaryStringInfo(&out, raw + i, l);
				i += l;
			}
			else
			{
				appendStringInfoChar(&out, '?');
				i++;
			}
		}
	}
	if (len > take)
		appendStringInfoString(&out, "...");
	explicit_bzero(raw, strlen(raw));
	pfree(raw);
	return out.data;
}

static char *
printable_str(MktoClient *client, const char *s)
{
	return s ? printable(client, s, strlen(s), MKTO_MESSAGE_BYTES) : NULL;
}

/* The path part of a URL: "https://h:1/rest" -> "/rest". */
static const char *
url_path(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	p = strchr(p, '/');
	return p ? p : "";
}

/* base + path without a doubled or missing '/' at the joint. */
static void
append_joined(StringInfo buf, const char *base, const char *path)
{
	size_t		blen = strlen(base);

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	appendBinaryStringInfo(buf, base, (int) blen);
	while (*path == '/')
		path++;
	appendStringInfoChar(buf, '/');
	appendStringInfoString(buf, path);
}

/*
 * The call's URL without its query: rest_url and the path, or for a path
 * below base_url (the bulk API), rest_url without its "/rest".
 */
static void
append_request_url(StringInfo buf, const MktoClient *client, const MktoRequest *req)
{
	size_t		rlen = strlen(client->rest_url);

	while (rlen > 0 && client->rest_url[rlen - 1] == '/')
		rlen--;
	if (req->below_base_url && rlen >= 5 &&
		strncmp(client->rest_url + rlen - 5, "/rest", 5) == 0)
	{
		char	   *base = pnstrdup(client->rest_url, rlen - 5);

		append_joined(buf, base, req->path);
		pfree(base);
	}
	else
		append_joined(buf, client->rest_url, req->path);
}

static json_object *
member(json_object *obj, const char *name)
{
	json_object *v;

	if (obj != NULL && json_object_is_type(obj, json_type_object) &&
		json_object_object_get_ex(obj, name, &v) &&
		!json_object_is_type(v, json_type_null))
		return v;
	return NULL;
}

/* A string or number member as a palloc'd string, else NULL. */
static char *
member_string(json_object *obj, const char *name)
{
	json_object *v = member(obj, name);

	if (v == NULL)
		return NULL;
	switch (json_object_get_type(v))
	{
		case json_type_string:
			return pnstrdup(json_object_get_string(v), json_object_get_string_len(v));
		case json_type_int:
			return psprintf(INT64_FORMAT, json_object_get_int64(v));
		case json_type_double:
		case json_type_boolean:
			return pstrdup(json_object_get_string(v));
		default:
			return NULL;
	}
}

/* A member that is true or "true"; json-c would take any string as true. */
static bool
member_true(json_object *obj, const char *name)
{
	json_object *v = member(obj, name);

	if (v == NULL)
		return false;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), "true") == 0;
	return false;
}

/*
 * Parses exactly len bytes as one JSON value, tracked on the current
 * context.  NULL for anything else: a syntax error, an embedded NUL or
 * trailing non-whitespace.
 */
static json_object *
parse_json(const char *body, size_t len)
{
	/* numbers keep their exact text (mkto_json.c) */
	return mkto_json_parse(body, len);
}

/*
 * Sleeps ms, servicing interrupts every step so cancel stays prompt; the
 * backend shows the Extension wait event meanwhile.
 */
static void
interruptible_sleep(long ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		left = (long) ((until - GetCurrentTimestamp()) / 1000);

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left, MKTO_SLEEP_STEP_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* The first retry's delay, in ms (marketo_fdw.retry_delay). */
static int	retry_delay_ms = 1000;

/* retry_delay, doubled per attempt up to the cap, +-25% so backends spread out. */
static long
backoff_ms(int failed_attempt)
{
	long		base = retry_delay_ms;

	for (int i = 1; i < failed_attempt && base < MKTO_BACKOFF_CAP_MS; i++)
		base *= 2;
	base = Min(base, MKTO_BACKOFF_CAP_MS);
	return (long) (base * (0.75 + 0.5 * pg_prng_double(&pg_global_prng_state)));
}

static const char *
transport_reason(MktoHttpOutcome o)
{
	switch (o)
	{
		case MKTO_HTTP_TIMEOUT:
			return "timeout";
		case MKTO_HTTP_CONN_LOST:
			return "connection lost";
		case MKTO_HTTP_CONNECT_FAILED:
			return "could not connect";
		case MKTO_HTTP_TOO_LARGE:
			return "response too large";
		default:
			return "transport error";
	}
}

/* Fills a from a transport failure. */
static void
transport_failure(MktoClient *client, const MktoHttpExchange *ex,
				  bool idempotent, MktoAttempt *a)
{
	a->transport = ex->outcome;
	a->failure = ex->outcome == MKTO_HTTP_TIMEOUT ? FAIL_TIMEOUT : FAIL_TRANSPORT;
	a->message = printable_str(client, ex->error);
	a->outcome = (idempotent && (ex->outcome == MKTO_HTTP_TIMEOUT ||
								 ex->outcome == MKTO_HTTP_CONN_LOST))
		? OUTCOME_RETRY : OUTCOME_FAIL;
}

/* Fills a from an unexpected HTTP status. */
static void
http_failure(MktoClient *client, const MktoHttpExchange *ex,
			 bool idempotent, MktoAttempt *a)
{
	char		code[16];

	snprintf(code, sizeof(code), "%ld", ex->http_status);
	a->failure = FAIL_HTTP;
	a->info = lookup_error(true, code);
	a->excerpt = printable(client, ex->response, ex->response_len,
						   MKTO_EXCERPT_BYTES);
	a->outcome = (a->info->retry == RETRY_ALWAYS ||
				  (a->info->retry == RETRY_IDEMPOTENT && idempotent))
		? OUTCOME_RETRY : OUTCOME_FAIL;
}

/* Fills a from a success:false envelope. */
static void
marketo_failure(MktoClient *client, json_object *root, bool idempotent,
				MktoAttempt *a)
{
	json_object *errors = member(root, "errors");
	json_object *first = NULL;
	char	   *code;

	if (errors != NULL && json_object_is_type(errors, json_type_array) &&
		json_object_array_length(errors) > 0)
		first = json_object_array_get_idx(errors, 0);
	code = member_string(first, "code");
	a->failure = FAIL_MARKETO;
	a->code = code ? printable_str(client, code) : pstrdup("?");
	a->message = printable_str(client, member_string(first, "message"));
	if (a->message == NULL)
		a->message = pstrdup("no error message given");
	a->info = lookup_error(false, code ? code : "");
	switch (a->info->retry)
	{
		case RETRY_REAUTH:
			a->outcome = OUTCOME_REAUTH;
			break;
		case RETRY_ALWAYS:
			a->outcome = OUTCOME_RETRY;
			break;
		case RETRY_IDEMPOTENT:
			a->outcome = idempotent ? OUTCOME_RETRY : OUTCOME_FAIL;
			break;
		case RETRY_NEVER:
			a->outcome = OUTCOME_FAIL;
			break;
	}
}

static void
malformed(MktoClient *client, const MktoHttpExchange *ex, MktoAttempt *a)
{
	a->failure = FAIL_MALFORMED;
	a->outcome = OUTCOME_FAIL;
	a->excerpt = printable(client, ex->response, ex->response_len,
						   MKTO_EXCERPT_BYTES);
}

/*
 * When Marketo's daily quotas reset: the next midnight US Central time, in
 * UTC (Marketo documents the reset in Central time).
 */
const char *
mkto_quota_reset_hint(void)
{
	Datum		zone = CStringGetTextDatum("America/Chicago");
	Timestamp	local = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, zone,
															  TimestampTzGetDatum(GetCurrentTimestamp())));
	Timestamp	midnight = local - local % USECS_PER_DAY + USECS_PER_DAY;
	TimestampTz reset = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, zone,
																TimestampGetDatum(midnight)));
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(reset, NULL, &tm, &fsec, NULL, NULL) != 0)
		return "The quota resets at midnight US Central time.";
	return psprintf("The quota resets at midnight US Central time, %04d-%02d-%02d %02d:%02d UTC.",
					tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/*
 * The hint for an answer the code table describes, given what the retries
 * did: its "try again later" hint is wrong for a call that was not retried,
 * and the number of attempts made goes first.
 */
static const char *
code_hint(const MktoErrorInfo *info, const char *retry_note, int attempts)
{
	if (attempts == 1)
		return info->retry == RETRY_IDEMPOTENT ? retry_note : info->hint;
	return info->hint ? psprintf("%s %s", retry_note, info->hint) : retry_note;
}

/*
 * Raises the error for a failed attempt.  label names the call (method and
 * path, never a query string); attempts counts the tries made.
 */
static void pg_attribute_noreturn()
report_failure(const char *label, const MktoAttempt *a, const MktoRequest *req,
			   bool idempotent, long timeout_ms, int attempts)
{
	bool		identity = req == NULL;
	const char *retry_note = NULL;
	char		note[128];

	if (attempts > 1)
	{
		snprintf(note, sizeof(note), "Gave up after %d attempts.", attempts);
		retry_note = note;
	}
	else if (!idempotent && (a->failure == FAIL_TIMEOUT ||
							 (a->failure == FAIL_TRANSPORT &&
							  a->transport == MKTO_HTTP_CONN_LOST) ||
							 (a->info && a->info->retry == RETRY_IDEMPOTENT)))
		retry_note = "The call was not retried because repeating it might apply its changes twice. Marketo may or may not have applied it.";

	switch (a->failure)
	{
		case FAIL_AUTH:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not authenticate to Marketo"),
					 errdetail("Marketo error %s: %s (HTTP status %ld).",
							   a->code, a->message, a->http_status),
					 errhint("Check client_id and client_secret of the user mapping.")));
			break;
		case FAIL_TIMEOUT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 identity ? errmsg("could not authenticate to Marketo: %s timed out", label)
					 : errmsg("Marketo call %s timed out", label),
					 errdetail("Marketo did not answer within %ld ms.", timeout_ms),
					 retry_note ? errhint("%s", retry_note) : 0));
			break;
		case FAIL_TRANSPORT:
			{
				const char *hint = NULL;

				if (a->transport == MKTO_HTTP_CONNECT_FAILED ||
					a->transport == MKTO_HTTP_CONN_LOST)
					hint = retry_note
						? psprintf("%s Check the server's base_url option and the network.",
								   retry_note)
						: "Check the server's base_url option and the network.";
				else if (a->transport == MKTO_HTTP_TOO_LARGE)
					hint = "Raise marketo_fdw.max_response_size, or read fewer columns or smaller pages (batch_size).";
				ereport(ERROR,
						(errcode(a->transport == MKTO_HTTP_TOO_LARGE
								 ? ERRCODE_FDW_ERROR
								 : ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
						 identity ? errmsg("could not authenticate to Marketo: %s failed", label)
						 : errmsg("Marketo call %s failed", label),
						 errdetail("%s: %s", transport_reason(a->transport), a->message),
						 hint ? errhint("%s", hint) : 0));
			}
			break;
		case FAIL_HTTP:
			{
				const char *hint = code_hint(a->info, retry_note, attempts);

				if (a->http_status >= 300 && a->http_status < 400)
					hint = "Marketo answered with a redirect, which is not followed; check the server's base_url option.";
				ereport(ERROR,
						(errcode(a->info->sqlstate),
						 identity ? errmsg("could not authenticate to Marketo: %s failed", label)
						 : errmsg("Marketo call %s failed", label),
						 errdetail("HTTP status %ld, body: \"%s\".",
								   a->http_status, a->excerpt),
						 hint ? errhint("%s", hint) : 0));
			}
			break;
		case FAIL_MALFORMED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("malformed response from Marketo"),
					 errdetail("Request: %s; HTTP status %ld; body: \"%s\".",
							   label, a->http_status, a->excerpt)));
			break;
		case FAIL_MARKETO:
			{
				const char *hint = code_hint(a->info, retry_note, attempts);

				if (req && req->hint_code && strcmp(a->code, req->hint_code) == 0)
					hint = req->hint;
				if (strcmp(a->code, "607") == 0 || strcmp(a->code, "1029") == 0)
					hint = mkto_quota_reset_hint();
				ereport(ERROR,
						(errcode(a->info->sqlstate),
						 identity
						 ? (a->info->what
							? errmsg("could not authenticate to Marketo: %s failed: %s",
									 label, a->info->what)
							: errmsg("could not authenticate to Marketo: %s failed", label))
						 : (a->info->what
							? errmsg("Marketo call %s failed: %s", label, a->info->what)
							: errmsg("Marketo call %s failed", label)),
						 a->request_id
						 ? errdetail("Marketo error %s: %s (requestId %s).",
									 a->code, a->message, a->request_id)
						 : errdetail("Marketo error %s: %s.", a->code, a->message),
						 hint ? errhint("%s", hint) : 0));
			}
			break;
		case FAIL_NONE:
			break;
	}
	elog(ERROR, "unexpected Marketo call failure %d", (int) a->failure);
}

static void
log_retry(const char *label, const MktoAttempt *a, int attempt, long delay)
{
	char		reason[128];

	switch (a->failure)
	{
		case FAIL_MARKETO:
			snprintf(reason, sizeof(reason), "Marketo error %s", a->code);
			break;
		case FAIL_HTTP:
			snprintf(reason, sizeof(reason), "HTTP status %ld", a->http_status);
			break;
		default:
			strlcpy(reason, transport_reason(a->transport), sizeof(reason));
			break;
	}
	ereport(DEBUG1,
			(errmsg_internal("marketo_fdw: %s: %s on attempt %d of %d, retrying in %ld ms",
							 label, reason, attempt, MKTO_MAX_ATTEMPTS, delay)));
}

/* ---------------------------------------------------------------- */
/* Client cache														  */
/* ---------------------------------------------------------------- */

/*
 * Names the credentials for the limiter, which remembers the ones Marketo
 * accepted: the secret is part of it, so that a wrong secret for a known
 * client id counts as other credentials.
 */
static uint64
credential_hash(const MktoClient *client)
{
	StringInfoData buf;
	uint64		hash;

	initStringInfo(&buf);
	appendStringInfoString(&buf, client->identity_url ? client->identity_url : "");
	appendStringInfoChar(&buf, '\0');
	appendStringInfoString(&buf, client->client_id ? client->client_id : "");
	appendStringInfoChar(&buf, '\0');
	appendStringInfoString(&buf, client->client_secret ? client->client_secret : "");
	hash = hash_bytes_extended((const unsigned char *) buf.data, buf.len, 0);
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
	return hash == 0 ? 1 : hash;
}

MktoClient *
mkto_client_get(Oid cache_key, const MktoClientConfig *config)
{
	MktoClient *client;
	bool		found;

	if (ClientHash == NULL)
	{
		HASHCTL		ctl;

		ClientContext = AllocSetContextCreate(TopMemoryContext,
											  "marketo_fdw clients",
											  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(MktoClient);
		ctl.hcxt = ClientContext;
		ClientHash = hash_create("marketo_fdw clients", 8, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	client = hash_search(ClientHash, &cache_key, HASH_ENTER, &found);
	if (!found)
	{
		/* All NULL first, so a failure below leaves an entry that differs. */
		client->rest_url = NULL;
		client->identity_url = NULL;
		client->client_id = NULL;
		client->client_secret = NULL;
		client->connect_timeout_ms = -1;
		client->ca_file = NULL;
		client->restricted = false;
		client->curl = NULL;
		client->multi = NULL;
		client->instance[0] = '\0';
		client->credential = 0;
		client->token = NULL;
		client->token_refresh_at = 0;
	}

	if (str_differs(client->rest_url, config->rest_url) ||
		str_differs(client->identity_url, config->identity_url) ||
		str_differs(client->client_id, config->client_id) ||
		str_differs(client->client_secret, config->client_secret) ||
		client->connect_timeout_ms != config->connect_timeout_ms ||
		str_differs(client->ca_file, config->ca_file) ||
		client->restricted != config->restricted)
	{
		/* The token may belong to other credentials or another instance. */
		drop_token(client);
		client->connect_timeout_ms = -1;
		replace_string(&client->rest_url, config->rest_url, false);
		replace_string(&client->identity_url, config->identity_url, false);
		replace_string(&client->client_id, config->client_id, false);
		replace_string(&client->client_secret, config->client_secret, true);
		replace_string(&client->ca_file, config->ca_file, false);
		client->restricted = config->restricted;
		client->connect_timeout_ms = config->connect_timeout_ms;
		mkto_limiter_instance_key(client->rest_url, client->instance);
		client->credential = credential_hash(client);
	}
	/* timeouts apply per call: no need to drop the token */
	client->read_timeout_ms = config->read_timeout_ms;
	client->write_timeout_ms = config->write_timeout_ms;
	return client;
}

/* ---------------------------------------------------------------- */
/* Access token														  */
/* ---------------------------------------------------------------- */

/*
 * One HTTP exchange under the call limits and the budget, showing the
 * Extension wait event while it lasts.  The caller tells the limiter once
 * Marketo has accepted the credentials.
 */
static void
send_exchange(MktoClient *client, MktoHttpExchange *ex, MktoLimiterTicket *ticket)
{
	*ticket = mkto_limiter_acquire(client->instance, client->credential);
	ex->requests_sent = 0;
	PG_TRY();
	{
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		mkto_http_perform(&client->curl, ex);
	}
	PG_FINALLY();
	{
		pgstat_report_wait_end();
		mkto_limiter_release(ticket, ex->requests_sent);
	}
	PG_END_TRY();
}

/* One identity call; on success stores the token in the client. */
static void
identity_attempt(MktoClient *client, const char *label, const char *url,
				 MktoAttempt *a)
{
	MktoHttpExchange ex = {0};
	TimestampTz sent_at = GetCurrentTimestamp();
	json_object *token;
	json_object *expires;
	int64		lifetime = 0;
	MktoLimiterTicket ticket;

	ex.label = label;
	ex.post = false;
	ex.url = url;
	ex.timeout_ms = MKTO_TIMEOUT_DEFAULT_MS;
	ex.connect_timeout_ms = client->connect_timeout_ms;
	ex.ca_file = client->ca_file;
	ex.restricted = client->restricted;
	send_exchange(client, &ex, &ticket);

	a->http_status = ex.http_status;
	if (ex.outcome != MKTO_HTTP_DONE)
	{
		transport_failure(client, &ex, true, a);
		return;
	}

	a->root = parse_json(ex.response, ex.response_len);
	if (ex.http_status != 200)
	{
		char	   *error = member_string(a->root, "error");

		if (member(a->root, "success") != NULL)
			marketo_failure(client, a->root, true, a);
		else if (ex.http_status >= 400 && ex.http_status < 500 && error != NULL)
		{
			a->failure = FAIL_AUTH;
			a->outcome = OUTCOME_FAIL;
			a->code = printable_str(client, error);
			a->message = printable_str(client, member_string(a->root, "error_description"));
			if (a->message == NULL)
				a->message = pstrdup("no description given");
		}
		else
			http_failure(client, &ex, true, a);
	}
	else if ((token = member(a->root, "access_token")) != NULL &&
			 json_object_is_type(token, json_type_string) &&
			 json_object_get_string_len(token) > 0)
	{
		const char *t = json_object_get_string(token);
		size_t		tlen = strlen(t);

		drop_token(client);
		client->token = malloc(tlen + 1);
		if (client->token != NULL)
			memcpy(client->token, t, tlen + 1);

		/* Scrub the other copies: json-c's string and the body. */
		explicit_bzero((char *) t, tlen);
		explicit_bzero(ex.response, ex.response_len);
		if (client->token == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory")));

		/*
		 * Renew a minute early, or halfway for short-lived tokens, so a call
		 * never starts with a token about to expire.  Without a lifetime the
		 * token serves this one call.
		 */
		expires = member(a->root, "expires_in");
		if (expires != NULL && (json_object_is_type(expires, json_type_int) ||
								json_object_is_type(expires, json_type_string)))
			lifetime = json_object_get_int64(expires);
		if (lifetime >= 120)
			lifetime -= 60;
		else if (lifetime > 0)
			lifetime /= 2;
		else
			lifetime = 0;
		client->token_refresh_at = TimestampTzPlusMilliseconds(sent_at, lifetime * 1000);
		a->outcome = OUTCOME_OK;
		a->failure = FAIL_NONE;
		return;
	}
	else if (a->root != NULL && member(a->root, "success") != NULL &&
			 json_object_is_type(member(a->root, "success"), json_type_boolean) &&
			 !json_object_get_boolean(member(a->root, "success")))
		marketo_failure(client, a->root, true, a);
	else
		malformed(client, &ex, a);

	explicit_bzero(ex.response, ex.response_len);
}

/* Makes sure client->token is usable for a call starting now. */
static void
ensure_token(MktoClient *client)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	StringInfoData url;
	char	   *label;
	int			attempt;

	if (client->token != NULL && GetCurrentTimestamp() < client->token_refresh_at)
		return;
	drop_token(client);

	initStringInfo(&url);
	append_joined(&url, client->identity_url, "/oauth/token");
	/* named before the query, which holds client_secret, is added */
	label = psprintf("GET %s", url_path(url.data));
	appendStringInfoChar(&url, '?');
	{
		StringInfoData q;

		initStringInfo(&q);
		mkto_append_query_param(&q, "grant_type", "client_credentials");
		mkto_append_query_param(&q, "client_id", client->client_id);
		mkto_append_query_param(&q, "client_secret", client->client_secret);
		appendBinaryStringInfo(&url, q.data, q.len);
		explicit_bzero(q.data, q.len);
		pfree(q.data);
	}

	for (attempt = 1;; attempt++)
	{
		MemoryContext attemptcxt;
		MktoAttempt a = {0};

		attemptcxt = AllocSetContextCreate(oldcxt, "marketo_fdw identity call",
										   ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(attemptcxt);
		identity_attempt(client, label, url.data, &a);
		MemoryContextSwitchTo(oldcxt);

		if (a.outcome == OUTCOME_OK)
		{
			MemoryContextDelete(attemptcxt);
			break;
		}
		if (a.outcome == OUTCOME_RETRY && attempt < MKTO_MAX_ATTEMPTS)
		{
			long		delay = backoff_ms(attempt);

			log_retry(label, &a, attempt, delay);
			MemoryContextDelete(attemptcxt);
			interruptible_sleep(delay);
			continue;
		}
		explicit_bzero(url.data, url.len);
		report_failure(label, &a, NULL, true, MKTO_TIMEOUT_DEFAULT_MS, attempt);
	}
	explicit_bzero(url.data, url.len);
	pfree(url.data);
	pfree(label);
}

/* ---------------------------------------------------------------- */
/* Calls															  */
/* ---------------------------------------------------------------- */

/*
 * Fills a from the answer ex got to a REST call, telling the limiter when
 * Marketo took the token.
 */
static void
judge_answer(MktoClient *client, const MktoHttpExchange *ex, bool idempotent,
			 const MktoLimiterTicket *ticket, MktoAttempt *a)
{
	json_object *success;

	a->http_status = ex->http_status;
	if (ex->outcome != MKTO_HTTP_DONE)
	{
		transport_failure(client, ex, idempotent, a);
		return;
	}
	if (ex->http_status < 200 || ex->http_status >= 300)
	{
		http_failure(client, ex, idempotent, a);
		return;
	}

	a->root = parse_json(ex->response, ex->response_len);
	success = member(a->root, "success");
	if (a->root == NULL || !json_object_is_type(a->root, json_type_object) ||
		success == NULL || !json_object_is_type(success, json_type_boolean))
	{
		malformed(client, ex, a);
		return;
	}
	a->request_id = printable_str(client, member_string(a->root, "requestId"));
	if (json_object_get_boolean(success))
	{
		a->outcome = OUTCOME_OK;
		a->failure = FAIL_NONE;
	}
	else
		marketo_failure(client, a->root, idempotent, a);

	/* Marketo checks the token before anything else, the rate included */
	if (a->failure == FAIL_NONE ||
		(a->info->retry != RETRY_REAUTH && strcmp(a->code, "600") != 0))
		mkto_limiter_accepted(client->instance, ticket, ex->requests_sent);
}

/* One REST attempt with the current token. */
static void
rest_attempt(MktoClient *client, MktoHttpExchange *ex, bool idempotent,
			 MktoAttempt *a)
{
	MktoLimiterTicket ticket;

	ex->bearer_token = client->token;
	send_exchange(client, ex, &ticket);
	ex->bearer_token = NULL;
	judge_answer(client, ex, idempotent, &ticket, a);
}

/*
 * Whether a failed attempt may still have been applied: the request may
 * have reached Marketo, which then did not answer in time, or answered
 * that something broke on the way.  606 and 615 are refusals before any
 * work, and 601/602 are refused tokens.
 */
static bool
outcome_unknown(const MktoAttempt *a)
{
	switch (a->failure)
	{
		case FAIL_TIMEOUT:
			return true;
		case FAIL_TRANSPORT:
			return a->transport == MKTO_HTTP_CONN_LOST;
		case FAIL_HTTP:
			return a->http_status >= 500;
		case FAIL_MARKETO:
			return a->info->retry == RETRY_IDEMPOTENT;
		default:
			return false;
	}
}

/* Marketo refuses URLs over 8 KB (414); it documents this form instead. */
static void
as_form_post(StringInfo url, char sep, const char *query, MktoHttpExchange *ex)
{
	appendStringInfo(url, "%c_method=GET", sep);
	ex->post = true;
	ex->content_type = "application/x-www-form-urlencoded";
	ex->body = query;
}

/*
 * ex and url (its storage) set up for req as every call goes out, before
 * its body: the URL without the query, label, timeouts, connection and TLS
 * settings.  Returns the timeout.
 */
static long
exchange_template(MktoClient *client, const MktoRequest *req, StringInfo url,
				  MktoHttpExchange *ex)
{
	const char *method = req->method == MKTO_GET ? "GET" :
		req->method == MKTO_DELETE ? "DELETE" : "POST";
	long		timeout_ms = req->method == MKTO_GET && client->read_timeout_ms > 0
		? client->read_timeout_ms
		: req->method != MKTO_GET && client->write_timeout_ms > 0
		? client->write_timeout_ms
		: req->timeout_ms > 0 ? req->timeout_ms : MKTO_TIMEOUT_DEFAULT_MS;

	initStringInfo(url);
	append_request_url(url, client, req);
	ex->label = psprintf("%s %s", method, url_path(url->data));
	ex->timeout_ms = timeout_ms;

	/*
	 * curl silently resends a request whose kept-alive connection died before
	 * any answer; a call that is not safe to repeat must not be resent.
	 */
	ex->fresh_connection = !req->idempotent;
	ex->connect_timeout_ms = client->connect_timeout_ms;
	ex->ca_file = client->ca_file;
	ex->restricted = client->restricted;
	ex->url = url->data;
	return timeout_ms;
}

/*
 * What follows the failed attempt a of a call: AGAIN, once a refused token
 * is dropped (the first time) or the retry's wait has passed, or false to
 * give up (the caller reports a).
 */
static bool
retry_after(MktoClient *client, const char *label, const MktoAttempt *a,
			MktoRetries *r)
{
	if (a->outcome == OUTCOME_REAUTH && !r->reauthed)
	{
		ereport(DEBUG1,
				(errmsg_internal("marketo_fdw: %s: Marketo error %s, fetching a new access token",
								 label, a->code)));
		r->reauthed = true;
		drop_token(client);
		return true;
	}
	if (a->outcome == OUTCOME_RETRY && a->failure == FAIL_MARKETO &&
		strcmp(a->code, "606") == 0)
	{
		/* Marketo advises waiting out its window; short backoffs do not */
		if (!mkto_limiter_wait_rate_window(r->rate_waits))
			return false;
		r->rate_waits++;
		return true;
	}
	if (a->outcome == OUTCOME_RETRY && r->attempt + 1 < MKTO_MAX_ATTEMPTS)
	{
		long		delay = backoff_ms(r->attempt + 1);

		log_retry(label, a, r->attempt + 1, delay);
		interruptible_sleep(delay);
		r->attempt++;
		return true;
	}
	if (a->outcome == OUTCOME_REAUTH)
		drop_token(client);
	return false;
}

/*
 * The rest of ex and url for req after exchange_template: the query, and
 * the body of a POST, of a GET with a JSON body (compound keys) or of a GET
 * too long for a URL.
 */
static void
exchange_body(MktoClient *client, const MktoRequest *req, StringInfo url,
			  MktoHttpExchange *ex)
{
	const char *query = (req->query && req->query[0]) ? req->query : NULL;
	char		sep = strchr(req->path, '?') ? '&' : '?';

	if (req->method == MKTO_GET && req->json_body != NULL)
	{
		/* A read that needs a JSON body (compound keys) */
		appendStringInfo(url, "%c_method=GET", sep);
		if (query)
			appendStringInfo(url, "&%s", query);
		ex->post = true;
		ex->content_type = "application/json";
		ex->body = req->json_body;
	}
	else if (req->method == MKTO_GET && query &&
			 strlen(client->rest_url) + strlen(req->path) + 1 + strlen(query) >
			 MKTO_MAX_URL_LENGTH)
		as_form_post(url, sep, query, ex);
	else
	{
		if (query)
			appendStringInfo(url, "%c%s", sep, query);
		ex->post = req->method != MKTO_GET;
		if (req->method == MKTO_DELETE)
			ex->custom_method = "DELETE";
		if (ex->post && req->json_body != NULL)
		{
			ex->content_type = "application/json";
			ex->body = req->json_body;
		}
		else if (ex->post && req->form_body != NULL)
		{
			/* the asset API takes its updates as a form */
			ex->content_type = "application/x-www-form-urlencoded";
			ex->body = req->form_body;
		}
	}
	ex->url = url->data;
}

/*
 * The response of a success:true answer whose body is root (tracked on
 * CurrentMemoryContext), palloc'd there.
 */
static MktoResponse *
make_response(MktoClient *client, json_object *root, char *request_id,
			  const char *label, bool maybe_applied)
{
	MktoResponse *resp = palloc0(sizeof(MktoResponse));
	json_object *warnings;

	resp->root = root;
	resp->result = member(root, "result");
	resp->more_result = member_true(root, "moreResult");
	resp->more_result_given = member(root, "moreResult") != NULL;
	resp->next_page_token = member_string(root, "nextPageToken");
	if (resp->next_page_token && resp->next_page_token[0] == '\0')
	{
		pfree(resp->next_page_token);
		resp->next_page_token = NULL;
	}
	resp->request_id = request_id;
	resp->maybe_repeated = maybe_applied;
	if (maybe_applied)
		ereport(DEBUG1,
				(errmsg_internal("marketo_fdw: %s: answered after a repeat; an earlier sending may have been applied",
								 label)));

	/* Warnings do not fail the call, e.g. "No assets found". */
	warnings = member(root, "warnings");
	if (warnings != NULL && json_object_is_type(warnings, json_type_array) &&
		json_object_array_length(warnings) > 0)
		ereport(DEBUG1,
				(errmsg_internal("marketo_fdw: %s: Marketo warning: %s",
								 label,
								 printable_str(client,
											   json_object_get_string(json_object_array_get_idx(warnings, 0))))));
	return resp;
}

MktoResponse *
mkto_call(MktoClient *client, const MktoRequest *req)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MktoHttpExchange ex = {0};
	MktoResponse *resp;
	StringInfoData url;
	const char *query = (req->query && req->query[0]) ? req->query : NULL;
	char		sep = strchr(req->path, '?') ? '&' : '?';
	const char *label;
	long		timeout_ms;
	MktoRetries retries = {0};
	bool		maybe_applied = false;	/* an earlier sending may have been
										 * applied */
	json_object *root = NULL;
	char	   *request_id = NULL;

	timeout_ms = exchange_template(client, req, &url, &ex);
	label = ex.label;
	exchange_body(client, req, &url, &ex);

	for (;;)
	{
		MemoryContext attemptcxt;
		MktoAttempt a = {0};

		ensure_token(client);

		attemptcxt = AllocSetContextCreate(callercxt, "marketo_fdw call",
										   ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(attemptcxt);
		rest_attempt(client, &ex, req->idempotent, &a);
		MemoryContextSwitchTo(callercxt);
		if (ex.requests_sent > 1)
			maybe_applied = true;

		if (a.outcome == OUTCOME_OK)
		{
			/*
			 * Hand the body to the caller's context: take a reference there
			 * before the attempt's context drops its own.
			 */
			root = mkto_track_json(json_object_get(a.root));
			if (a.request_id)
				request_id = pstrdup(a.request_id);
			MemoryContextDelete(attemptcxt);
			break;
		}
		if (a.http_status == 414 && !ex.post && query)
		{
			/* A gateway counted the URL longer than we did: Marketo's documented
			 * workaround is the same request as a form POST. */
			MemoryContextDelete(attemptcxt);
			resetStringInfo(&url);
			append_request_url(&url, client, req);
			as_form_post(&url, sep, query, &ex);
			ex.url = url.data;
			continue;
		}
		if (a.outcome == OUTCOME_RETRY && outcome_unknown(&a))
			maybe_applied = true;
		if (retry_after(client, label, &a, &retries))
		{
			MemoryContextDelete(attemptcxt);
			continue;
		}
		if (req->return_refusal && is_refusal(&a, req->return_refusal_of))
		{
			resp = palloc0(sizeof(MktoResponse));
			resp->refusal_code = pstrdup(a.code);
			resp->refusal_message = pstrdup(a.message ? a.message : "");
			MemoryContextDelete(attemptcxt);
			pfree(url.data);
			pfree((char *) label);
			return resp;
		}
		report_failure(label, &a, req, req->idempotent, timeout_ms,
					   retries.attempt + 1 + retries.rate_waits);
	}

	resp = make_response(client, root, request_id, label, maybe_applied);
	pfree(url.data);
	pfree((char *) label);
	return resp;
}

/* ---------------------------------------------------------------- */
/* Exchanges sent by the caller (mkto_stream.c)						  */
/* ---------------------------------------------------------------- */

void
mkto_client_prepare(MktoClient *client, const MktoRequest *req,
					MktoHttpExchange *ex)
{
	StringInfoData url;

	memset(ex, 0, sizeof(*ex));
	exchange_template(client, req, &url, ex);
	if (req->query && req->query[0])
		appendStringInfo(&url, "%c%s", strchr(req->path, '?') ? '&' : '?', req->query);
	ex->url = url.data;
}

void
mkto_client_prepare_call(MktoClient *client, const MktoRequest *req,
						 MktoHttpExchange *ex)
{
	StringInfoData url;

	memset(ex, 0, sizeof(*ex));
	exchange_template(client, req, &url, ex);
	exchange_body(client, req, &url, ex);
}

void	  **
mkto_client_multi_handle(MktoClient *client)
{
	return &client->multi;
}

int
mkto_client_room(MktoClient *client, int most)
{
	MktoLimiterStats *stats;
	int			n;
	int			concurrent = atoi(GetConfigOption("marketo_fdw.max_concurrent_calls", false, false));
	int			per_window = atoi(GetConfigOption("marketo_fdw.max_calls_per_window", false, false));
	int			room = Min(most, concurrent);

	/* one entry per instance, and one more for unproven credentials */
	stats = palloc(sizeof(MktoLimiterStats) * 64);
	n = mkto_limiter_stats(stats, 64);
	for (int i = 0; i < n; i++)
	{
		if (strcmp(stats[i].instance, client->instance) != 0)
			continue;
		room = Min(room, concurrent - stats[i].in_flight);
		room = Min(room, per_window - stats[i].calls_in_window);
	}
	pfree(stats);
	return room;
}

MktoLimiterTicket
mkto_client_admit(MktoClient *client, MktoHttpExchange *ex)
{
	MktoLimiterTicket ticket;

	ensure_token(client);
	ticket = mkto_limiter_acquire(client->instance, client->credential);
	ex->bearer_token = client->token;
	return ticket;
}

bool
mkto_client_try_admit(MktoClient *client, MktoHttpExchange *ex,
					  MktoLimiterTicket *ticket)
{
	/* a token call would wait for the limiter: that waits for the group */
	if (client->token == NULL || GetCurrentTimestamp() >= client->token_refresh_at)
		return false;
	if (!mkto_limiter_try_acquire(client->instance, client->credential, ticket))
		return false;
	ex->bearer_token = client->token;
	return true;
}

void
mkto_client_accepted(MktoClient *client, const MktoLimiterTicket *ticket,
					 int requests_sent)
{
	mkto_limiter_accepted(client->instance, ticket, requests_sent);
}

MktoVerdict
mkto_client_judge(MktoClient *client, const MktoRequest *req,
				  const MktoHttpExchange *ex, const MktoLimiterTicket *ticket,
				  MktoRetries *retries)
{
	return mkto_client_judge_call(client, req, ex, ticket, retries, NULL);
}

MktoVerdict
mkto_client_judge_call(MktoClient *client, const MktoRequest *req,
					   const MktoHttpExchange *ex, const MktoLimiterTicket *ticket,
					   MktoRetries *retries, MktoResponse **resp)
{
	MktoAttempt a = {0};

	judge_answer(client, ex, req->idempotent, ticket, &a);
	if (a.outcome == OUTCOME_OK)
	{
		if (resp != NULL)
			*resp = make_response(client, a.root,
								  a.request_id ? pstrdup(a.request_id) : NULL,
								  ex->label,
								  ex->requests_sent > 1 || retries->attempt > 0);
		return MKTO_VERDICT_SUCCESS;
	}
	if (retry_after(client, ex->label, &a, retries))
		return MKTO_VERDICT_AGAIN;
	if (req->return_refusal && is_refusal(&a, req->return_refusal_of))
	{
		if (resp != NULL)
		{
			*resp = palloc0(sizeof(MktoResponse));
			(*resp)->refusal_code = pstrdup(a.code);
			(*resp)->refusal_message = pstrdup(a.message ? a.message : "");
		}
		return MKTO_VERDICT_SUCCESS;
	}
	report_failure(ex->label, &a, req, req->idempotent, ex->timeout_ms,
				   retries->attempt + 1 + retries->rate_waits);
}

void
mkto_client_backoff(int failed_attempt)
{
	interruptible_sleep(backoff_ms(failed_attempt));
}

void
mkto_client_init(void)
{
	DefineCustomIntVariable("marketo_fdw.retry_delay",
							"Delay before the first retry of a failed Marketo call.",
							"Each further retry waits twice as long, up to 20 s, with 25% jitter.",
							&retry_delay_ms, 1000, 10, MKTO_BACKOFF_CAP_MS,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
}
