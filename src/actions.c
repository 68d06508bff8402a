/*-------------------------------------------------------------------------
 *
 * actions.c
 *		  SQL functions that call Marketo outside a table: the lead actions
 *		  that are not CRUD (merge, associate web activity, push leads,
 *		  submit form), and the instance's API usage.
 *
 * Each takes the foreign server's name, checks USAGE on it, and makes one
 * call with the user mapping's credentials.  Per-record answers come back
 * as Marketo's "result" array in jsonb; the SQL wrappers in the extension
 * script turn them into rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "marketo_fdw.h"

/* Timeouts from the Leads reference. */
#define MKTO_TIMEOUT_MERGE_MS		180000
#define MKTO_TIMEOUT_ASSOCIATE_MS	60000
#define MKTO_TIMEOUT_PUSH_MS		90000

PG_FUNCTION_INFO_V1(marketo_merge_leads);
PG_FUNCTION_INFO_V1(marketo_associate_lead);
PG_FUNCTION_INFO_V1(marketo_push_leads_raw);
PG_FUNCTION_INFO_V1(marketo_submit_form_raw);
PG_FUNCTION_INFO_V1(marketo_api_usage_raw);


static MktoResponse *
post(MktoClient *client, const char *path, const char *query,
	 json_object *body, long timeout_ms)
{
	MktoRequest req = {0};

	req.method = MKTO_POST;
	req.path = path;
	req.query = query;
	req.json_body = body
		? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
	req.timeout_ms = timeout_ms;
	/* Each of these changes Marketo; a repeat could act twice. */
	req.idempotent = false;
	return mkto_call(client, &req);
}

/*
 * A jsonb argument as json-c, in UTF-8, its numbers exact; freed with the
 * current context.
 */
static json_object *
jsonb_arg(Datum value, const char *argname, json_type expected)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(jsonb_out, value));
	char	   *utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);
	json_object *obj = mkto_json_parse(utf8, strlen(utf8));

	if (obj == NULL || !json_object_is_type(obj, expected))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be a JSON %s", argname,
						expected == json_type_array ? "array" : "object")));
	return json_object_get(obj);
}

/* Marketo's result array as jsonb ([] when there is none). */
static Datum
result_as_jsonb(MktoResponse *resp)
{
	const char *text = resp->result
		? json_object_to_json_string_ext(resp->result, JSON_C_TO_STRING_PLAIN) : "[]";
	char	   *server_text = pg_any_to_server(text, strlen(text), PG_UTF8);

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(server_text));
}

static void
add_string(json_object *body, const char *name, FunctionCallInfo fcinfo, int arg)
{
	if (!PG_ARGISNULL(arg))
	{
		char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(arg));

		json_object_object_add(body, name,
							   json_object_new_string(pg_server_to_any(value, strlen(value), PG_UTF8)));
	}
}

/*
 * The client of server_name for a lead action, which is sent at once:
 * the writes the transaction buffered go first, so that it sees them.
 */
static MktoClient *
action_client(text *server_name)
{
	mkto_flush_writes(InvalidOid);
	return mkto_connect_server_by_name(server_name);
}

/*
 * marketo_merge_leads(server, winner_id, loser_ids, merge_in_crm)
 */
Datum
marketo_merge_leads(PG_FUNCTION_ARGS)
{
	MktoClient *client = action_client(PG_GETARG_TEXT_PP(0));
	int32		winner = PG_GETARG_INT32(1);
	ArrayType  *losers = PG_GETARG_ARRAYTYPE_P(2);
	bool		merge_in_crm = PG_GETARG_BOOL(3);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	StringInfoData ids;
	StringInfoData query;

	deconstruct_array(losers, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	initStringInfo(&ids);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		if (DatumGetInt32(elems[i]) == winner)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("lead %d cannot be merged into itself", winner)));
		appendStringInfo(&ids, "%s%d", ids.len > 0 ? "," : "", DatumGetInt32(elems[i]));
	}
	if (ids.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("loser_ids must name at least one lead")));

	initStringInfo(&query);
	mkto_append_query_param(&query, "leadIds", ids.data);
	if (merge_in_crm)
		mkto_append_query_param(&query, "mergeInCRM", "true");
	post(client, psprintf("/v1/leads/%d/merge.json", winner), query.data, NULL,
		 MKTO_TIMEOUT_MERGE_MS);
	PG_RETURN_VOID();
}

/*
 * marketo_associate_lead(server, lead_id, cookie)
 */
Datum
marketo_associate_lead(PG_FUNCTION_ARGS)
{
	MktoClient *client = action_client(PG_GETARG_TEXT_PP(0));
	int32		lead_id = PG_GETARG_INT32(1);
	char	   *cookie = text_to_cstring(PG_GETARG_TEXT_PP(2));
	StringInfoData query;

	initStringInfo(&query);
	mkto_append_query_param(&query, "cookie", cookie);
	post(client, psprintf("/v1/leads/%d/associate.json", lead_id), query.data, NULL,
		 MKTO_TIMEOUT_ASSOCIATE_MS);
	PG_RETURN_VOID();
}

/*
 * marketo_push_leads_raw(server, program_name, leads, lookup_field, source,
 * reason): Marketo's per-record results.
 */
Datum
marketo_push_leads_raw(PG_FUNCTION_ARGS)
{
	MktoClient *client;
	json_object *body;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server, program_name and leads must not be NULL")));
	client = action_client(PG_GETARG_TEXT_PP(0));
	body = mkto_track_json(json_object_new_object());
	add_string(body, "programName", fcinfo, 1);
	add_string(body, "lookupField", fcinfo, 3);
	add_string(body, "source", fcinfo, 4);
	add_string(body, "reason", fcinfo, 5);
	json_object_object_add(body, "input",
						   jsonb_arg(PG_GETARG_DATUM(2), "leads", json_type_array));

	PG_RETURN_DATUM(result_as_jsonb(post(client, "/v1/leads/push.json", NULL, body,
										 MKTO_TIMEOUT_PUSH_MS)));
}

/*
 * marketo_submit_form_raw(server, form_id, fields, program_id, visitor_data,
 * cookie): Marketo's result for the one submitted record.
 */
Datum
marketo_submit_form_raw(PG_FUNCTION_ARGS)
{
	MktoClient *client;
	json_object *body;
	json_object *record;
	json_object *input;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server, form_id and fields must not be NULL")));
	client = action_client(PG_GETARG_TEXT_PP(0));
	body = mkto_track_json(json_object_new_object());
	input = json_object_new_array();
	record = json_object_new_object();
	json_object_object_add(body, "input", input);
	json_object_array_add(input, record);

	json_object_object_add(body, "formId", json_object_new_int(PG_GETARG_INT32(1)));
	if (!PG_ARGISNULL(3))
		json_object_object_add(body, "programId", json_object_new_int(PG_GETARG_INT32(3)));
	json_object_object_add(record, "leadFormFields",
						   jsonb_arg(PG_GETARG_DATUM(2), "fields", json_type_object));
	if (!PG_ARGISNULL(4))
		json_object_object_add(record, "visitorData",
							   jsonb_arg(PG_GETARG_DATUM(4), "visitor_data", json_type_object));
	add_string(record, "cookie", fcinfo, 5);

	/* Not in the reference's timeout list, so the 30 s default. */
	PG_RETURN_DATUM(result_as_jsonb(post(client, "/v1/leads/submitForm.json", NULL, body,
										 MKTO_TIMEOUT_DEFAULT_MS)));
}

/*
 * marketo_api_usage_raw(server): Marketo's own count of today's calls per
 * API user (GET stats/usage.json), as its "result" array.
 */
Datum
marketo_api_usage_raw(PG_FUNCTION_ARGS)
{
	MktoClient *client;
	MktoRequest req = {0};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server must not be NULL")));
	client = action_client(PG_GETARG_TEXT_PP(0));
	req.method = MKTO_GET;
	req.path = "/v1/stats/usage.json";
	req.timeout_ms = MKTO_TIMEOUT_DEFAULT_MS;
	req.idempotent = true;
	PG_RETURN_DATUM(result_as_jsonb(mkto_call(client, &req)));
}
