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
#include <arpa/inet.h>
#include <netinet/in.h>

#include "miscadmin.h"
#include "mkto_client.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

/*
 * Larger responses are refused rather than buffered (kB; a GUC).  A page of
 * 300 records is normally well under 1 MB; a bigger body means something is
 * wrong upstream, and buffering it whole could exhaust the backend's memory.
 */
static int	max_response_kb = 64 * 1024;

#define MKTO_MAX_RESPONSE_BYTES	((size_t) max_response_kb * 1024)

#define MKTO_DEFAULT_CONNECT_TIMEOUT_MS 10000L

/*
 * Hosts that servers of non-superusers may reach (a superuser-only GUC):
 * Marketo's REST and identity endpoints are both https://<munchkin>.mktorest.com.
 */
static char *allowed_hosts = NULL;

#define MKTO_DEFAULT_ALLOWED_HOSTS "*.mktorest.com"

/*
 * What a server of a non-superuser is told when it cannot reach its host,
 * whatever the reason: refused by the address check, closed, unreachable,
 * silent or not speaking TLS.  Telling them apart would turn the server
 * into a port scanner of the networks it can reach.
 */
#define MKTO_RESTRICTED_CONNECT_ERROR \
	"could not reach the Marketo host over https, or its address is not allowed"

/* Requests actually sent by this backend, retries and identity included. */
static uint64 mkto_http_calls = 0;

static bool curl_initialized = false;

/* Resources of one exchange, released by a memory context reset callback. */
struct MktoHttpCall
{
	MemoryContextCallback cb;
	struct curl_slist *headers;
	char	   *buf;			/* malloc'd response body */
	size_t		len;
	size_t		cap;
	bool		too_large;
	bool		out_of_memory;
	bool		restricted;		/* connect only to public addresses */
	bool		refused;		/* an address was refused by that check */
	int			requests_sent;	/* counted by prereq_cb */
	bool		counted;		/* in mkto_http_calls */
	char		errbuf[CURL_ERROR_SIZE];
};
/*
 * Zeroes and frees.  The Authorization header and an identity response hold
 * a token, which should not linger in freed heap.
 */
static void
http_call_release(void *arg)
{
	MktoHttpCall *call = (MktoHttpCall *) arg;

	/* A call that never got as far as sending still counts as one. */
	if (!call->counted)
	{
		mkto_http_calls += Max(call->requests_sent, 1);
		call->counted = true;
	}
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

/*
 * Whether a server of a non-superuser may connect to the address: not
 * loopback, not 0.0.0.0/8 (which reaches this host), not link-local (where
 * cloud metadata services live), nor their IPv6 and IPv4-mapped forms.
 * Pure computation: called from curl callbacks.
 */
static bool
ipv4_is_public(const unsigned char *a)
{
	return a[0] != 127 && a[0] != 0 && !(a[0] == 169 && a[1] == 254);
}

static bool
ipv6_is_public(const struct in6_addr *a)
{
	const unsigned char *b = a->s6_addr;

	if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) ||
		IN6_IS_ADDR_LINKLOCAL(a))
		return false;
	/* ::ffff:a.b.c.d and the deprecated ::a.b.c.d reach IPv4 addresses */
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a))
		return ipv4_is_public(b + 12);
	return true;
}

static bool
sockaddr_is_public(const struct sockaddr *sa, unsigned int len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ipv4_is_public((const unsigned char *)
							  &((const struct sockaddr_in *) sa)->sin_addr);
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ipv6_is_public(&((const struct sockaddr_in6 *) sa)->sin6_addr);
	return false;
}

/* The same for an address in text form; anything unparsable is refused. */
static bool
ip_text_is_public(const char *ip)
{
	unsigned char a4[4];
	struct in6_addr a6;

	if (ip == NULL)
		return false;
	if (inet_pton(AF_INET, ip, a4) == 1)
		return ipv4_is_public(a4);
	if (inet_pton(AF_INET6, ip, &a6) == 1)
		return ipv6_is_public(&a6);
	return false;
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: sees each resolved address before curl
 * connects to it, so the check is on the address itself, however the URL
 * spelled the host.  A refusal only makes curl try the next address or
 * fail; it is reported after the transfer.
 */
static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	MktoHttpCall *call = (MktoHttpCall *) clientp;

	if (call->restricted && !sockaddr_is_public(&address->addr, address->addrlen))
	{
		call->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/*
 * CURLOPT_PREREQFUNCTION: called each time the request is about to go out,
 * on a new or a kept-alive connection, libcurl's silent resend included.
 * A kept-alive connection was not opened by this call, so its address is
 * checked again here.
 */
static int
prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
		  int conn_primary_port, int conn_local_port)
{
	MktoHttpCall *call = (MktoHttpCall *) clientp;

	if (call->restricted && !ip_text_is_public(conn_primary_ip))
	{
		call->refused = true;
		return CURL_PREREQFUNC_ABORT;
	}
	call->requests_sent++;
	return CURL_PREREQFUNC_OK;
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

static void
ensure_curl_initialized(void)
{
	if (!curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not initialize libcurl")));
		curl_initialized = true;
	}
}

/*
 * The host of url as curl will connect to it (curl's parser, so that the
 * check and the connection cannot read the URL differently), or NULL if
 * curl cannot parse it.  *has_userinfo tells whether the URL names a user
 * or a password.
 */
char *
mkto_url_host(const char *url, bool *has_userinfo)
{
	CURLU	   *u;
	char	   *host = NULL;
	char	   *user = NULL;
	char	   *password = NULL;
	char		copy[256];
	bool		ok = false;

	ensure_curl_initialized();
	u = curl_url();
	if (u == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		strlen(host) < sizeof(copy))
	{
		strlcpy(copy, host, sizeof(copy));
		ok = true;
	}
	*has_userinfo = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
		curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK;
	curl_free(user);
	curl_free(password);
	curl_free(host);
	curl_url_cleanup(u);
	if (!ok)
		return NULL;
	for (char *c = copy; *c; c++)
		*c = pg_ascii_tolower((unsigned char) *c);
	return pstrdup(copy);
}

/*
 * Whether host matches one pattern of marketo_fdw.allowed_hosts: "*", a
 * "*.suffix" wildcard (at least one label before the suffix), or a name.
 * Case-insensitive; a trailing dot (the DNS root) is ignored on both.
 */
static bool
host_matches(const char *host, const char *pattern)
{
	size_t		hlen = strlen(host);
	size_t		plen = strlen(pattern);

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (plen > 0 && pattern[plen - 1] == '.')
		plen--;
	if (plen == 1 && pattern[0] == '*')
		return true;
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.')
		return hlen > plen - 1 &&
			pg_strncasecmp(host + hlen - (plen - 1), pattern + 1, plen - 1) == 0;
	return hlen == plen && pg_strncasecmp(host, pattern, plen) == 0;
}

bool
mkto_host_allowed(const char *host)
{
	char	   *raw = pstrdup(allowed_hosts ? allowed_hosts : "");
	List	   *patterns;
	ListCell   *lc;
	bool		allowed = false;

	/* the check hook has accepted the list */
	(void) SplitGUCList(raw, ',', &patterns);
	foreach(lc, patterns)
	{
		if (host_matches(host, (const char *) lfirst(lc)))
		{
			allowed = true;
			break;
		}
	}
	list_free(patterns);
	pfree(raw);
	return allowed;
}

/*
 * Whether host, as mkto_url_host() returns it, is an address a server of a
 * non-superuser may not connect to, or a name curl itself resolves to
 * loopback ("localhost", "*.localhost").  Only the spelling: other names
 * are checked at connect time, on the address they resolve to.
 */
bool
mkto_host_is_local(const char *host)
{
	size_t		len = strlen(host);
	char		ip[256];

	if (len > 0 && host[len - 1] == '.')
		len--;
	if ((len == 9 && pg_strncasecmp(host, "localhost", 9) == 0) ||
		(len > 10 && pg_strncasecmp(host + len - 10, ".localhost", 10) == 0))
		return true;
	if (host[0] == '[' && len >= 2 && host[len - 1] == ']' && len - 2 < sizeof(ip))
	{
		memcpy(ip, host + 1, len - 2);
		ip[len - 2] = '\0';
		/* a zone id ("%eth0") follows only link-local addresses */
		ip[strcspn(ip, "%")] = '\0';
		return !ip_text_is_public(ip);
	}
	if (len < sizeof(ip) && strspn(host, "0123456789.") == len)
	{
		memcpy(ip, host, len);
		ip[len] = '\0';
		return !ip_text_is_public(ip);
	}
	return false;
}

/* Collects the first failure of a run of curl_easy_setopt() calls. */
#define MKTO_SETOPT(h, opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt((h), (opt), (val)); \
		if (setopt_rc_ != CURLE_OK && setopt_rc == CURLE_OK) \
			setopt_rc = setopt_rc_; \
	} while (0)

/*
 * Sets *handle up for ex as every Marketo call is: the host checks of
 * restricted servers, TLS verification, the protocols, no redirects, the
 * timeouts, the headers and the address checks at connect time.  The
 * body goes to body_cb(body_arg) if given, else into the call's own buffer
 * (mkto_http_perform).  The call's resources hang on CurrentMemoryContext's
 * reset; mkto_http_end() releases them sooner.
 */
MktoHttpCall *
mkto_http_begin(void **handle, MktoHttpExchange *ex, MktoHttpWrite body_cb,
				void *body_arg)
{
	CURL	   *curl;
	MktoHttpCall *call;
	CURLcode	setopt_rc = CURLE_OK;
	bool		plain_http;

	ensure_curl_initialized();
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
	ex->requests_sent = 0;

	/*
	 * A server of a non-superuser reaches only the allowed hosts, checked
	 * on the host as curl parses it; the address it resolves to is checked
	 * when curl connects.
	 */
	if (ex->restricted)
	{
		bool		has_userinfo;
		char	   *host = mkto_url_host(ex->url, &has_userinfo);

		if (host == NULL || has_userinfo || !mkto_host_allowed(host))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("Marketo call %s refused: the host is not allowed", ex->label),
					 errdetail("The server's owner is not a superuser, and marketo_fdw.allowed_hosts (\"%s\") does not list the host of its URL.",
							   allowed_hosts ? allowed_hosts : ""),
					 errhint("A superuser can add the host to marketo_fdw.allowed_hosts.")));
		pfree(host);
	}

	/* Everything that can ereport comes before the options are set. */
	call = palloc0(sizeof(MktoHttpCall));
	call->restricted = ex->restricted;
	call->cb.func = http_call_release;
	call->cb.arg = call;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &call->cb);

	if (ex->accept != NULL)
	{
		char		accept[128];

		snprintf(accept, sizeof(accept), "Accept: %s", ex->accept);
		add_header(call, accept);
	}
	else
		add_header(call, "Accept: application/json");
	/* curl would otherwise wait for "100 Continue" before large bodies. */
	add_header(call, "Expect:");
	if (ex->post && ex->content_type != NULL)
	{
		char		ctype[128];

		snprintf(ctype, sizeof(ctype), "Content-Type: %s", ex->content_type);
		add_header(call, ctype);
	}
	if (ex->range_from > 0)
	{
		char		range[64];

		snprintf(range, sizeof(range), "Range: bytes=" INT64_FORMAT "-", ex->range_from);
		add_header(call, range);
	}
	if (ex->bearer_token != NULL)
		add_bearer_header(call, ex->bearer_token);

	/* plain http is for a superuser's loopback emulator, see option.c */
	plain_http = !ex->restricted && pg_strncasecmp(ex->url, "http://", 7) == 0;

	/*
	 * The handle is reused so that curl keeps the connection alive; a reset
	 * clears what the previous call set but keeps its connection cache.
	 */
	curl_easy_reset(curl);
	MKTO_SETOPT(curl, CURLOPT_ERRORBUFFER, call->errbuf);
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
	/* Unset, curl keeps its built-in trust store; NULL would remove it. */
	if (ex->ca_file != NULL)
		MKTO_SETOPT(curl, CURLOPT_CAINFO, ex->ca_file);
	MKTO_SETOPT(curl, CURLOPT_HTTPHEADER, call->headers);
	MKTO_SETOPT(curl, CURLOPT_USERAGENT, "marketo_fdw/1.0");
	/* byte ranges count the file's own bytes: no content coding then */
	if (!ex->byte_ranges)
		MKTO_SETOPT(curl, CURLOPT_ACCEPT_ENCODING, "");
	/* a negative timeout: none, the caller watches for stalls itself */
	MKTO_SETOPT(curl, CURLOPT_TIMEOUT_MS,
				ex->timeout_ms > 0 ? ex->timeout_ms
				: ex->timeout_ms < 0 ? 0L : (long) MKTO_TIMEOUT_DEFAULT_MS);
	MKTO_SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS,
				ex->connect_timeout_ms > 0 ? ex->connect_timeout_ms : MKTO_DEFAULT_CONNECT_TIMEOUT_MS);
	MKTO_SETOPT(curl, CURLOPT_WRITEFUNCTION, body_cb ? body_cb : write_cb);
	MKTO_SETOPT(curl, CURLOPT_WRITEDATA, body_cb ? body_arg : (void *) call);
	MKTO_SETOPT(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	MKTO_SETOPT(curl, CURLOPT_XFERINFODATA, (void *) NULL);
	MKTO_SETOPT(curl, CURLOPT_NOPROGRESS, 0L);
	MKTO_SETOPT(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	MKTO_SETOPT(curl, CURLOPT_OPENSOCKETDATA, (void *) call);
	MKTO_SETOPT(curl, CURLOPT_PREREQFUNCTION, prereq_cb);
	MKTO_SETOPT(curl, CURLOPT_PREREQDATA, (void *) call);
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
	return call;
}

/*
 * After the transfer on handle ended with curl_rc (a CURLcode): fills ex's
 * outcome, status, error and, for a buffered body, response; counts the
 * call and releases it.  Raises the pending cancel, if any.  handle must
 * not be in a multi handle any more.
 */
void
mkto_http_end(void *handle, MktoHttpCall *call, MktoHttpExchange *ex, int curl_rc)
{
	CURL	   *curl = (CURL *) handle;
	CURLcode	rc = (CURLcode) curl_rc;
	long		status = 0;

	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

	/* Nothing may keep pointing at errbuf, the headers or the body. */
	curl_easy_reset(curl);

	ex->requests_sent = call->requests_sent;
	ex->http_status = status;
	ex->outcome = classify(rc, call);
	if (rc != CURLE_OK && ex->restricted &&
		(call->refused ||
		 (call->requests_sent == 0 && rc != CURLE_ABORTED_BY_CALLBACK)))
	{
		/*
		 * Nothing was sent: one message for every cause, see
		 * MKTO_RESTRICTED_CONNECT_ERROR.  The superuser finds the cause in
		 * the server log.
		 */
		ereport(LOG_SERVER_ONLY,
				(errmsg_internal("marketo_fdw: %s for a server of a non-superuser: %s",
								 ex->label,
								 call->refused ? "address not allowed"
								 : call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc))));
		ex->outcome = MKTO_HTTP_CONNECT_FAILED;
		strlcpy(ex->error, MKTO_RESTRICTED_CONNECT_ERROR, sizeof(ex->error));
		rc = CURLE_COULDNT_CONNECT;
	}
	else if (rc != CURLE_OK)
	{
		if (call->out_of_memory)
			strlcpy(ex->error, "out of memory while receiving the response",
					sizeof(ex->error));
		else if (call->too_large)
			snprintf(ex->error, sizeof(ex->error),
					 "the response exceeded marketo_fdw.max_response_size (%d kB)",
					 max_response_kb);
		else
			strlcpy(ex->error, call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc),
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

	if (ex->requests_sent > 1)
		ereport(DEBUG1,
				(errmsg_internal("marketo_fdw: %s: libcurl sent the request %d times (a kept-alive connection closed unanswered)",
								 ex->label, ex->requests_sent)));

	CHECK_FOR_INTERRUPTS();

	/* Interrupts may be held off; the call was abandoned all the same. */
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("canceling Marketo call %s", ex->label),
				 errdetail("A cancel or termination request arrived during the call.")));
}

/* Frees what call holds now (idempotent); the handle must not use it again. */
void
mkto_http_release(MktoHttpCall *call)
{
	http_call_release(call);
}

/* Times the request of call has gone out so far. */
int
mkto_http_requests_sent(const MktoHttpCall *call)
{
	return call->requests_sent;
}

void
mkto_http_perform(void **handle, MktoHttpExchange *ex)
{
	MktoHttpCall *call = mkto_http_begin(handle, ex, NULL, NULL);
	CURLcode	rc = curl_easy_perform((CURL *) *handle);

	mkto_http_end(*handle, call, ex, (int) rc);
}

/*
 * GUC check hook: a list of "*", "*.suffix" or names without '*' (no port;
 * a colon only in a bracketed IPv6 address).
 */
static bool
check_allowed_hosts(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *patterns;
	ListCell   *lc;
	bool		ok = SplitGUCList(raw, ',', &patterns);

	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	foreach(lc, patterns)
	{
		const char *p = (const char *) lfirst(lc);
		const char *star = strchr(p, '*');

		if (p[0] == '\0' || strpbrk(p, " /@?#") != NULL ||
			(strchr(p, ':') != NULL && p[0] != '[') ||
			(star != NULL && !(strcmp(p, "*") == 0 ||
							   (star == p && p[1] == '.' && p[2] != '\0' &&
								strchr(p + 1, '*') == NULL))))
		{
			GUC_check_errdetail("\"%s\" is not a host name, a \"*.\" wildcard or \"*\".", p);
			ok = false;
			break;
		}
	}
	list_free(patterns);
	pfree(raw);
	return ok;
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
	DefineCustomStringVariable("marketo_fdw.allowed_hosts",
							   "Hosts that Marketo servers owned by non-superusers may reach.",
							   "Comma-separated host names; \"*.example.com\" matches its subdomains, \"*\" any host. "
							   "Loopback and link-local addresses stay refused.",
							   &allowed_hosts, MKTO_DEFAULT_ALLOWED_HOSTS,
							   PGC_SUSET, GUC_LIST_INPUT,
							   check_allowed_hosts, NULL, NULL);
}
