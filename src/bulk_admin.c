/*-------------------------------------------------------------------------
 *
 * bulk_admin.c
 *		  SQL functions for the instance's bulk export jobs: list them (with
 *		  which today's quota use is computed in SQL) and cancel one.
 *
 * Marketo's bulk API lives below base_url ("/bulk/v1/..."), not below
 * "/rest".  Jobs are visible only to the API user that created them, so the
 * listing shows the user mapping's jobs.  As in actions.c, each function
 * takes the foreign server's name and checks USAGE on it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "catalog/pg_foreign_server.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "marketo_fdw.h"

/* Marketo's listing pages hold at most this many jobs. */
#define MKTO_BULK_LIST_BATCH	"300"

PG_FUNCTION_INFO_V1(marketo_bulk_jobs_raw);
PG_FUNCTION_INFO_V1(marketo_bulk_cancel);

typedef struct BulkObject
{
	const char *name;			/* as the SQL functions take and show it */
	const char *export_path;	/* below base_url */
} BulkObject;

static const BulkObject bulk_objects[] = {
	{"leads", "/bulk/v1/leads/export"},
	{"program members", "/bulk/v1/program/members/export"},
	{"activities", "/bulk/v1/activities/export"},
};

static const BulkObject *
bulk_object(const char *name)
{
	for (int i = 0; i < lengthof(bulk_objects); i++)
		if (strcmp(bulk_objects[i].name, name) == 0)
			return &bulk_objects[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown bulk export object \"%s\"", name),
			 errhint("Use \"leads\", \"program members\" or \"activities\".")));
	return NULL;				/* keep compiler quiet */
}

/*
 * An export id goes into the URL's path: Marketo's are UUIDs, so anything
 * but letters, digits and '-' is refused rather than escaped.
 */
static void
check_export_id(const char *export_id)
{
	if (export_id[0] == '\0' ||
		strspn(export_id, "0123456789abcdefABCDEF-") != strlen(export_id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid export id \"%s\"", export_id),
				 errdetail("Marketo's export ids are UUIDs.")));
}

/* Adds one listing's jobs, every page of it, to jobs, each with "object". */
static void
append_jobs(MktoClient *client, const BulkObject *obj, json_object *jobs)
{
	char	   *path = psprintf("%s.json", obj->export_path);
	char	   *token = NULL;

	for (;;)
	{
		MktoRequest req = {0};
		MktoResponse *resp;
		StringInfoData query;

		initStringInfo(&query);
		mkto_append_query_param(&query, "batchSize", MKTO_BULK_LIST_BATCH);
		if (token)
			mkto_append_query_param(&query, "nextPageToken", token);
		req.method = MKTO_GET;
		req.path = path;
		req.below_base_url = true;
		req.query = query.data;
		req.timeout_ms = MKTO_TIMEOUT_DEFAULT_MS;
		req.idempotent = true;
		resp = mkto_call(client, &req);

		if (resp->result && json_object_is_type(resp->result, json_type_array))
		{
			size_t		n = json_object_array_length(resp->result);

			for (size_t i = 0; i < n; i++)
			{
				json_object *job = json_object_array_get_idx(resp->result, i);

				if (!json_object_is_type(job, json_type_object))
					continue;
				json_object_object_add(job, "object", json_object_new_string(obj->name));
				json_object_array_add(jobs, json_object_get(job));
			}
		}
		if (!resp->more_result || resp->next_page_token == NULL)
			break;
		token = resp->next_page_token;
	}
}

/*
 * marketo_bulk_jobs_raw(server): the user mapping's lead, program member
 * and activity export jobs, as Marketo's job listings give them, each with
 * "object".
 */
Datum
marketo_bulk_jobs_raw(PG_FUNCTION_ARGS)
{
	MktoClient *client = mkto_connect_server_by_name(PG_GETARG_TEXT_PP(0));
	json_object *jobs = mkto_track_json(json_object_new_array());
	const char *text;

	for (int i = 0; i < lengthof(bulk_objects); i++)
		append_jobs(client, &bulk_objects[i], jobs);

	text = json_object_to_json_string_ext(jobs, JSON_C_TO_STRING_PLAIN);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in,
										CStringGetDatum(pg_any_to_server(text, strlen(text),
																		 PG_UTF8))));
}

/*
 * marketo_bulk_cancel(server, export_id, object): cancels the job
 * (POST .../{exportId}/cancel.json) and returns the status Marketo gives it.
 */
Datum
marketo_bulk_cancel(PG_FUNCTION_ARGS)
{
	MktoClient *client = mkto_connect_server_by_name(PG_GETARG_TEXT_PP(0));
	char	   *export_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	const BulkObject *obj = bulk_object(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	MktoRequest req = {0};
	MktoResponse *resp;
	json_object *job;
	json_object *status;

	check_export_id(export_id);
	req.method = MKTO_POST;
	req.path = psprintf("%s/%s/cancel.json", obj->export_path, export_id);
	req.below_base_url = true;
	req.timeout_ms = MKTO_TIMEOUT_DEFAULT_MS;
	/* Cancelling a cancelled job changes nothing: safe to repeat. */
	req.idempotent = true;
	resp = mkto_call(client, &req);

	job = resp->result && json_object_is_type(resp->result, json_type_array) &&
		json_object_array_length(resp->result) > 0
		? json_object_array_get_idx(resp->result, 0) : NULL;
	if (job == NULL || !json_object_object_get_ex(job, "status", &status) ||
		!json_object_is_type(status, json_type_string))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo's answer to cancelling export job %s holds no status",
						export_id)));
	PG_RETURN_TEXT_P(cstring_to_text(json_object_get_string(status)));
}
