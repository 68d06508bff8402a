/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA marketo: one foreign table per object, with
 *		  one column per REST field of the object's describe call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "commands/defrem.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "marketo_fdw.h"

typedef struct ImportField
{
	const char *name;			/* REST name */
	const char *column;			/* column name, or NULL for snake_case(name) */
	const char *data_type;
	int			length;			/* the field's maximum length, or 0 */
	bool		read_only;
	bool		searchable;
} ImportField;

/* Marketo dataType to PostgreSQL type; see README "Type mapping". */
static const struct
{
	const char *data_type;
	const char *pg_type;
}			type_map[] = {
	{"string", "text"}, {"email", "text"}, {"phone", "text"}, {"url", "text"},
	{"text", "text"}, {"textarea", "text"}, {"reference", "text"},
	{"integer", "integer"}, {"score", "integer"}, {"percent", "integer"},
	{"boolean", "boolean"},
	{"datetime", "timestamp with time zone"},
	{"date", "date"},
	/* currency stays exact; float is what its name says */
	{"currency", "numeric"},
	{"float", "double precision"},
	/* not a Marketo dataType: a static column holding an object */
	{"json", "jsonb"},
	/* not Marketo dataTypes: lists of named values, as objects by name */
	{"activity_attributes", "jsonb"},
	{"lead_field_changes", "jsonb"},
	{NULL, NULL}
};

static const char *
pg_type_for(const char *data_type)
{
	for (int i = 0; type_map[i].data_type; i++)
	{
		if (strcmp(type_map[i].data_type, data_type) == 0)
			return type_map[i].pg_type;
	}
	return "text";				/* unknown types read as their text */
}

/*
 * firstName -> first_name, marketoGUID -> marketo_guid, SICCode -> sic_code.
 */
static char *
snake_case(const char *name)
{
	StringInfoData buf;
	size_t		len = strlen(name);

	initStringInfo(&buf);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) name[i];
		bool		upper = (c >= 'A' && c <= 'Z');

		if (upper && i > 0)
		{
			unsigned char prev = (unsigned char) name[i - 1];
			unsigned char next = (unsigned char) name[i + 1];
			bool		prev_lower_or_digit = (prev >= 'a' && prev <= 'z') ||
				(prev >= '0' && prev <= '9');
			bool		acronym_end = (prev >= 'A' && prev <= 'Z') &&
				(next >= 'a' && next <= 'z');

			if ((prev_lower_or_digit || acronym_end) && buf.len > 0 &&
				buf.data[buf.len - 1] != '_')
				appendStringInfoChar(&buf, '_');
		}
		if (upper)
			appendStringInfoChar(&buf, (char) (c - 'A' + 'a'));
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
			appendStringInfoChar(&buf, (char) c);
		else if (buf.len > 0 && buf.data[buf.len - 1] != '_')
			appendStringInfoChar(&buf, '_');
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, "field");
	return buf.data;
}

static json_object *
member(json_object *obj, const char *name)
{
	json_object *value = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, name, &value))
		return NULL;
	return value;
}

/*
 * The describe call's result.  With refusal_out set, an answer in which
 * Marketo refuses the call (a CRM sync disabling the object's API, a missing
 * permission) returns NULL and says why in *refusal_out, instead of failing.
 */
static json_object *
describe_call(MktoClient *client, const MktoObjectDesc *obj, const char *path,
			  char **refusal_out)
{
	MktoRequest req = {0};
	MktoResponse *resp;

	req.method = MKTO_GET;
	req.path = path;
	req.timeout_ms = obj->describe_timeout_ms;
	req.idempotent = true;
	req.return_refusal = refusal_out != NULL;
	resp = mkto_call(client, &req);
	if (resp->refusal_code != NULL)
	{
		*refusal_out = psprintf("%s (Marketo error %s: %s)", obj->name,
								resp->refusal_code, resp->refusal_message);
		return NULL;
	}
	if (resp->result == NULL || !json_object_is_type(resp->result, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: describe has no result array"),
				 errdetail("Request: GET /rest%s.", path)));
	return resp->result;
}

static json_object *
first_entry(json_object *result)
{
	return json_object_array_length(result) > 0
		? json_object_array_get_idx(result, 0) : NULL;
}

/* The single-field entries of searchableFields (compound keys do not fit
 * filterType). */
static List *
single_searchable_fields(json_object *entry)
{
	json_object *groups = member(entry, "searchableFields");
	List	   *names = NIL;

	if (groups == NULL || !json_object_is_type(groups, json_type_array))
		return NIL;
	for (size_t i = 0; i < json_object_array_length(groups); i++)
	{
		json_object *group = json_object_array_get_idx(groups, i);

		if (json_object_is_type(group, json_type_array) &&
			json_object_array_length(group) == 1)
			names = lappend(names, (char *) json_object_get_string(json_object_array_get_idx(group, 0)));
	}
	return names;
}

static bool
list_has_string(List *list, const char *name)
{
	ListCell   *lc;

	foreach(lc, list)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	}
	return false;
}

static ImportField *
new_field(json_object *entry, json_object *name, json_object *data_type)
{
	ImportField *field = palloc0(sizeof(ImportField));
	json_object *length = member(entry, "length");

	field->name = json_object_get_string(name);
	field->data_type = data_type ? json_object_get_string(data_type) : "string";
	if (length && json_object_is_type(length, json_type_int))
		field->length = json_object_get_int(length);
	return field;
}

static List *
string_array(json_object *array)
{
	List	   *names = NIL;

	if (array == NULL || !json_object_is_type(array, json_type_array))
		return NIL;
	for (size_t i = 0; i < json_object_array_length(array); i++)
		names = lappend(names, (char *) json_object_get_string(json_object_array_get_idx(array, i)));
	return names;
}

/*
 * Fields of a standard describe (opportunities, named accounts, ...).  A
 * dedupe field is not updateable but must be written on insert, and an
 * object's status field through its own call, so only fields that are none
 * of these count as read-only.
 */
static List *
standard_describe_fields(const MktoObjectDesc *obj, json_object *result)
{
	json_object *entry = first_entry(result);
	json_object *fields_json = member(entry, "fields");
	const char *id_field = json_object_get_string(member(entry, "idField"));
	List	   *dedupe = string_array(member(entry, "dedupeFields"));
	List	   *searchable = single_searchable_fields(entry);
	List	   *fields = NIL;

	if (fields_json == NULL || !json_object_is_type(fields_json, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: describe has no fields")));
	for (size_t i = 0; i < json_object_array_length(fields_json); i++)
	{
		json_object *f = json_object_array_get_idx(fields_json, i);
		json_object *name = member(f, "name");
		json_object *data_type = member(f, "dataType");
		ImportField *field;

		if (name == NULL || !json_object_is_type(name, json_type_string))
			continue;
		field = new_field(f, name, data_type);
		field->read_only = !json_object_get_boolean(member(f, "updateable")) &&
			!list_has_string(dedupe, field->name) &&
			!(obj->status_field && strcmp(obj->status_field, field->name) == 0);
		/* A compound dedupe key is not one filterType; a single one is. */
		field->searchable = list_has_string(searchable, field->name) ||
			(list_length(dedupe) == 1 && list_has_string(dedupe, field->name)) ||
			(id_field && strcmp(id_field, field->name) == 0);
		fields = lappend(fields, field);
	}
	return fields;
}

/* The fixed columns of an object without a describe call. */
static List *
static_fields(const MktoObjectDesc *obj)
{
	List	   *fields = NIL;

	for (const MktoStaticColumn *col = obj->static_columns; col && col->field; col++)
	{
		ImportField *field = palloc0(sizeof(ImportField));

		field->name = col->field;
		field->column = col->column;
		field->data_type = col->data_type;
		field->read_only = col->read_only;
		field->searchable = col->searchable;
		fields = lappend(fields, field);
	}
	return fields;
}

/* Fields of a lead-style describe: entries with a "rest" sub-object. */
static List *
lead_describe_fields(json_object *result, List *searchable)
{
	List	   *fields = NIL;

	for (size_t i = 0; i < json_object_array_length(result); i++)
	{
		json_object *entry = json_object_array_get_idx(result, i);
		json_object *rest = member(entry, "rest");
		json_object *name = member(rest, "name");
		json_object *data_type = member(entry, "dataType");
		ImportField *field;

		/* Fields without a REST name exist only in the retired SOAP API. */
		if (name == NULL || !json_object_is_type(name, json_type_string))
			continue;
		field = new_field(entry, name, data_type);
		field->read_only = json_object_get_boolean(member(rest, "readOnly"));
		field->searchable = list_has_string(searchable, field->name);
		fields = lappend(fields, field);
	}
	return fields;
}

/*
 * base, with suffix appended, cut to what PostgreSQL keeps of an identifier
 * (NAMEDATALEN - 1 bytes, never inside a character): two long field names
 * that share their first 63 bytes must not become one column name.
 */
static char *
column_name(const char *base, const char *suffix)
{
	int			room = NAMEDATALEN - 1 - (int) strlen(suffix);
	int			keep = pg_mbcliplen(base, strlen(base), room);

	return psprintf("%.*s%s", keep, base, suffix);
}

static char *
create_table_sql(const MktoObjectDesc *obj, ForeignServer *server, List *fields)
{
	StringInfoData buf;
	List	   *used_names = NIL;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n", quote_identifier(obj->name));
	foreach(lc, fields)
	{
		ImportField *field = (ImportField *) lfirst(lc);
		char	   *base = field->column ? pstrdup(field->column) : snake_case(field->name);
		char	   *column = column_name(base, "");
		int			suffix = 2;

		while (list_has_string(used_names, column))
			column = column_name(base, psprintf("_%d", suffix++));
		used_names = lappend(used_names, column);

		appendStringInfo(&buf, "%s  %s %s OPTIONS (field %s",
						 first ? "" : ",\n",
						 quote_identifier(column),
						 pg_type_for(field->data_type),
						 quote_literal_cstr(field->name));
		if (field->searchable)
			appendStringInfoString(&buf, ", searchable 'true'");
		if (field->read_only)
			appendStringInfoString(&buf, ", read_only 'true'");
		/* for checks before sending what Marketo would reject */
		if (!field->read_only && field->length > 0 &&
			strcmp(pg_type_for(field->data_type), "text") == 0)
			appendStringInfo(&buf, ", max_length '%d'", field->length);
		if (!field->read_only && strcmp(field->data_type, "email") == 0)
			appendStringInfoString(&buf, ", email 'true'");
		appendStringInfoChar(&buf, ')');
		first = false;
	}
	appendStringInfo(&buf, "\n) SERVER %s OPTIONS (object %s)",
					 quote_identifier(server->servername),
					 quote_literal_cstr(obj->name));
	return buf.data;
}

static bool
is_wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	foreach(lc, stmt->table_list)
	{
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			listed = true;
	}
	switch (stmt->list_type)
	{
		case FDW_IMPORT_SCHEMA_LIMIT_TO:
			return listed;
		case FDW_IMPORT_SCHEMA_EXCEPT:
			return !listed;
		default:
			return true;
	}
}

List *
marketoImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	MktoClient *client;
	List	   *commands = NIL;
	List	   *skipped = NIL;
	ListCell   *lc;
	const MktoObjectDesc *obj;

	if (strcmp(stmt->remote_schema, "marketo") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("Marketo has no schema \"%s\"", stmt->remote_schema),
				 errhint("Use IMPORT FOREIGN SCHEMA marketo.")));
	if (stmt->options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", ((DefElem *) linitial(stmt->options))->defname),
				 errhint("IMPORT FOREIGN SCHEMA marketo takes no options.")));
	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		if (mkto_find_object(rv->relname) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("Marketo has no object \"%s\"", rv->relname),
					 errhint("Objects that can be imported: %s.", mkto_object_names())));
	}

	client = mkto_connect_server(server, GetUserId());
	for (int i = 0; (obj = mkto_object_at(i)) != NULL; i++)
	{
		List	   *fields = NIL;
		json_object *describe = NULL;
		json_object *describe2 = NULL;
		char	   *refusal = NULL;

		/*
		 * Objects not named in LIMIT TO are skipped when Marketo refuses
		 * their describe, as it does on instances with a native CRM sync;
		 * one the user named is an error.
		 */
		char	  **refusal_out = stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO
			? NULL : &refusal;

		if (!is_wanted(stmt, obj->name))
			continue;
		if (obj->describe_style == MKTO_DESCRIBE_LEAD)
			describe2 = describe_call(client, obj, obj->describe2_path, refusal_out);
		if (obj->describe_style != MKTO_DESCRIBE_NONE && refusal == NULL)
			describe = describe_call(client, obj, obj->describe_path, refusal_out);
		if (refusal != NULL)
		{
			skipped = lappend(skipped, refusal);
			continue;
		}
		switch (obj->describe_style)
		{
			case MKTO_DESCRIBE_LEAD:
				fields = lead_describe_fields(describe,
											  single_searchable_fields(first_entry(describe2)));
				break;
			case MKTO_DESCRIBE_STANDARD:
				fields = standard_describe_fields(obj, describe);
				break;
			case MKTO_DESCRIBE_NONE:
				fields = static_fields(obj);
				break;
		}
		commands = lappend(commands, create_table_sql(obj, server, fields));
	}
	if (skipped != NIL)
	{
		StringInfoData list;

		initStringInfo(&list);
		foreach(lc, skipped)
			appendStringInfo(&list, "%s%s", list.len > 0 ? "; " : "", (char *) lfirst(lc));
		ereport(WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg_plural("skipped %d Marketo object whose describe call Marketo refused",
							   "skipped %d Marketo objects whose describe calls Marketo refused",
							   list_length(skipped), list_length(skipped)),
				 errdetail("%s.", list.data),
				 errhint("On instances with a native CRM sync Marketo disables the APIs of opportunities, roles and companies. Leave them out with EXCEPT, or name them in LIMIT TO to see the error.")));
	}
	return commands;
}
