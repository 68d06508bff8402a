/*-------------------------------------------------------------------------
 *
 * bulk_jobs.h
 *		  The export jobs this backend has running at Marketo, so that none
 *		  is left behind: an aborted (sub)transaction cancels its jobs, and
 *		  jobs of a backend that died without cleaning up are cancelled by
 *		  the next bulk read through the same server and user.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BULK_JOBS_H
#define BULK_JOBS_H

#include "mkto_bulk.h"

/* A job this backend created; cancelled on abort until forgotten. */
extern void mkto_bulk_jobs_remember(MktoClient *client, Oid serverid, Oid userid,
									const MktoBulkJob *job);
/* The job ended (downloaded, failed) or was cancelled: forget it. */
extern void mkto_bulk_jobs_forget(const MktoBulkJob *job);
/* Cancels the job at Marketo, quietly, and forgets it. */
extern void mkto_bulk_jobs_cancel(MktoClient *client, const MktoBulkJob *job);
/*
 * Cancels the jobs that backends now gone left running for this server and
 * user (killed, or the server crashed); returns how many.
 */
extern int	mkto_bulk_jobs_sweep(MktoClient *client, Oid serverid, Oid userid);

#endif							/* BULK_JOBS_H */
