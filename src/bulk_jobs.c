/*-------------------------------------------------------------------------
 *
 * bulk_jobs.c
 *		  The export jobs this backend has running at Marketo (bulk_jobs.h).
 *
 * Marketo runs only 2 export jobs at once per instance, so a job nobody
 * reads blocks every other export until it ends.  Each job is therefore
 * remembered twice: in a list in this backend, which an aborting
 * (sub)transaction cancels (an error, cancel, statement_timeout,
 * pg_terminate_backend), and in a file under the data directory, which
 * survives a backend that is killed outright.  Marketo's job listing says
 * nothing of who made a job, and the API user may serve other integrations
 * too, so only jobs recorded here are ever cancelled.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/procarray.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bulk_jobs.h"

/* Below the data directory: one file per running job, named by its id. */
#define JOBS_DIR	"pg_marketo_fdw"

typedef struct RunningJob
{
	MktoClient *client;			/* clients live as long as the backend */
	char	   *export_path;
	char		export_id[MKTO_EXPORT_ID_LEN];
	SubTransactionId subid;		/* the subtransaction that created it */
} RunningJob;

static List *running_jobs = NIL;	/* RunningJob *, in TopMemoryContext */
static bool callbacks_registered = false;

static void
job_file_path(char *path, size_t len, const char *export_id)
{
	snprintf(path, len, "%s/%s", JOBS_DIR, export_id);
}

/* "serverid userid pid postmaster-start export_path" */
static void
write_job_file(Oid serverid, Oid userid, const MktoBulkJob *job)
{
	char		path[MAXPGPATH];
	FILE	   *file;

	if (MakePGDirectory(JOBS_DIR) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", JOBS_DIR)));
	job_file_path(path, sizeof(path), job->export_id);
	file = AllocateFile(path, PG_BINARY_W);
	if (file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", path)));
	fprintf(file, "%u %u %d " INT64_FORMAT " %s\n", serverid, userid, MyProcPid,
			(int64) PgStartTime, job->export_path);
	if (FreeFile(file) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", path)));
}

static void
remove_job_file(const char *export_id)
{
	char		path[MAXPGPATH];

	job_file_path(path, sizeof(path), export_id);
	if (unlink(path) < 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", path)));
}

static void
forget_at(ListCell *cell)
{
	RunningJob *rj = lfirst(cell);

	remove_job_file(rj->export_id);
	running_jobs = list_delete_ptr(running_jobs, rj);
	pfree(rj->export_path);
	pfree(rj);
}

/* Cancels the jobs created in subtransaction subid or later ones. */
static void
cancel_jobs_since(SubTransactionId subid)
{
	bool		found;

	do
	{
		ListCell   *lc;

		found = false;
		foreach(lc, running_jobs)
		{
			RunningJob *rj = lfirst(lc);

			if (rj->subid >= subid)
			{
				(void) mkto_bulk_cancel_quietly(rj->client, rj->export_path, rj->export_id);
				forget_at(lc);
				found = true;
				break;			/* the list changed */
			}
		}
	} while (found);
}

static void
bulk_xact_callback(XactEvent event, void *arg)
{
	/* At commit every scan has ended, and cancelled what it left. */
	if (running_jobs != NIL &&
		(event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		 event == XACT_EVENT_PRE_COMMIT))
		cancel_jobs_since(InvalidSubTransactionId);
}

static void
bulk_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && running_jobs != NIL)
		cancel_jobs_since(mySubid);
}

void
mkto_bulk_jobs_remember(MktoClient *client, Oid serverid, Oid userid,
						const MktoBulkJob *job)
{
	MemoryContext oldcxt;
	RunningJob *rj;

	if (!callbacks_registered)
	{
		RegisterXactCallback(bulk_xact_callback, NULL);
		RegisterSubXactCallback(bulk_subxact_callback, NULL);
		callbacks_registered = true;
	}
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	rj = palloc0(sizeof(RunningJob));
	rj->client = client;
	rj->export_path = pstrdup(job->export_path);
	strlcpy(rj->export_id, job->export_id, sizeof(rj->export_id));
	rj->subid = GetCurrentSubTransactionId();
	running_jobs = lappend(running_jobs, rj);
	MemoryContextSwitchTo(oldcxt);
	write_job_file(serverid, userid, job);
}

void
mkto_bulk_jobs_forget(const MktoBulkJob *job)
{
	ListCell   *lc;

	foreach(lc, running_jobs)
	{
		RunningJob *rj = lfirst(lc);

		if (strcmp(rj->export_id, job->export_id) == 0)
		{
			forget_at(lc);
			return;
		}
	}
}

void
mkto_bulk_jobs_cancel(MktoClient *client, const MktoBulkJob *job)
{
	(void) mkto_bulk_cancel_quietly(client, job->export_path, job->export_id);
	mkto_bulk_jobs_forget(job);
}

/* Is the backend that wrote a job file gone? */
static bool
owner_is_gone(int pid, int64 started)
{
	if (started != (int64) PgStartTime)
		return true;			/* the server restarted since */
	if (pid == MyProcPid)
		return false;
	return BackendPidGetProc(pid) == NULL;
}

int
mkto_bulk_jobs_sweep(MktoClient *client, Oid serverid, Oid userid)
{
	DIR		   *dir;
	struct dirent *de;
	int			cancelled = 0;
	List	   *orphans = NIL;
	ListCell   *lc;

	dir = AllocateDir(JOBS_DIR);
	if (dir == NULL)
		return 0;				/* no job was ever recorded */
	while ((de = ReadDirExtended(dir, JOBS_DIR, LOG)) != NULL)
	{
		char		path[MAXPGPATH];
		char		export_path[256];
		FILE	   *file;
		unsigned int file_server,
					file_user;
		int			pid;
		int64		started;
		int			n;

		if (de->d_name[0] == '.' ||
			strspn(de->d_name, "0123456789abcdefABCDEF-") != strlen(de->d_name))
			continue;
		job_file_path(path, sizeof(path), de->d_name);
		file = AllocateFile(path, PG_BINARY_R);
		if (file == NULL)
			continue;
		n = fscanf(file, "%u %u %d " INT64_FORMAT " %255s", &file_server, &file_user,
				   &pid, &started, export_path);
		FreeFile(file);
		if (n != 5 || file_server != serverid || file_user != userid ||
			!owner_is_gone(pid, started))
			continue;
		orphans = lappend(orphans, list_make2(pstrdup(de->d_name), pstrdup(export_path)));
	}
	FreeDir(dir);

	foreach(lc, orphans)
	{
		char	   *export_id = linitial(lfirst(lc));
		char	   *export_path = lsecond(lfirst(lc));

		if (mkto_bulk_cancel_quietly(client, export_path, export_id))
		{
			ereport(NOTICE,
					(errmsg("cancelled Marketo export job %s, left running by a backend that ended without cleaning up",
							export_id)));
			remove_job_file(export_id);
			cancelled++;
		}
	}
	return cancelled;
}
