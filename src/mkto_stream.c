/*-------------------------------------------------------------------------
 *
 * mkto_stream.c
 *		  The file of a bulk export job, read as it downloads.
 *
 * One easy handle in a curl multi handle.  The write callback copies the
 * body into a bounded buffer and pauses the transfer when the buffer is
 * full; mkto_stream_read() hands the buffer out, unpauses and drives curl
 * again, polling at most MKTO_STREAM_POLL_MS at a time so that cancel and
 * statement_timeout are serviced.  So memory holds at most one buffer of
 * the file, and nothing is written to disk.
 *
 * Every HTTP request is set up by mkto_http_begin() as every Marketo call
 * is (TLS, hosts, no redirects, ...), admitted by the client (token,
 * limiter ticket, call budget), and its ticket holds a concurrency slot
 * until the transfer ends.  A transfer that is cut short or stalls resumes
 * with "Range: bytes=<bytes received>-", a few times, with the client's
 * backoff between.  The SHA-256 covers every byte delivered, across
 * resumes, and is checked at the end with the size.
 *
 * As in mkto_http.c, the curl callbacks touch only the stream's buffer and
 * plain fields: no palloc, no ereport.  The curl handles, the limiter
 * ticket and the hash context are freed by a reset callback on a child of
 * the context current at open, which runs before the parent's own reset
 * callbacks: the transfer's call (headers, error buffer, registered on the
 * parent by mkto_http_begin) thus outlives the handle that points to it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <curl/curl.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "mkto_stream.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

/* The most of the file held in memory; curl hands over at most 16 kB a time. */
#define MKTO_STREAM_BUFFER		(1024 * 1024)
/* New requests after a transfer was cut short or stalled. */
#define MKTO_STREAM_MAX_RESUMES	5
/* Longest wait on the socket, so that interrupts are serviced. */
#define MKTO_STREAM_POLL_MS		200
/* ... and with a companion download to move on meanwhile */
#define MKTO_STREAM_COMPANION_POLL_MS	20

/* What the answer of the current request is. */
typedef enum StreamBody
{
	BODY_UNKNOWN,				/* no body byte yet */
	BODY_FILE,					/* 200 or 206: the file's bytes */
	BODY_OTHER					/* an error status or a JSON envelope */
} StreamBody;

/* How a request ended, for what comes next. */
typedef enum StreamNext
{
	NEXT_REQUEST,				/* a (first or) new request is due */
	NEXT_RUNNING,				/* a transfer is under way */
	NEXT_END					/* the server has no more bytes */
} StreamNext;

struct MktoStream
{
	MemoryContext cxt;			/* the context current at open */
	MemoryContext guard;		/* its child, whose reset frees the handles */
	MemoryContextCallback cb;
	MktoClient *client;
	MktoStream *companion;		/* moved on while this one waits, or NULL */
	MktoRequest req;			/* the GET, for the client's judgement */
	MktoHttpExchange ex;		/* the current request */
	int64		expected_size;	/* or -1 */
	char		expected_sha[PG_SHA256_DIGEST_STRING_LENGTH];	/* or "" */
	long		stall_ms;		/* no byte for this long: resume */

	CURLM	   *multi;
	void	   *easy;			/* CURL *, in multi while running */
	MktoHttpCall *call;			/* of the current request, or NULL */
	MktoLimiterTicket ticket;	/* of the current request */
	bool		in_multi;
	bool		paused;
	bool		reading;		/* inside mkto_stream_read: an error there
								 * leaves the stream unusable */
	StreamNext	next;

	/* the current answer, set by the callbacks */
	long		status;
	StreamBody	body;
	bool		envelope;		/* its body starts like JSON */
	int64		range_start;	/* of a 206's Content-Range, or -1 */
	int64		range_total;	/* the file's size by the answer, or -1 */
	bool		bad_range;		/* a 206 not from where we asked */
	int64		skip;			/* bytes of a 200 we already have */
	uint64		seen;			/* header and body bytes, for the stall
								 * clock */

	char	   *buf;			/* the file's bytes not yet handed out, or
								 * an error answer's body */
	size_t		buf_pos;
	size_t		buf_len;
	size_t		other_len;		/* of an error answer's body in buf */

	int64		received;		/* file bytes taken into buf */
	int64		delivered;		/* handed out and hashed */
	int			requests;
	int			resumes;
	MktoRetries retries;
	bool		done;

	ResourceOwner hash_owner;	/* the hash context's own, so that no
								 * transaction's release frees it */
	pg_cryptohash_ctx *sha;
};

/* ---------------------------------------------------------------- */
/* Cleanup															  */
/* ---------------------------------------------------------------- */

/* Ends the current transfer's curl side; no ereport, no allocation. */
static void
detach_transfer(MktoStream *s)
{
	if (s->in_multi)
	{
		curl_multi_remove_handle(s->multi, s->easy);
		s->in_multi = false;
	}
	s->paused = false;
}

static void
stream_release(void *arg)
{
	MktoStream *s = (MktoStream *) arg;

	detach_transfer(s);
	mkto_limiter_release(&s->ticket,
						 s->call ? mkto_http_requests_sent(s->call) : 0);
	if (s->call != NULL)
	{
		mkto_http_release(s->call);
		s->call = NULL;
	}
	if (s->easy != NULL)
	{
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
	}
	if (s->multi != NULL)
	{
		curl_multi_cleanup(s->multi);
		s->multi = NULL;
	}
	if (s->sha != NULL)
	{
		pg_cryptohash_free(s->sha);
		s->sha = NULL;
	}
	if (s->hash_owner != NULL)
	{
		ResourceOwnerDelete(s->hash_owner);
		s->hash_owner = NULL;
	}
}

/* ---------------------------------------------------------------- */
/* curl callbacks: no palloc, no ereport							  */
/* ---------------------------------------------------------------- */

/* "Content-Range: bytes <first>-<last>/<total>" of a 206. */
static void
parse_content_range(MktoStream *s, const char *line, size_t len)
{
	static const char name[] = "content-range:";
	char		value[128];
	long long	first,
				last,
				total;

	if (len <= sizeof(name) - 1 || len - (sizeof(name) - 1) >= sizeof(value) ||
		pg_strncasecmp(line, name, sizeof(name) - 1) != 0)
		return;
	memcpy(value, line + sizeof(name) - 1, len - (sizeof(name) - 1));
	value[len - (sizeof(name) - 1)] = '\0';
	if (sscanf(value, " bytes %lld-%lld/%lld", &first, &last, &total) == 3)
	{
		s->range_start = first;
		s->range_total = total;
	}
	else if (sscanf(value, " bytes %lld-%lld/*", &first, &last) == 2)
		s->range_start = first;
}

static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	MktoStream *s = (MktoStream *) arg;
	size_t		n = size * nmemb;

	s->seen += n;
	/* a new status line: an interim answer's headers do not count */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
	{
		s->range_start = -1;
		s->range_total = -1;
	}
	parse_content_range(s, ptr, n);
	return n;
}

/* What the first body byte of an answer says it is. */
static void
classify_body(MktoStream *s, const char *first)
{
	curl_off_t	length = -1;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
	/*
	 * A 206 is a piece of the file.  Marketo answers errors as a JSON
	 * envelope, also with 200; a file starts with its header of field
	 * names, never with '{', so the first byte tells them apart whatever
	 * the Content-Type says.
	 */
	s->envelope = *first == '{';
	if (s->status == 206)
	{
		s->body = BODY_FILE;
		s->bad_range = s->range_start != s->ex.range_from;
	}
	else if (s->status == 200 && !s->envelope)
	{
		s->body = BODY_FILE;
		/* the server ignored Range: skip what we have */
		s->skip = s->ex.range_from;
		if (length >= 0)
			s->range_total = length;
	}
	else
		s->body = BODY_OTHER;
}

static size_t
body_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	MktoStream *s = (MktoStream *) arg;
	size_t		n = size * nmemb;

	if (n == 0)
		return 0;
	if (s->body == BODY_UNKNOWN)
		classify_body(s, ptr);
	if (s->body == BODY_OTHER)
	{
		/* kept for the error message, as much as fits */
		size_t		keep = Min(n, MKTO_STREAM_BUFFER - s->other_len);

		memcpy(s->buf + s->other_len, ptr, keep);
		s->other_len += keep;
		s->seen += n;
		return n;
	}
	/* CURLE_WRITE_ERROR, reported after */
	if (s->bad_range || n > MKTO_STREAM_BUFFER)
		return 0;
	if (s->skip > 0)
	{
		size_t		drop = (size_t) Min((int64) n, s->skip);

		s->skip -= drop;
		s->seen += drop;
		ptr += drop;
		n -= drop;
		if (n == 0)
			return size * nmemb;
	}
	/* all or nothing: curl hands the same bytes again after the pause */
	if (n > MKTO_STREAM_BUFFER - s->buf_len)
	{
		s->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	memcpy(s->buf + s->buf_len, ptr, n);
	s->buf_len += n;
	s->received += n;
	s->seen += n;
	return size * nmemb;
}

/* ---------------------------------------------------------------- */
/* Requests															  */
/* ---------------------------------------------------------------- */

/* "12 of 34 bytes", or "12 bytes" when the size is not known. */
static char *
bytes_of(const MktoStream *s)
{
	int64		total = s->expected_size >= 0 ? s->expected_size : s->range_total;

	if (total >= 0)
		return psprintf(INT64_FORMAT " of " INT64_FORMAT " bytes", s->received, total);
	return psprintf(INT64_FORMAT " bytes", s->received);
}

/*
 * Starts the next request.  Unless wait, only if the limiter admits it at
 * once (false otherwise): a caller that holds a ticket of its own must not
 * wait for room.
 */
static bool
start_request(MktoStream *s, bool wait)
{
	MemoryContext oldcxt;
	CURLMcode	mc;

	if (wait)
		s->ticket = mkto_client_admit(s->client, &s->ex);
	else if (!mkto_client_try_admit(s->client, &s->ex, &s->ticket))
		return false;
	oldcxt = MemoryContextSwitchTo(s->cxt);

	s->ex.range_from = s->received;
	s->status = 0;
	s->body = BODY_UNKNOWN;
	s->envelope = false;
	s->range_start = -1;
	s->range_total = -1;
	s->bad_range = false;
	s->skip = 0;
	s->other_len = 0;

	/* the call, registered on s->cxt, is freed after the guard's callback */
	s->call = mkto_http_begin(&s->easy, &s->ex, body_cb, s);
	s->ex.bearer_token = NULL;
	s->requests++;
	if (curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK ||
		curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, (void *) s) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not set up Marketo call %s", s->ex.label)));
	if (s->multi == NULL && (s->multi = curl_multi_init()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	mc = curl_multi_add_handle(s->multi, s->easy);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not set up Marketo call %s", s->ex.label),
				 errdetail("%s", curl_multi_strerror(mc))));
	s->in_multi = true;
	s->next = NEXT_RUNNING;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * The current request ended with rc: decide what is next, or raise the
 * error.  The ticket and the call are given back first.
 */
static void
end_request(MktoStream *s, CURLcode rc, bool stalled)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(s->cxt);
	MktoHttpCall *call = s->call;
	int			requests_sent = mkto_http_requests_sent(call);
	bool		resumable;

	/* the status is also known when the body was cut short */
	if (s->status == 0)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	detach_transfer(s);
	s->call = NULL;
	mkto_limiter_release(&s->ticket, requests_sent);
	mkto_http_end(s->easy, call, &s->ex, (int) rc);
	MemoryContextSwitchTo(oldcxt);

	/* an empty 200 or 206 is an empty piece of the file */
	if (s->body == BODY_UNKNOWN && (s->status == 200 || s->status == 206) &&
		s->ex.outcome == MKTO_HTTP_DONE)
		s->body = BODY_FILE;

	if (s->bad_range)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo call %s answered another byte range than asked for", s->ex.label),
				 errdetail("Asked for the bytes from " INT64_FORMAT ", got them from " INT64_FORMAT ".",
						   s->ex.range_from, s->range_start)));

	if (s->body == BODY_FILE || (s->status == 416 && s->ex.range_from > 0))
	{
		/* Marketo took the token; later token or transient errors start over */
		mkto_client_accepted(s->client, &s->ticket, requests_sent);
		memset(&s->retries, 0, sizeof(s->retries));
	}

	resumable = stalled || s->ex.outcome == MKTO_HTTP_CONN_LOST ||
		s->ex.outcome == MKTO_HTTP_TIMEOUT;
	if (s->body == BODY_FILE && s->ex.outcome == MKTO_HTTP_DONE)
	{
		int64		total = s->expected_size >= 0 ? s->expected_size : s->range_total;

		/* an answer that ended cleanly but short, without Content-Length */
		if (total >= 0 && s->received < total)
			resumable = true;
		else
		{
			s->next = NEXT_END;
			return;
		}
	}
	else if (s->status == 416 && s->ex.range_from > 0 &&
			 s->ex.outcome == MKTO_HTTP_DONE)
	{
		/* the server has no more bytes than we have: checked at the end */
		s->next = NEXT_END;
		return;
	}

	if (resumable)
	{
		if (s->resumes >= MKTO_STREAM_MAX_RESUMES)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not download the file of Marketo call %s", s->ex.label),
					 errdetail("%s of the file arrived in %d requests; the last one %s: %s.",
							   bytes_of(s), s->requests,
							   stalled ? "stalled" : "was cut short",
							   stalled ? psprintf("no byte for %ld ms", s->stall_ms)
							   : s->ex.error[0] ? s->ex.error
							   : "the answer ended early"),
					 errhint("Check the network; the file stays available for 7 days.")));
		s->resumes++;
		ereport(DEBUG1,
				(errmsg_internal("marketo_fdw: %s %s after %s, resuming (%d of %d)",
								 s->ex.label, stalled ? "stalled" : "was cut short",
								 bytes_of(s), s->resumes, MKTO_STREAM_MAX_RESUMES)));
		mkto_client_backoff(s->resumes);
		s->next = NEXT_REQUEST;
		return;
	}

	if (s->ex.outcome == MKTO_HTTP_DONE && s->status == 404 && !s->envelope)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo call %s failed: the file is not available", s->ex.label),
				 errdetail("HTTP status 404: the job is not completed, or its file is no longer kept."),
				 errhint("A job's file can be downloaded once its status is Completed, for 7 days.")));

	/* anything else Marketo answered, or a failure to connect */
	{
		MemoryContext judgecxt = AllocSetContextCreate(s->cxt, "marketo_fdw stream answer",
													   ALLOCSET_SMALL_SIZES);

		MemoryContextSwitchTo(judgecxt);
		if (s->ex.outcome == MKTO_HTTP_DONE)
		{
			s->ex.response = pnstrdup(s->buf, s->other_len);
			s->ex.response_len = s->other_len;
		}
		if (mkto_client_judge(s->client, &s->req, &s->ex, &s->ticket,
							  &s->retries) == MKTO_VERDICT_SUCCESS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("malformed response from Marketo"),
					 errdetail("Request: %s; HTTP status %ld; a JSON envelope instead of the file.",
							   s->ex.label, s->status)));
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(judgecxt);
		s->ex.response = NULL;
		s->ex.response_len = 0;
		s->other_len = 0;
		s->next = NEXT_REQUEST;
	}
}

/*
 * Lets curl move the transfer on, without waiting.  True when the request
 * ended (end_request has decided what is next).
 */
static bool
perform(MktoStream *s)
{
	int			running;
	int			queued;
	CURLMcode	mc;
	CURLMsg    *msg;

	mc = curl_multi_perform(s->multi, &running);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo call %s failed", s->ex.label),
				 errdetail("%s", curl_multi_strerror(mc))));
	while ((msg = curl_multi_info_read(s->multi, &queued)) != NULL)
	{
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy)
		{
			end_request(s, msg->data.result, false);
			return true;
		}
	}
	return false;
}

/*
 * Runs the transfer until the buffer holds bytes, the write callback
 * paused it, or it ended (then end_request decides what is next).
 */
static void
drive(MktoStream *s)
{
	TimestampTz last_progress = GetCurrentTimestamp();

	while (s->next == NEXT_RUNNING && s->buf_len == s->buf_pos && !s->paused)
	{
		uint64		seen = s->seen;
		CURLMcode	mc;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (perform(s))
			return;
		if (s->buf_len > s->buf_pos || s->paused)
			break;

		now = GetCurrentTimestamp();
		if (s->seen != seen)
			last_progress = now;
		else if (TimestampDifferenceExceeds(last_progress, now, (int) s->stall_ms))
		{
			end_request(s, CURLE_OPERATION_TIMEDOUT, true);
			return;
		}

		/* the companion's socket does not wake this poll: poll briefly */
		if (s->companion)
			mkto_stream_prefetch(s->companion);
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		mc = curl_multi_poll(s->multi, NULL, 0,
							 s->companion ? MKTO_STREAM_COMPANION_POLL_MS : MKTO_STREAM_POLL_MS,
							 NULL);
		pgstat_report_wait_end();
		if (mc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Marketo call %s failed", s->ex.label),
					 errdetail("%s", curl_multi_strerror(mc))));
	}
}

/* The size and SHA-256 of what was delivered, against the job's. */
static void
verify(MktoStream *s)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_STRING_LENGTH];

	if (s->expected_size >= 0 && s->delivered != s->expected_size)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("size mismatch in the file of Marketo call %s", s->ex.label),
				 errdetail("The job reported " INT64_FORMAT " bytes; " INT64_FORMAT " arrived in %d requests.",
						   s->expected_size, s->delivered, s->requests)));
	if (pg_cryptohash_final(s->sha, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute %s hash: %s", "SHA256",
						pg_cryptohash_error(s->sha))));
	hex_encode((const char *) digest, sizeof(digest), hex);
	hex[sizeof(hex) - 1] = '\0';
	if (s->expected_sha[0] != '\0' && strcmp(hex, s->expected_sha) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("checksum mismatch in the file of Marketo call %s", s->ex.label),
				 errdetail("The job reported SHA-256 %s; the " INT64_FORMAT " bytes that arrived hash to %s.",
						   s->expected_sha, s->delivered, hex)));
}

/* ---------------------------------------------------------------- */
/* Interface														  */
/* ---------------------------------------------------------------- */

const char *
mkto_stream_checksum_hex(const char *fileChecksum)
{
	const char *hex = fileChecksum;

	if (hex == NULL)
		return NULL;
	if (pg_strncasecmp(hex, "sha256:", 7) == 0)
		hex += 7;
	if (strlen(hex) != PG_SHA256_DIGEST_STRING_LENGTH - 1 ||
		strspn(hex, "0123456789abcdefABCDEF") != strlen(hex))
		return NULL;
	return hex;
}

MktoStream *
mkto_stream_open(MktoClient *client, const char *path, int64 expected_size,
				 const char *sha256_hex)
{
	MktoStream *s;
	ResourceOwner saved_owner = CurrentResourceOwner;

	if (sha256_hex != NULL && mkto_stream_checksum_hex(sha256_hex) != sha256_hex)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("invalid SHA-256 checksum \"%s\"", sha256_hex),
				 errdetail("A checksum has 64 hexadecimal digits.")));

	s = palloc0(sizeof(MktoStream));
	s->cxt = CurrentMemoryContext;
	s->client = client;
	s->expected_size = expected_size;
	if (sha256_hex != NULL)
	{
		for (int i = 0; i < PG_SHA256_DIGEST_STRING_LENGTH - 1; i++)
			s->expected_sha[i] = pg_ascii_tolower((unsigned char) sha256_hex[i]);
	}
	s->buf = palloc(MKTO_STREAM_BUFFER);
	s->ticket.slot = -1;
	s->next = NEXT_REQUEST;

	s->req.method = MKTO_GET;
	s->req.path = pstrdup(path);
	s->req.below_base_url = true;
	s->req.idempotent = true;
	mkto_client_prepare(client, &s->req, &s->ex);
	/* the read timeout bounds a stall, not the whole download */
	s->stall_ms = s->ex.timeout_ms;
	s->ex.timeout_ms = -1;
	s->ex.accept = "*/*";
	s->ex.byte_ranges = true;

	s->guard = AllocSetContextCreate(s->cxt, "marketo_fdw stream",
									 ALLOCSET_SMALL_SIZES);
	s->cb.func = stream_release;
	s->cb.arg = s;
	MemoryContextRegisterResetCallback(s->guard, &s->cb);

	/*
	 * The hash context lives under an owner of its own, which only
	 * stream_release deletes: a transaction's resource owner would free it
	 * on abort, before or after this context's reset.
	 */
	s->hash_owner = ResourceOwnerCreate(NULL, "marketo_fdw stream");
	CurrentResourceOwner = s->hash_owner;
	PG_TRY();
	{
		s->sha = pg_cryptohash_create(PG_SHA256);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = saved_owner;
	}
	PG_END_TRY();
	if (s->sha == NULL || pg_cryptohash_init(s->sha) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute %s hash: %s", "SHA256",
						pg_cryptohash_error(s->sha))));
	return s;
}

size_t
mkto_stream_read(MktoStream *s, char *buf, size_t maxlen)
{
	if (s->reading)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the download of Marketo call %s was interrupted by an error", s->ex.label)));
	if (maxlen == 0)
		return 0;
	/* also between reads served from the buffer */
	CHECK_FOR_INTERRUPTS();
	s->reading = true;
	for (;;)
	{
		if (s->buf_pos < s->buf_len)
		{
			size_t		n = Min(maxlen, s->buf_len - s->buf_pos);

			memcpy(buf, s->buf + s->buf_pos, n);
			if (pg_cryptohash_update(s->sha, (const uint8 *) buf, n) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not compute %s hash: %s", "SHA256",
								pg_cryptohash_error(s->sha))));
			s->buf_pos += n;
			s->delivered += n;
			s->reading = false;
			return n;
		}
		s->buf_pos = s->buf_len = 0;
		if (s->done)
			break;
		switch (s->next)
		{
			case NEXT_END:
				verify(s);
				s->done = true;
				/* the handles are of no more use */
				MemoryContextReset(s->guard);
				s->reading = false;
				return 0;
			case NEXT_REQUEST:
				(void) start_request(s, true);
				break;
			case NEXT_RUNNING:
				if (s->paused)
				{
					CURLcode	rc;

					s->paused = false;
					rc = curl_easy_pause(s->easy, CURLPAUSE_CONT);
					if (rc != CURLE_OK)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_ERROR),
								 errmsg("Marketo call %s failed", s->ex.label),
								 errdetail("%s", curl_easy_strerror(rc))));
				}
				break;
		}
		drive(s);
	}
	s->reading = false;
	return 0;
}

void
mkto_stream_set_companion(MktoStream *stream, MktoStream *companion)
{
	stream->companion = companion;
}

void
mkto_stream_prefetch(MktoStream *s)
{
	if (s->reading || s->done || s->paused || s->buf_pos > 0)
		return;
	/* the first request only: resumes are the reader's */
	if (s->next == NEXT_REQUEST && (s->requests > 0 || !start_request(s, false)))
		return;
	if (s->next == NEXT_RUNNING)
		(void) perform(s);
}

int64
mkto_stream_bytes(const MktoStream *stream)
{
	return stream->delivered;
}

int
mkto_stream_requests(const MktoStream *stream)
{
	return stream->requests;
}

void
mkto_stream_close(MktoStream *stream)
{
	MemoryContextDelete(stream->guard);
	pfree(stream->buf);
	/* the request's call structs stay until the context's reset: theirs */
	pfree(stream);
}
