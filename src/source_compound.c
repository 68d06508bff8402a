/*-------------------------------------------------------------------------
 *
 * source_compound.c
 *		  Read source by a compound dedupe key (opportunity roles): the
 *		  WHERE clause's key tuples as a JSON input with
 *		  filterType=dedupeFields, a GET with a body, which the client sends
 *		  as POST ?_method=GET.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "executor/executor.h"
#include "utils/hsearch.h"

#include "read_source.h"

/* Room for a compound key tuple as JSON text, for dropping repeats. */
#define MKTO_TUPLE_KEY_LEN		512

typedef struct CompoundState
{
	int			nfields;		/* the key's */
	int			ntuples;
	ExprState **tuple_states;	/* ntuples x nfields */
	MktoConverter *key_converters;	/* per key field */
	json_object *inputs;		/* this run's distinct tuples, as records */
	int			next_input;
	json_object *chunk_input;	/* the current chunk of them */
} CompoundState;

static List *
compound_tuples(MktoSourcePlanInput *in)
{
	return mkto_compound_tuples(in->root, in->baserel, in->opts, in->scan_clauses);
}

/* The compound key is exact; only the id is better. */
static bool
compound_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	List	   *tuples;
	ListCell   *lc;

	if (in->has_filter &&
		strcmp(in->filter.column->field, in->opts->object->id_field) == 0)
		return false;
	tuples = compound_tuples(in);
	if (tuples == NIL)
		return false;
	foreach(lc, tuples)
		out->exprs = list_concat(out->exprs, (List *) lfirst(lc));
	out->private = list_make1(makeInteger(list_length(tuples)));
	out->calls = ceil((double) list_length(tuples) / MKTO_MAX_FILTER_VALUES);
	return true;
}

static int
compound_known_values(MktoSourcePlanInput *in)
{
	return list_length(compound_tuples(in));
}

static char *
compound_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	int			ntuples = intVal(linitial(private));

	return psprintf("filterType=dedupeFields (%s), %d key%s, sent as POST ?_method=GET",
					mkto_join_names(obj->dedupe_fields), ntuples,
					ntuples == 1 ? "" : "s");
}

static char *
compound_shown_request(const MktoSourceUse *use, const MktoObjectDesc *obj)
{
	return psprintf("POST /rest%s?_method=GET", use->path);
}

static void *
compound_begin(MktoScan *scan, List *private, List *exprs)
{
	const MktoObjectDesc *obj = scan->opts->object;
	CompoundState *cs = palloc0(sizeof(CompoundState));

	cs->ntuples = intVal(linitial(private));
	while (obj->dedupe_fields[cs->nfields])
		cs->nfields++;
	cs->key_converters = palloc0(sizeof(MktoConverter) * cs->nfields);
	for (int i = 0; i < cs->nfields; i++)
		mkto_converter_init(&cs->key_converters[i],
							mkto_column_by_field(scan->opts, obj->dedupe_fields[i]),
							scan->opts->relname);
	cs->tuple_states = palloc(sizeof(ExprState *) * cs->ntuples * cs->nfields);
	for (int i = 0; i < cs->ntuples * cs->nfields; i++)
		cs->tuple_states[i] = ExecInitExpr(list_nth(exprs, i), (PlanState *) scan->node);
	return cs;
}

/*
 * Evaluates the compound key tuples into distinct input records.  A tuple
 * with a NULL matches nothing and is left out.
 */
static int64
compound_rescan(MktoScan *scan, void *state)
{
	CompoundState *cs = state;
	ExprContext *econtext = scan->node->ss.ps.ps_ExprContext;
	const char *const *fields = scan->opts->object->dedupe_fields;
	HTAB	   *seen;
	HASHCTL		ctl = {0};

	ctl.keysize = MKTO_TUPLE_KEY_LEN;
	ctl.entrysize = ctl.keysize;
	ctl.hcxt = scan->scan_cxt;
	seen = hash_create("marketo_fdw key tuples", 64, &ctl,
					   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	cs->inputs = mkto_track_json(json_object_new_array());
	for (int t = 0; t < cs->ntuples; t++)
	{
		json_object *record = json_object_new_object();
		bool		has_null = false;
		bool		found;
		const char *text;

		json_object_array_add(cs->inputs, record);	/* owned from here on */
		for (int f = 0; f < cs->nfields; f++)
		{
			bool		isnull;
			Datum		value = ExecEvalExpr(cs->tuple_states[t * cs->nfields + f], econtext,
											 &isnull);

			if (isnull)
			{
				has_null = true;
				break;
			}
			json_object_object_add(record, fields[f],
								   mkto_datum_to_json(&cs->key_converters[f], value, false));
		}
		text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN);
		found = false;
		/* a longer tuple is sent even if repeated: truncating could merge two */
		if (!has_null && strlen(text) < MKTO_TUPLE_KEY_LEN)
			hash_search(seen, text, HASH_ENTER, &found);
		if (has_null || found)
			json_object_array_del_idx(cs->inputs,
									  json_object_array_length(cs->inputs) - 1, 1);
	}
	cs->next_input = 0;
	return ((int64) json_object_array_length(cs->inputs) + MKTO_MAX_FILTER_VALUES - 1) /
		MKTO_MAX_FILTER_VALUES;
}

static void
compound_start_pass(MktoScan *scan, void *state)
{
	((CompoundState *) state)->next_input = 0;
}

/* The next chunk of the tuples, as a JSON input array. */
static bool
compound_next_chunk(MktoScan *scan, void *state)
{
	CompoundState *cs = state;
	int			n = (int) json_object_array_length(cs->inputs);

	if (cs->next_input >= n)
		return false;
	cs->chunk_input = mkto_track_json(json_object_new_array());
	for (int i = cs->next_input; i < n && i < cs->next_input + MKTO_MAX_FILTER_VALUES; i++)
		json_object_array_add(cs->chunk_input,
							  json_object_get(json_object_array_get_idx(cs->inputs, i)));
	cs->next_input += MKTO_MAX_FILTER_VALUES;
	return true;
}

static void
compound_request(MktoScan *scan, void *state, MktoRequest *req,
				 StringInfo query, const char *page_token)
{
	CompoundState *cs = state;
	json_object *body = mkto_track_json(json_object_new_object());
	json_object *fields = json_object_new_array();
	ListCell   *lc;

	req->path = scan->use->path;
	json_object_object_add(body, "filterType", json_object_new_string("dedupeFields"));
	json_object_object_add(body, "fields", fields);
	foreach(lc, scan->fields)
		json_object_array_add(fields, json_object_new_string(strVal(lfirst(lc))));
	json_object_object_add(body, "input", json_object_get(cs->chunk_input));
	/* paging repeats the whole input with the token */
	if (page_token)
		json_object_object_add(body, "nextPageToken", json_object_new_string(page_token));
	req->json_body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
}

const MktoReadSource mkto_source_compound = {
	.name = "compound key",
	.method = "REST filter",
	.values_per_call = MKTO_MAX_FILTER_VALUES,
	.plan = compound_plan,
	.known_values = compound_known_values,
	.describe = compound_describe,
	.shown_request = compound_shown_request,
	.unfiltered_detail = mkto_filter_unfiltered_detail,
	.begin = compound_begin,
	.rescan = compound_rescan,
	.start_pass = compound_start_pass,
	.next_chunk = compound_next_chunk,
	.request = compound_request,
};
