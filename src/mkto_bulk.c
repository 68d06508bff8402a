/*-------------------------------------------------------------------------
 *
 * mkto_bulk.c
 *		  Marketo bulk export jobs, as calls (see mkto_bulk.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "utils/memutils.h"

#include "mkto_bulk.h"
#include "mkto_limiter.h"

/* Bulk calls are quick; the job's work happens between them. */
#define MKTO_BULK_CALL_TIMEOUT_MS	MKTO_TIMEOUT_DEFAULT_MS
/* A cancel during cleanup must not hold an aborting backend for long. */
#define MKTO_BULK_CANCEL_TIMEOUT_MS	5000
#define QUEUE_FULL_CODE				"1029"

static const char *
member_text(json_object *obj, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static int64
member_int(json_object *obj, const char *name)
{
	const char *text = member_text(obj, name);

	return text ? strtoll(text, NULL, 10) : -1;
}

/* The job record of a bulk answer: result[0]. */
static json_object *
job_record(MktoResponse *resp, const char *label)
{
	json_object *job = resp->result && json_object_array_length(resp->result) > 0
		? json_object_array_get_idx(resp->result, 0) : NULL;

	if (job == NULL || !json_object_is_type(job, json_type_object) ||
		member_text(job, "status") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: no export job in the answer to %s",
						label)));
	return job;
}

/*
 * Takes the job's state from a record.  The checksum is given as
 * "sha256:<hex>" (ASSUMPTION: the docs show only that it is SHA-256), or
 * as the bare digits.
 */
static void
take_record(MktoBulkJob *job, json_object *record, MemoryContext cxt)
{
	const char *status = member_text(record, "status");
	const char *checksum = member_text(record, "fileChecksum");
	const char *error_msg = member_text(record, "errorMsg");

	strlcpy(job->status, status, sizeof(job->status));
	job->records = member_int(record, "numberOfRecords");
	job->file_size = member_int(record, "fileSize");
	if (checksum)
	{
		const char *colon = strchr(checksum, ':');

		job->checksum = MemoryContextStrdup(cxt, colon ? colon + 1 : checksum);
	}
	if (error_msg)
		job->error_msg = MemoryContextStrdup(cxt, error_msg);
}

static MktoResponse *
bulk_call(MktoClient *client, MktoMethod method, const char *path,
		  const char *body, bool idempotent, const char *refusal_of)
{
	MktoRequest req = {0};

	req.method = method;
	req.path = path;
	req.below_base_url = true;
	req.json_body = body;
	req.timeout_ms = MKTO_BULK_CALL_TIMEOUT_MS;
	req.idempotent = idempotent;
	req.return_refusal = refusal_of != NULL;
	req.return_refusal_of = refusal_of;
	return mkto_call(client, &req);
}

MktoBulkJob *
mkto_bulk_create(MktoClient *client, const char *export_path, const char *body_json,
				 const char *refusal_of, bool *refused)
{
	MktoBulkJob *job = palloc0(sizeof(MktoBulkJob));
	char	   *path = psprintf("%s/create.json", export_path);
	MktoResponse *resp;
	json_object *record;
	const char *id;

	/* not repeated: a second create would leave a job nobody enqueues */
	resp = bulk_call(client, MKTO_POST, path, body_json, false, refusal_of);
	if (refused)
		*refused = resp->refusal_code != NULL;
	if (resp->refusal_code)
		return NULL;
	record = job_record(resp, path);
	id = member_text(record, "exportId");
	if (id == NULL || id[0] == '\0' || strlen(id) >= MKTO_EXPORT_ID_LEN ||
		strspn(id, "0123456789abcdefABCDEF-") != strlen(id))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: export job without a valid exportId"),
				 errdetail("Request: POST %s.", path)));
	job->export_path = export_path;
	strlcpy(job->export_id, id, sizeof(job->export_id));
	take_record(job, record, CurrentMemoryContext);
	return job;
}

bool
mkto_bulk_enqueue(MktoClient *client, MktoBulkJob *job)
{
	char	   *path = psprintf("%s/%s/enqueue.json", job->export_path, job->export_id);
	MktoResponse *resp;

	/* Enqueuing a queued job is refused, not repeated: safe to retry. */
	resp = bulk_call(client, MKTO_POST, path, NULL, true, QUEUE_FULL_CODE);
	if (resp->refusal_code)
	{
		/* 1029 means a full queue or a spent daily quota: only the words tell */
		if (resp->refusal_message &&
			pg_strncasecmp(resp->refusal_message, "Too many jobs", 13) == 0)
			return false;
		/* an earlier sending of this call enqueued it */
		if (resp->refusal_message &&
			pg_strncasecmp(resp->refusal_message, "Job already queued", 18) == 0)
		{
			strlcpy(job->status, "Queued", sizeof(job->status));
			return true;
		}
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo refused to enqueue export job %s: the bulk export quota is exhausted",
						job->export_id),
				 errdetail("Marketo error %s: %s.", resp->refusal_code,
						   resp->refusal_message ? resp->refusal_message : ""),
				 errhint("Marketo allows 500 MB of bulk exports a day. %s marketo_bulk_quota() shows today's use.",
						 mkto_quota_reset_hint())));
	}
	take_record(job, job_record(resp, path), CurrentMemoryContext);
	return true;
}

bool
mkto_bulk_refresh(MktoClient *client, MktoBulkJob *job)
{
	char	   *path = psprintf("%s/%s/status.json", job->export_path, job->export_id);
	char		before[sizeof(job->status)];
	MktoResponse *resp;

	strlcpy(before, job->status, sizeof(before));
	resp = bulk_call(client, MKTO_GET, path, NULL, true, NULL);
	take_record(job, job_record(resp, path), CurrentMemoryContext);
	return strcmp(before, job->status) != 0;
}

char *
mkto_bulk_file_path(const MktoBulkJob *job)
{
	return psprintf("%s/%s/file.json", job->export_path, job->export_id);
}

bool
mkto_bulk_job_ended(const MktoBulkJob *job)
{
	return strcmp(job->status, "Completed") == 0 ||
		strcmp(job->status, "Failed") == 0 ||
		strcmp(job->status, "Cancelled") == 0;
}

bool
mkto_bulk_cancel_quietly(MktoClient *client, const char *export_path,
						 const char *export_id)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "marketo_fdw bulk cancel",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	volatile bool ok = true;
	bool		was_exempt = mkto_limiter_exempt_from_budget(true);

	PG_TRY();
	{
		MktoRequest req = {0};

		req.method = MKTO_POST;
		req.path = psprintf("%s/%s/cancel.json", export_path, export_id);
		req.below_base_url = true;
		req.timeout_ms = MKTO_BULK_CANCEL_TIMEOUT_MS;
		req.idempotent = true;
		(void) mkto_call(client, &req);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not cancel Marketo export job %s", export_id),
				 errdetail("%s", edata->message),
				 errhint("It may hold one of Marketo's two export slots until it ends; marketo_bulk_cancel() cancels it.")));
		ok = false;
	}
	PG_END_TRY();
	mkto_limiter_exempt_from_budget(was_exempt);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return ok;
}
