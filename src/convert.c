/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  Conversion between Marketo JSON values and PostgreSQL datums.
 *
 * Reading goes through the column type's own input function, so the same
 * rules apply as for any text input; a failure names the column, the
 * Marketo field and the offending value.  Marketo's JSON is UTF-8 and is
 * converted to and from the database encoding here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "marketo_fdw.h"
#include "read_source.h"

/* How much of a bad value an error message quotes. */
#define MKTO_VALUE_QUOTE_LEN 100

typedef struct ConversionErrorContext
{
	MktoConverter *conv;
	const char *value;
	int			len;
	bool		is_server_encoding; /* else UTF-8 as received, maybe invalid */
} ConversionErrorContext;

/*
 * The first max_chars characters of a value, for an error message.  Bytes
 * that could break the message (NUL, control characters, invalid or foreign
 * multibyte sequences) are shown as \xNN, so the message is always valid
 * text.  value is in the server encoding, or else UTF-8 as received.
 */
static char *
quote_value(const char *value, int len, bool is_server_encoding, int max_chars)
{
	StringInfoData buf;
	const unsigned char *p = (const unsigned char *) value;
	const unsigned char *end = p + len;
	int			chars = 0;
	bool		utf8_is_native = GetDatabaseEncoding() == PG_UTF8;

	initStringInfo(&buf);
	while (p < end && chars < max_chars)
	{
		int			seqlen = 1;

		if (*p >= 0x80)
		{
			if (is_server_encoding)
				seqlen = pg_mblen((const char *) p);
			else if (utf8_is_native)
			{
				seqlen = pg_utf_mblen(p);
				if (seqlen > end - p || !pg_utf8_islegal(p, seqlen))
					seqlen = 0;
			}
			else
				seqlen = 0;
		}
		else if (*p < 0x20 || *p == 0x7f)
			seqlen = 0;

		if (seqlen == 0)
		{
			appendStringInfo(&buf, "\\x%02x", *p);
			p++;
		}
		else
		{
			appendBinaryStringInfo(&buf, (const char *) p, Min(seqlen, end - p));
			p += seqlen;
		}
		chars++;
	}
	if (p < end)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

static void
conversion_error_callback(void *arg)
{
	ConversionErrorContext *ctx = (ConversionErrorContext *) arg;
	MktoColumn *col = ctx->conv->column;

	errcontext("column \"%s\" of foreign table \"%s\", Marketo field \"%s\", value \"%s\"",
			   col->attname, ctx->conv->relname, col->field,
			   quote_value(ctx->value, ctx->len, ctx->is_server_encoding, MKTO_VALUE_QUOTE_LEN));
}

void
mkto_converter_init(MktoConverter *conv, MktoColumn *column, const char *relname)
{
	Oid			infunc,
				outfunc;
	bool		isvarlena;

	conv->column = column;
	conv->relname = relname;
	getTypeInputInfo(column->typid, &infunc, &conv->typioparam);
	fmgr_info(infunc, &conv->input);
	getTypeOutputInfo(column->typid, &outfunc, &isvarlena);
	fmgr_info(outfunc, &conv->output);
}

/* Converters for the columns in attnums (an IntList), and those attnums. */
MktoConverter *
mkto_converters_for(MktoTableOptions *opts, List *attnums, AttrNumber **attnums_out)
{
	int			n = list_length(attnums);
	MktoConverter *convs = palloc0(sizeof(MktoConverter) * (n + 1));
	AttrNumber *out = palloc0(sizeof(AttrNumber) * (n + 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, attnums)
	{
		out[i] = lfirst_int(lc);
		mkto_converter_init(&convs[i], &opts->columns[out[i] - 1], opts->relname);
		i++;
	}
	*attnums_out = out;
	return convs;
}

static const char *
json_type_label(json_type type)
{
	switch (type)
	{
		case json_type_object:
			return "an object";
		case json_type_array:
			return "an array";
		default:
			return "a scalar";
	}
}

Datum
mkto_json_to_datum(MktoConverter *conv, json_object *value, bool *isnull)
{
	ErrorContextCallback errcallback;
	ConversionErrorContext ctx;
	const char *raw;
	int			rawlen;
	char	   *server_str;
	Datum		result;

	if (value == NULL || json_object_is_type(value, json_type_null))
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;

	ctx.conv = conv;
	if ((json_object_is_type(value, json_type_object) ||
		 json_object_is_type(value, json_type_array)) &&
		(conv->column->typid == JSONBOID || conv->column->typid == JSONOID))
	{
		/* a compound value is its JSON text to a json column */
		raw = json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN |
											 JSON_C_TO_STRING_NOSLASHESCAPE);
		rawlen = strlen(raw);
	}
	else if (json_object_is_type(value, json_type_object) ||
			 json_object_is_type(value, json_type_array))
	{
		ctx.value = json_object_to_json_string(value);
		ctx.len = strlen(ctx.value);
		ctx.is_server_encoding = false;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Marketo returned %s for column \"%s\" of foreign table \"%s\"",
						json_type_label(json_object_get_type(value)),
						conv->column->attname, conv->relname),
				 errdetail("Marketo field \"%s\" holds %s.", conv->column->field,
						   quote_value(ctx.value, ctx.len, false, MKTO_VALUE_QUOTE_LEN)),
				 errhint("Map the column to a field holding a single value.")));
	}

	else
	{
		raw = json_object_get_string(value);
		rawlen = json_object_is_type(value, json_type_string)
			? json_object_get_string_len(value) : (int) strlen(raw);
	}

	ctx.value = raw;
	ctx.len = rawlen;
	ctx.is_server_encoding = false;
	errcallback.callback = conversion_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (memchr(raw, '\0', rawlen) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("Marketo value contains a NUL byte")));

	/* Validates the UTF-8 and converts it to the database encoding. */
	server_str = pg_any_to_server(raw, rawlen, PG_UTF8);
	ctx.value = server_str;
	ctx.len = strlen(server_str);
	ctx.is_server_encoding = true;

	result = InputFunctionCall(&conv->input, server_str, conv->typioparam,
							   conv->column->typmod);

	error_context_stack = errcallback.previous;
	return result;
}

static char *
format_timestamptz(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("timestamp out of range for Marketo")));
	/* Marketo takes ISO-8601 without fractional seconds. */
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *
format_date(DateADT date)
{
	int			year,
				month,
				day;

	if (DATE_NOT_FINITE(date))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("date out of range for Marketo")));
	j2date(date + POSTGRES_EPOCH_JDATE, &year, &month, &day);
	if (year < 1 || year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("date out of range for Marketo")));
	return psprintf("%04d-%02d-%02d", year, month, day);
}

/* A datum of any type as UTF-8 text, independent of DateStyle. */
char *
mkto_datum_to_text(Oid typid, Datum value)
{
	char	   *str;
	Oid			outfunc;
	bool		isvarlena;

	switch (typid)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			/* timestamp without time zone is taken as UTC */
			return format_timestamptz(DatumGetTimestampTz(value));
		case DATEOID:
			return format_date(DatumGetDateADT(value));
		case BOOLOID:
			return pstrdup(DatumGetBool(value) ? "true" : "false");
		default:
			getTypeOutputInfo(typid, &outfunc, &isvarlena);
			str = OidOutputFunctionCall(outfunc, value);
			return pg_server_to_any(str, strlen(str), PG_UTF8);
	}
}

/* A value about to be sent (UTF-8), for an error message. */
static char *
quote_sent_value(const char *utf8, int max_chars)
{
	char	   *server = pg_any_to_server(utf8, strlen(utf8), PG_UTF8);

	return quote_value(server, strlen(server), true, max_chars);
}

/*
 * Refuses, before anything is sent, text Marketo would reject: longer than
 * the field (IMPORT records its length), or a non-ASCII email address.
 * utf8 is the value as sent.
 */
static void
check_text_value(MktoConverter *conv, const char *utf8)
{
	int			chars = 0;

	if (conv->column->is_email)
	{
		for (const unsigned char *p = (const unsigned char *) utf8; *p; p++)
		{
			if (*p >= 0x80)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
						 errmsg("Marketo accepts only ASCII email addresses"),
						 errdetail("Column \"%s\" of foreign table \"%s\", Marketo field \"%s\", value \"%s\".",
								   conv->column->attname, conv->relname, conv->column->field,
								   quote_sent_value(utf8, MKTO_VALUE_QUOTE_LEN)),
						 errhint("Encode an internationalized domain in its ASCII (punycode) form.")));
		}
	}
	if (conv->column->max_length <= 0)
		return;
	for (const char *p = utf8; *p; p += pg_utf_mblen((const unsigned char *) p))
		chars++;
	if (chars > conv->column->max_length)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("value too long for Marketo field \"%s\" (%d characters, at most %d)",
						conv->column->field, chars, conv->column->max_length),
				 errdetail("Column \"%s\" of foreign table \"%s\", value \"%s\".",
						   conv->column->attname, conv->relname,
						   quote_sent_value(utf8, 60)),
				 errhint("Nothing was sent to Marketo.")));
}

/*
 * A column value as the JSON Marketo expects in a sync body.  The caller
 * attaches the result to a tracked parent at once.
 */
json_object *
mkto_datum_to_json(MktoConverter *conv, Datum value, bool isnull)
{
	Oid			typid = conv->column->typid;
	char	   *text;

	if (isnull)
		return NULL;			/* json-c's null */

	switch (typid)
	{
		case BOOLOID:
			return json_object_new_boolean(DatumGetBool(value));
		case INT2OID:
			return json_object_new_int(DatumGetInt16(value));
		case INT4OID:
			return json_object_new_int(DatumGetInt32(value));
		case INT8OID:
			return json_object_new_int64(DatumGetInt64(value));
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			text = mkto_datum_to_text(typid, value);
			if (strcmp(text, "NaN") == 0 || strstr(text, "Infinity") != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("cannot send %s to Marketo", text),
						 errcontext("column \"%s\" of foreign table \"%s\", Marketo field \"%s\"",
									conv->column->attname, conv->relname,
									conv->column->field)));
			/* keep the exact digits rather than a double's rounding */
			return json_object_new_double_s(strtod(text, NULL), text);
		default:
			text = mkto_datum_to_text(typid, value);
			check_text_value(conv, text);
			return json_object_new_string(text);
	}
}

/* ---------------------------------------------------------------------
 * Activity values: Marketo's lists of named values, as objects by name
 * ---------------------------------------------------------------------
 */

static void
malformed_list(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("malformed response from Marketo: %s is not a list of named values", what)));
}

/*
 * [{name: n, ...}, ...] as {n: element's value_member, ...}, or the whole
 * element without value_member; a later name wins.  An object stays as it
 * is, and so does a text holding one (the bulk extract's CSV gives the
 * JSON text); NULL and JSON null stay null.  The result is either value
 * itself or new, owned by the caller.
 */
static json_object *
named_values_object(json_object *value, const char *value_member, const char *what)
{
	json_object *object;

	if (value == NULL || json_object_is_type(value, json_type_null) ||
		json_object_is_type(value, json_type_object))
		return value;
	if (json_object_is_type(value, json_type_string))
	{
		json_object *parsed = mkto_json_parse(json_object_get_string(value),
											  json_object_get_string_len(value));

		if (parsed == NULL ||
			!(json_object_is_type(parsed, json_type_object) ||
			  json_object_is_type(parsed, json_type_array)))
			malformed_list(what);
		/* parsed is tracked by the memory context: the caller gets its own */
		if (json_object_is_type(parsed, json_type_object))
			return json_object_get(parsed);
		return named_values_object(parsed, value_member, what);
	}
	if (!json_object_is_type(value, json_type_array))
		malformed_list(what);
	object = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(value); i++)
	{
		json_object *element = json_object_array_get_idx(value, i);
		json_object *name;
		json_object *member = element;

		if (!json_object_is_type(element, json_type_object) ||
			!json_object_object_get_ex(element, "name", &name) ||
			!json_object_is_type(name, json_type_string))
		{
			json_object_put(object);
			malformed_list(what);
		}
		if (value_member && !json_object_object_get_ex(element, value_member, &member))
			member = NULL;		/* the docs: an empty value is left out */
		json_object_object_add(object, json_object_get_string(name), json_object_get(member));
	}
	return object;
}

json_object *
mkto_activity_attributes(json_object *value)
{
	return named_values_object(value, "value", "an activity's attributes");
}

/*
 * In a record of obj, the members of its static columns of the activity
 * data types replaced by their objects by name: "activity_attributes"
 * ([{name, value}] to {name: value}) and "lead_field_changes" ([{id, name,
 * newValue, oldValue}] to {name: {id, name, newValue, oldValue}}).
 */
void
mkto_activity_record_values(const MktoObjectDesc *obj, json_object *record)
{
	for (const MktoStaticColumn *col = obj->static_columns; col && col->field; col++)
	{
		bool		attributes = strcmp(col->data_type, MKTO_TYPE_ACTIVITY_ATTRIBUTES) == 0;
		json_object *value;
		json_object *object;

		if (!(attributes || strcmp(col->data_type, MKTO_TYPE_LEAD_FIELD_CHANGES) == 0) ||
			!json_object_is_type(record, json_type_object) ||
			!json_object_object_get_ex(record, col->field, &value))
			continue;
		object = attributes ? mkto_activity_attributes(value)
			: named_values_object(value, NULL, "a lead change's fields");
		if (object != value)
			json_object_object_add(record, col->field, object);
	}
}
