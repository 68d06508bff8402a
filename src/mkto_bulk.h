/*-------------------------------------------------------------------------
 *
 * mkto_bulk.h
 *		  Marketo bulk export jobs, as calls: create, enqueue, status,
 *		  cancel.  Part of the client: it knows nothing of the planner.
 *
 * A job is Created, then Queued, Processing and Completed (or Failed or
 * Cancelled).  Marketo runs 2 jobs at once per instance and queues at most
 * 10; the status it reports refreshes at most once a minute.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MKTO_BULK_H
#define MKTO_BULK_H

#include "mkto_client.h"

/* Marketo's export ids are UUIDs. */
#define MKTO_EXPORT_ID_LEN		64

typedef struct MktoBulkJob
{
	const char *export_path;	/* below base_url: "/bulk/v1/leads/export" */
	char		export_id[MKTO_EXPORT_ID_LEN];
	char		status[16];		/* Created, Queued, Processing, ... */
	int64		records;		/* numberOfRecords, -1 until known */
	int64		file_size;		/* fileSize, -1 until known */
	char	   *checksum;		/* fileChecksum's hex digits, or NULL */
	char	   *error_msg;		/* a Failed job's reason, or NULL */
} MktoBulkJob;

/*
 * Creates a job (its filter and fields in body_json), in
 * CurrentMemoryContext.  With refusal_of, Marketo refusing it with that
 * code returns NULL and sets *refused instead of raising the error.
 */
extern MktoBulkJob *mkto_bulk_create(MktoClient *client, const char *export_path,
									 const char *body_json, const char *refusal_of,
									 bool *refused);

/*
 * Enqueues the job.  False, with nothing changed, when Marketo's queue is
 * full (1029 "Too many jobs in queue"); the daily export quota being spent
 * (1029 too) raises an error with the reset time in the hint.
 */
extern bool mkto_bulk_enqueue(MktoClient *client, MktoBulkJob *job);

/* Refreshes the job's status; true when it changed. */
extern bool mkto_bulk_refresh(MktoClient *client, MktoBulkJob *job);

/* The path of the job's file, for mkto_stream_open(). */
extern char *mkto_bulk_file_path(const MktoBulkJob *job);

/*
 * Cancels the job at Marketo.  Never raises an error: for cleanup after
 * one, it reports failure as a WARNING and returns false.
 */
extern bool mkto_bulk_cancel_quietly(MktoClient *client, const char *export_path,
									 const char *export_id);

/* The job is over: Completed, Failed or Cancelled. */
extern bool mkto_bulk_job_ended(const MktoBulkJob *job);

#endif							/* MKTO_BULK_H */
