/*-------------------------------------------------------------------------
 *
 * mkto_stream.h
 *		  A Marketo response body read as it downloads: the file of a bulk
 *		  export job.
 *
 * One GET, authorized and counted like every call (limiter, call budget,
 * the backend's count, marketo_call_stats()), whose body the caller pulls
 * piece by piece; the transfer is paused while the caller is busy, so
 * neither memory nor disk ever holds the whole file.  A transfer that is
 * cut short resumes with "Range: bytes=<bytes read>-", and at the end the
 * size and the SHA-256 (PostgreSQL's cryptohash) are checked.
 *
 * Memory: the stream and its 1 MB buffer live in CurrentMemoryContext at
 * open, which must outlive the reads; its curl handles, header lists, the
 * limiter's slot and the hash context are freed by a reset callback on
 * that context (on a child of it), so an ereport anywhere leaks nothing.
 * Reads may be called in any memory context.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MKTO_STREAM_H
#define MKTO_STREAM_H

#include "mkto_client.h"

typedef struct MktoStream MktoStream;

/*
 * Opens a GET of path, below base_url (e.g.
 * "/bulk/v1/leads/export/<id>/file.json").  expected_size is the byte count
 * the job's status gave (fileSize), or -1; sha256_hex its checksum (64 hex
 * digits, any case), or NULL.  No call is made until the first read.
 */
extern MktoStream *mkto_stream_open(MktoClient *client, const char *path,
									int64 expected_size, const char *sha256_hex);

/*
 * Copies up to maxlen bytes of the body into buf and returns how many; 0
 * only at the end, once the size and checksum are verified.  Marketo's
 * errors (a JSON envelope such as 1003 or 1029, a plaintext 404 for a file
 * that is not ready or gone) raise the client's usual errors; after an
 * error the stream can only be closed.  Raises ERROR
 * (ERRCODE_FDW_*) when the download fails beyond its resumes, or the size
 * or checksum do not match.  Cancel and statement_timeout interrupt it
 * within about a second.
 */
extern size_t mkto_stream_read(MktoStream *stream, char *buf, size_t maxlen);

/*
 * The hex digest in a job status's fileChecksum: "sha256:<hex>" or the
 * bare 64 hex digits (a pointer into fileChecksum), or NULL for anything
 * else.
 */
/*
 * Moves the download on without waiting, before the stream is read: starts
 * its first request if the limiter has room now, then takes what curl has
 * ready into the buffer (at most its 1 MB; the transfer pauses there).  So
 * a file's first bytes arrive while another file is read.
 */
extern void mkto_stream_prefetch(MktoStream *stream);

/*
 * While stream waits for its bytes, companion (or NULL: none) is moved on
 * as by mkto_stream_prefetch: two downloads under way at once.
 */
extern void mkto_stream_set_companion(MktoStream *stream, MktoStream *companion);

extern const char *mkto_stream_checksum_hex(const char *fileChecksum);

/* Bytes delivered so far, and HTTP requests made (1 + resumes + retries). */
extern int64 mkto_stream_bytes(const MktoStream *stream);
extern int	mkto_stream_requests(const MktoStream *stream);

/* Ends the transfer early, if still running, and frees it. */
extern void mkto_stream_close(MktoStream *stream);

#endif							/* MKTO_STREAM_H */
