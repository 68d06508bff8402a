/*-------------------------------------------------------------------------
 *
 * campaigns.c
 *		  SQL functions that run smart campaigns: request (trigger) a
 *		  campaign for leads, and schedule a batch campaign.
 *
 * Both take the foreign server's name and go through the client as every
 * call does (limiter, retries, budget).  Each call starts a campaign run,
 * so none is repeated once Marketo may have received it: the client does
 * not retry a call marked not idempotent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "marketo_fdw.h"
#include "read_source.h"

/* Request Campaign takes at most 100 leads a call, and 100 tokens. */
#define MKTO_MAX_TRIGGER_LEADS	100
#define MKTO_MAX_CAMPAIGN_TOKENS	100

#define TRIGGER_HINT \
	"Only an active trigger campaign with a \"Campaign is Requested\" trigger " \
	"whose source is Web Service API can be requested; smart_campaigns shows " \
	"each campaign's type and whether it is active."
#define SCHEDULE_HINT \
	"Only a batch campaign can be scheduled, at most two years ahead; " \
	"smart_campaigns shows each campaign's type."

PG_FUNCTION_INFO_V1(marketo_trigger_campaign);
PG_FUNCTION_INFO_V1(marketo_schedule_campaign);

/* Where a trigger's batches are, for the error of one that fails. */
typedef struct TriggerProgress
{
	int32		campaign_id;
	int			batch;			/* from 1 */
	int			batches;
	int			leads_sent;		/* in the batches Marketo accepted */
} TriggerProgress;

static void
trigger_error_context(void *arg)
{
	TriggerProgress *p = arg;

	errcontext("batch %d of %d of the leads requested for campaign %d; "
			   "Marketo accepted %d lead%s in the batches before it",
			   p->batch, p->batches, p->campaign_id, p->leads_sent,
			   p->leads_sent == 1 ? "" : "s");
}

static void
require_argument(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be NULL", name)));
}

static void
invalid_tokens(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("argument \"tokens\" must be a JSON object of token names and values, "
					"or an array of {\"name\", \"value\"} objects"),
			 errdetail("%s", detail),
			 errhint("Token names are written as Marketo shows them: {\"{{my.token}}\": \"value\"}.")));
}

/* A token's value as the string Marketo takes. */
static json_object *
token_value(json_object *value)
{
	if (value == NULL || json_object_is_type(value, json_type_null))
		invalid_tokens("A token's value is null.");
	if (json_object_is_type(value, json_type_object) ||
		json_object_is_type(value, json_type_array))
		invalid_tokens("A token's value is an object or an array.");
	return json_object_new_string(json_object_get_string(value));
}

static json_object *
new_token(const char *name, json_object *value)
{
	json_object *token = json_object_new_object();

	json_object_object_add(token, "name", json_object_new_string(name));
	json_object_object_add(token, "value", token_value(value));
	return token;
}

/*
 * The tokens argument as Marketo's [{"name", "value"}] array: given as that
 * array, or as an object of names and values.  Freed with the current
 * context.
 */
static json_object *
tokens_arg(Datum value)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(jsonb_out, value));
	char	   *utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);
	json_object *given = mkto_json_parse(utf8, strlen(utf8));
	json_object *tokens = mkto_track_json(json_object_new_array());

	if (given != NULL && json_object_is_type(given, json_type_object))
	{
		json_object_object_foreach(given, name, token)
			json_object_array_add(tokens, new_token(name, token));
	}
	else if (given != NULL && json_object_is_type(given, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(given); i++)
		{
			json_object *entry = json_object_array_get_idx(given, i);
			json_object *name = NULL;

			if (!json_object_is_type(entry, json_type_object) ||
				!json_object_object_get_ex(entry, "name", &name) ||
				!json_object_is_type(name, json_type_string))
				invalid_tokens(psprintf("Element %zu of the array has no \"name\" string.", i + 1));
			json_object_array_add(tokens,
								  new_token(json_object_get_string(name),
											json_object_object_get(entry, "value")));
		}
	}
	else
		invalid_tokens("It is a JSON scalar.");
	if (json_object_array_length(tokens) > MKTO_MAX_CAMPAIGN_TOKENS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Marketo takes at most %d tokens for a campaign run, %zu were given",
						MKTO_MAX_CAMPAIGN_TOKENS, json_object_array_length(tokens))));
	return tokens;
}

/* Sends one campaign call; each starts a run, so it is never repeated. */
static void
post_campaign(MktoClient *client, int32 campaign_id, const char *action,
			  json_object *input, const char *hint_code, const char *hint)
{
	json_object *body = mkto_track_json(json_object_new_object());
	MktoRequest req = {0};

	json_object_object_add(body, "input", json_object_get(input));
	req.method = MKTO_POST;
	req.path = psprintf("/v1/campaigns/%d/%s.json", campaign_id, action);
	req.json_body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	req.timeout_ms = MKTO_TIMEOUT_DEFAULT_MS;
	req.idempotent = false;
	req.hint_code = hint_code;
	req.hint = hint;
	mkto_call(client, &req);
}

/*
 * marketo_trigger_campaign(server, campaign_id, lead_ids, tokens): requests
 * the campaign for the leads, 100 a call, all with the same tokens; returns
 * the number of leads sent.
 */
Datum
marketo_trigger_campaign(PG_FUNCTION_ARGS)
{
	MktoClient *client;
	int32		campaign_id;
	ArrayType  *lead_ids;
	json_object *tokens = NULL;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	TriggerProgress progress = {0};
	ErrorContextCallback errcallback;
	MemoryContext batch_cxt;
	MemoryContext oldcxt;

	require_argument(fcinfo, 0, "server");
	require_argument(fcinfo, 1, "campaign_id");
	require_argument(fcinfo, 2, "lead_ids");
	campaign_id = PG_GETARG_INT32(1);
	lead_ids = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_NDIM(lead_ids) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("argument \"lead_ids\" must be a one-dimensional array")));
	deconstruct_array(lead_ids, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"lead_ids\" must not contain NULL")));
	if (!PG_ARGISNULL(3))
		tokens = tokens_arg(PG_GETARG_DATUM(3));
	client = mkto_connect_server_by_name(PG_GETARG_TEXT_PP(0));
	/* no leads, no run: Marketo would refuse an empty list */
	if (n == 0)
		PG_RETURN_INT32(0);

	/* each batch's body and answer, freed before the next */
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "marketo_trigger_campaign batch",
									  ALLOCSET_DEFAULT_SIZES);
	progress.campaign_id = campaign_id;
	progress.batches = (n + MKTO_MAX_TRIGGER_LEADS - 1) / MKTO_MAX_TRIGGER_LEADS;
	errcallback.callback = trigger_error_context;
	errcallback.arg = &progress;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (int first = 0; first < n; first += MKTO_MAX_TRIGGER_LEADS)
	{
		int			last = Min(first + MKTO_MAX_TRIGGER_LEADS, n);
		json_object *input;
		json_object *leads;

		MemoryContextReset(batch_cxt);
		oldcxt = MemoryContextSwitchTo(batch_cxt);
		input = mkto_track_json(json_object_new_object());
		leads = json_object_new_array();

		for (int i = first; i < last; i++)
		{
			json_object *lead = json_object_new_object();

			json_object_object_add(lead, "id", json_object_new_int(DatumGetInt32(elems[i])));
			json_object_array_add(leads, lead);
		}
		json_object_object_add(input, "leads", leads);
		if (tokens)
			json_object_object_add(input, "tokens", json_object_get(tokens));
		progress.batch++;
		post_campaign(client, campaign_id, "trigger", input, "1003", TRIGGER_HINT);
		MemoryContextSwitchTo(oldcxt);
		progress.leads_sent += last - first;
	}

	error_context_stack = errcallback.previous;
	MemoryContextDelete(batch_cxt);
	PG_RETURN_INT32(progress.leads_sent);
}

/*
 * marketo_schedule_campaign(server, campaign_id, run_at, tokens,
 * clone_to_program_name): schedules a batch campaign's run; without run_at
 * Marketo runs it in five minutes.
 */
Datum
marketo_schedule_campaign(PG_FUNCTION_ARGS)
{
	MktoClient *client;
	int32		campaign_id;
	json_object *input;

	require_argument(fcinfo, 0, "server");
	require_argument(fcinfo, 1, "campaign_id");
	campaign_id = PG_GETARG_INT32(1);
	input = mkto_track_json(json_object_new_object());
	if (!PG_ARGISNULL(2))
	{
		TimestampTz run_at = PG_GETARG_TIMESTAMPTZ(2);

		if (TIMESTAMP_NOT_FINITE(run_at))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("argument \"run_at\" must be a finite time")));
		/* Marketo's datetimes have whole seconds: not before the time asked */
		run_at = mkto_whole_second_up(run_at);
		json_object_object_add(input, "runAt",
							   json_object_new_string(mkto_datum_to_text(TIMESTAMPTZOID,
																		 TimestampTzGetDatum(run_at))));
	}
	if (!PG_ARGISNULL(3))
		json_object_object_add(input, "tokens", json_object_get(tokens_arg(PG_GETARG_DATUM(3))));
	if (!PG_ARGISNULL(4))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(4));

		json_object_object_add(input, "cloneToProgramName",
							   json_object_new_string(pg_server_to_any(name, strlen(name), PG_UTF8)));
	}
	client = mkto_connect_server_by_name(PG_GETARG_TEXT_PP(0));
	post_campaign(client, campaign_id, "schedule", input, "1003", SCHEDULE_HINT);
	PG_RETURN_VOID();
}
