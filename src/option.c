/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Validation and lookup of marketo_fdw's options.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "marketo_fdw.h"

typedef struct MktoOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
} MktoOption;

static const MktoOption valid_options[] = {
	{"base_url", ForeignServerRelationId},
	{"identity_url", ForeignServerRelationId},
	{"ca_file", ForeignServerRelationId},
	{"connect_timeout", ForeignServerRelationId},
	{"read_timeout", ForeignServerRelationId},
	{"write_timeout", ForeignServerRelationId},
	/* Secrets live only on user mappings, which other roles cannot read. */
	{"client_id", UserMappingRelationId},
	{"client_secret", UserMappingRelationId},
	{"object", ForeignTableRelationId},
	{"custom_object", ForeignTableRelationId},
	{"dedupe_fields", ForeignTableRelationId},
	{"batch_size", ForeignTableRelationId},
	{"insert_action", ForeignTableRelationId},
	{"lookup_field", ForeignTableRelationId},
	{"status_skips", ForeignTableRelationId},
	{"read_method", ForeignTableRelationId},
	{"write_batching", ForeignServerRelationId},
	{"write_batching", ForeignTableRelationId},
	{"field", AttributeRelationId},
	{"searchable", AttributeRelationId},
	{"read_only", AttributeRelationId},
	{"max_length", AttributeRelationId},
	{"email", AttributeRelationId},
	{NULL, InvalidOid}
};

static const char *const all_insert_actions[] = {
	"createOnly", "createOrUpdate", "createDuplicate", NULL
};

static const char *const status_skip_modes[] = {"warning", "error", NULL};
/* When written rows are sent: across the transaction, or per statement. */
static const char *const write_batching_modes[] = {"transaction", "statement", NULL};
/* How a read without a usable filter goes: chosen per query, or forced. */
static const char *const read_methods[] = {"auto", "rest", "bulk", NULL};

static bool
is_valid_option(const char *name, Oid context)
{
	for (const MktoOption *opt = valid_options; opt->name; opt++)
	{
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return true;
	}
	return false;
}

static char *
valid_option_names(Oid context)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const MktoOption *opt = valid_options; opt->name; opt++)
	{
		if (opt->context == context)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
	}
	return buf.data;
}

/*
 * Checks a URL option.  The token and secret travel in these requests, so
 * it must be https, except http to a loopback host (the tests' emulator)
 * for superusers.  For others, the host must be in marketo_fdw.allowed_hosts
 * and not spell a local address: an early, clear error.  mkto_http.c checks
 * again on every call, the address curl actually connects to included, as
 * the GUC may change and a server may change owner.
 */
static void
check_url_option(const char *name, const char *url)
{
	bool		is_https;
	bool		has_userinfo;
	bool		local;
	char	   *host;

	if (pg_strncasecmp(url, "https://", 8) == 0)
		is_https = true;
	else if (pg_strncasecmp(url, "http://", 7) == 0)
		is_https = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, url),
				 errhint("Use an https URL such as https://123-ABC-456.mktorest.com.")));

	host = strpbrk(url, " ?#\r\n\t") == NULL ? mkto_url_host(url, &has_userinfo) : NULL;
	if (host == NULL || host[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, url),
				 errhint("Give the instance's base URL without query or fragment, such as https://123-ABC-456.mktorest.com.")));
	if (has_userinfo)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": a user name or password in the URL", name),
				 errdetail("Marketo URLs carry no credentials; they belong in the user mapping."),
				 errhint("Give the instance's base URL, such as https://123-ABC-456.mktorest.com.")));

	local = mkto_host_is_local(host);
	if (!superuser())
	{
		/* the server's own ports are for its superuser to reach */
		if (local)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only superusers may point option \"%s\" at a loopback or link-local address", name),
					 errdetail("Such an address reaches services on the database server itself or its cloud host.")));
		if (!mkto_host_allowed(host))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("host \"%s\" of option \"%s\" is not allowed", host, name),
					 errdetail("Servers of non-superusers may reach only the hosts in marketo_fdw.allowed_hosts (\"%s\").",
							   GetConfigOption("marketo_fdw.allowed_hosts", false, false)),
					 errhint("A superuser can add the host to marketo_fdw.allowed_hosts.")));
	}
	if (!is_https && !(local && superuser()))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must use https", name),
				 errdetail("Plain http is allowed only for loopback hosts."),
				 errhint("Use the https URL shown in Marketo under Admin > Web Services.")));
	pfree(host);
}

/*
 * An integer option from 1 to max; hint explains the range.  Anything else,
 * trailing text included, is refused.
 */
static long
parse_int_option(const char *name, const char *value, long max, const char *hint)
{
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || n < 1 || n > max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errhint("%s", hint)));
	return n;
}

static int
parse_batch_size(const char *value)
{
	return (int) parse_int_option("batch_size", value, MKTO_MAX_BATCH,
								  psprintf("batch_size must be an integer from 1 to %d, Marketo's batch limit.",
										   MKTO_MAX_BATCH));
}

static int
parse_max_length(const char *value)
{
	return (int) parse_int_option("max_length", value, INT_MAX,
								  "Give the field's length in characters, a positive integer.");
}

/* A timeout option: whole seconds, 1 to 3600, as milliseconds. */
static long
parse_seconds(const char *name, const char *value)
{
	return parse_int_option(name, value, 3600, "Give whole seconds from 1 to 3600.") * 1000;
}

static void
check_nonempty(DefElem *def)
{
	if (defGetString(def)[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must not be empty", def->defname)));
}

static char *find_option(List *options, const char *name);

/*
 * A custom object table names its type and its dedupe key, which the
 * descriptor is made of (custom_objects.c), and no built-in object.
 */
static void
check_custom_object_options(List *options)
{
	char	   *custom_object = find_option(options, "custom_object");
	char	   *dedupe_fields = find_option(options, "dedupe_fields");

	if (custom_object == NULL && dedupe_fields == NULL)
		return;
	if (custom_object == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"dedupe_fields\" needs option \"custom_object\""),
				 errdetail("Only custom object tables take their dedupe key from an option.")));
	if (dedupe_fields == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("custom object table needs option \"dedupe_fields\""),
				 errhint("Give the dedupeFields of GET /rest/v1/customobjects/%s/describe.json, such as OPTIONS (ADD dedupe_fields 'vin'), or create the table with IMPORT FOREIGN SCHEMA.",
						 custom_object)));
	if (find_option(options, "object") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"object\" and \"custom_object\" cannot both be set"),
				 errhint("A custom object table names its type with custom_object only.")));
	if (!mkto_custom_object_key_fits(custom_object, dedupe_fields))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("options \"custom_object\" and \"dedupe_fields\" are too long")));
}

PG_FUNCTION_INFO_V1(marketo_fdw_validator);

Datum
marketo_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *value;

		if (!is_valid_option(def->defname, catalog))
		{
			char	   *valid = valid_option_names(catalog);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 valid[0] != '\0'
					 ? errhint("Valid options in this context are: %s.", valid)
					 : errhint("There are no valid options in this context.")));
		}

		value = defGetString(def);
		if (strcmp(def->defname, "base_url") == 0 ||
			strcmp(def->defname, "identity_url") == 0)
			check_url_option(def->defname, value);
		else if (strcmp(def->defname, "ca_file") == 0)
		{
			/* the server would read a file a user names */
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only superusers may set option \"ca_file\""),
						 errdetail("The option names a file on the database server.")));
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"ca_file\" must be an absolute path")));
		}
		else if (strcmp(def->defname, "connect_timeout") == 0 ||
				 strcmp(def->defname, "read_timeout") == 0 ||
				 strcmp(def->defname, "write_timeout") == 0)
			(void) parse_seconds(def->defname, value);
		else if (strcmp(def->defname, "object") == 0)
		{
			if (mkto_find_object(value) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("unknown Marketo object \"%s\"", value),
						 errhint("Valid objects are: %s.", mkto_object_names())));
		}
		else if (strcmp(def->defname, "custom_object") == 0)
		{
			if (!mkto_valid_custom_name(value))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"custom_object\": \"%s\"", value),
						 errhint("Give the custom object type's API name, letters, digits and underscores, as customobjects.json lists it.")));
		}
		else if (strcmp(def->defname, "dedupe_fields") == 0)
		{
			if (mkto_split_dedupe_fields(value) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"dedupe_fields\": \"%s\"", value),
						 errhint("Give the type's dedupeFields as its describe call lists them, separated by commas, such as 'courseId,leadId'.")));
		}
		else if (strcmp(def->defname, "batch_size") == 0)
			(void) parse_batch_size(value);
		else if (strcmp(def->defname, "insert_action") == 0)
		{
			if (!mkto_name_in_list(value, all_insert_actions))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"insert_action\": \"%s\"", value),
						 errhint("Valid values are: %s.",
								 mkto_join_names(all_insert_actions))));
		}
		else if (strcmp(def->defname, "read_method") == 0)
		{
			if (!mkto_name_in_list(value, read_methods))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"read_method\": \"%s\"", value),
						 errhint("Valid values are: %s.", mkto_join_names(read_methods))));
		}
		else if (strcmp(def->defname, "write_batching") == 0)
		{
			if (!mkto_name_in_list(value, write_batching_modes))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"write_batching\": \"%s\"", value),
						 errhint("Valid values are: %s.",
								 mkto_join_names(write_batching_modes))));
		}
		else if (strcmp(def->defname, "status_skips") == 0)
		{
			if (!mkto_name_in_list(value, status_skip_modes))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"status_skips\": \"%s\"", value),
						 errhint("Valid values are: %s.",
								 mkto_join_names(status_skip_modes))));
		}
		else if (strcmp(def->defname, "searchable") == 0 ||
				 strcmp(def->defname, "read_only") == 0 ||
				 strcmp(def->defname, "email") == 0)
			(void) defGetBoolean(def);
		else if (strcmp(def->defname, "max_length") == 0)
			(void) parse_max_length(value);
		else
			check_nonempty(def);
	}
	if (catalog == ForeignTableRelationId)
		check_custom_object_options(options);

	PG_RETURN_VOID();
}

/* url without trailing slashes, then suffix: never a doubled slash. */
static char *
url_with_suffix(const char *url, const char *suffix)
{
	size_t		len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	return psprintf("%.*s%s", (int) len, url, suffix);
}

/*
 * base_url without a trailing "/rest" or "/rest/": Marketo's admin page
 * shows the REST endpoint with it, and it would otherwise be doubled.
 */
static char *
base_url_without_rest(const char *base_url)
{
	char	   *url = url_with_suffix(base_url, "");
	size_t		len = strlen(url);

	if (len >= 5 && pg_strcasecmp(url + len - 5, "/rest") == 0)
		url[len - 5] = '\0';
	return url;
}

static char *
find_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/* Returns a client for the server and user, without making any call. */
MktoClient *
mkto_connect_server(ForeignServer *server, Oid userid)
{
	UserMapping *user = GetUserMapping(userid, server->serverid);
	MktoClientConfig config = {0};
	char	   *base_url = find_option(server->options, "base_url");
	char	   *identity_url = find_option(server->options, "identity_url");
	char	   *value;

	if (base_url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no base_url option", server->servername),
				 errhint("ALTER SERVER %s OPTIONS (ADD base_url 'https://123-ABC-456.mktorest.com').",
						 quote_identifier(server->servername))));

	base_url = base_url_without_rest(base_url);
	config.rest_url = url_with_suffix(base_url, "/rest");
	config.identity_url = identity_url ? url_with_suffix(identity_url, "")
		: url_with_suffix(base_url, "/identity");
	config.ca_file = find_option(server->options, "ca_file");
	value = find_option(server->options, "connect_timeout");
	config.connect_timeout_ms = value ? parse_seconds("connect_timeout", value) : 0;
	value = find_option(server->options, "read_timeout");
	config.read_timeout_ms = value ? parse_seconds("read_timeout", value) : 0;
	value = find_option(server->options, "write_timeout");
	config.write_timeout_ms = value ? parse_seconds("write_timeout", value) : 0;
	/* checked when the call is made, since ownership can change */
	config.restricted = !superuser_arg(server->owner);
	config.client_id = find_option(user->options, "client_id");
	config.client_secret = find_option(user->options, "client_secret");
	if (config.client_id == NULL || config.client_secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" needs client_id and client_secret",
						server->servername),
				 errhint("Take them from the LaunchPoint service of a Marketo API-only user.")));

	return mkto_client_get(user->umid, &config);
}

/*
 * The client for a marketo_fdw server named by a function argument, which
 * the current user must have USAGE on (the lead action and bulk functions).
 */
MktoClient *
mkto_connect_server_by_name(text *server_name)
{
	char	   *name = text_to_cstring(server_name);
	ForeignServer *server = GetForeignServerByName(name, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	char	   *handler = OidIsValid(fdw->fdwhandler) ? get_func_name(fdw->fdwhandler) : NULL;
	AclResult	aclresult;

	if (handler == NULL || strcmp(handler, "marketo_fdw_handler") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_HANDLE),
				 errmsg("server \"%s\" is not a marketo_fdw server", name)));
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, name);

	return mkto_connect_server(server, GetUserId());
}

MktoClient *
mkto_connect(MktoTableOptions *opts)
{
	return mkto_connect_server(opts->server, opts->user->userid);
}

static void
load_columns(MktoTableOptions *opts, Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	opts->ncolumns = tupdesc->natts;
	opts->columns = palloc0(sizeof(MktoColumn) * Max(tupdesc->natts, 1));

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		MktoColumn *col = &opts->columns[i];
		List	   *colopts;
		ListCell   *lc;
		bool		searchable_set = false;
		bool		read_only_set = false;

		col->attnum = attr->attnum;
		if (attr->attisdropped)
			continue;
		col->attname = pstrdup(NameStr(attr->attname));
		col->typid = attr->atttypid;
		col->typmod = attr->atttypmod;
		col->field = col->attname;

		colopts = GetForeignColumnOptions(opts->relid, attr->attnum);
		foreach(lc, colopts)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "field") == 0)
				col->field = pstrdup(defGetString(def));
			else if (strcmp(def->defname, "searchable") == 0)
			{
				col->searchable = defGetBoolean(def);
				searchable_set = true;
			}
			else if (strcmp(def->defname, "max_length") == 0)
				col->max_length = parse_max_length(defGetString(def));
			else if (strcmp(def->defname, "email") == 0)
				col->is_email = defGetBoolean(def);
			else if (strcmp(def->defname, "read_only") == 0)
			{
				col->read_only = defGetBoolean(def);
				read_only_set = true;
			}
		}
		if (!searchable_set)
			col->searchable = mkto_name_in_list(col->field,
												opts->object->searchable_fields);
		if (!read_only_set)
			col->read_only = mkto_name_in_list(col->field,
											   opts->object->read_only_fields);
	}
}

/* The Marketo object a foreign table reads: its object option or name. */
const MktoObjectDesc *
mkto_table_object(Oid relid)
{
	ForeignTable *table = GetForeignTable(relid);
	char	   *object = find_option(table->options, "object");
	char	   *custom_object = find_option(table->options, "custom_object");
	const MktoObjectDesc *desc;

	/* the validator saw to it that dedupe_fields is set too */
	if (custom_object != NULL)
	{
		char	   *dedupe_fields = find_option(table->options, "dedupe_fields");

		return mkto_custom_object(custom_object, dedupe_fields ? dedupe_fields : "");
	}
	if (object == NULL)
		object = get_rel_name(relid);
	desc = mkto_find_object(object);
	if (desc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no valid object option",
						get_rel_name(relid)),
				 errhint("Set OPTIONS (object '...') to one of: %s.", mkto_object_names())));
	return desc;
}

/*
 * Everything a scan or modify needs to know about a foreign table, read
 * from the catalogs only: no Marketo call.
 */
MktoTableOptions *
mkto_get_table_options(Oid relid, Oid userid)
{
	MktoTableOptions *opts = palloc0(sizeof(MktoTableOptions));
	ForeignTable *table = GetForeignTable(relid);
	char	   *value;
	Relation	rel;

	opts->relid = relid;
	opts->relname = get_rel_name(relid);
	opts->server = GetForeignServer(table->serverid);
	opts->user = GetUserMapping(userid, table->serverid);

	opts->object = mkto_table_object(relid);

	value = find_option(table->options, "batch_size");
	opts->batch_size = value ? parse_batch_size(value) : opts->object->max_batch;
	opts->batch_size = Min(opts->batch_size, opts->object->max_batch);

	value = find_option(table->options, "read_method");
	opts->read_method = value == NULL || strcmp(value, "auto") == 0 ? MKTO_READ_AUTO
		: strcmp(value, "rest") == 0 ? MKTO_READ_REST : MKTO_READ_BULK;

	opts->insert_action = find_option(table->options, "insert_action");
	if (opts->insert_action == NULL)
		opts->insert_action = opts->object->insert_actions
			? (char *) opts->object->insert_actions[0] : NULL;
	else if (!mkto_name_in_list(opts->insert_action, opts->object->insert_actions))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("insert_action \"%s\" is not supported for Marketo object \"%s\"",
						opts->insert_action, opts->object->name),
				 errhint("Valid values are: %s.",
						 mkto_join_names(opts->object->insert_actions))));

	opts->lookup_field = find_option(table->options, "lookup_field");
	if (opts->lookup_field == NULL)
		opts->lookup_field = (char *) (opts->object->default_lookup_field
									   ? opts->object->default_lookup_field
									   : opts->object->dedupe_fields
									   ? opts->object->dedupe_fields[0]
									   : opts->object->id_field);
	else if (opts->object->insert_key_param == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"lookup_field\" does not apply to Marketo object \"%s\"",
						opts->object->name),
				 errdetail("Marketo matches %s records by their dedupe fields: %s.",
						   opts->object->name,
						   mkto_join_names(opts->object->dedupe_fields))));

	/* the table's setting, else the server's */
	value = find_option(table->options, "write_batching");
	if (value == NULL)
		value = find_option(opts->server->options, "write_batching");
	opts->write_batching_transaction = value == NULL || strcmp(value, "transaction") == 0;

	value = find_option(table->options, "status_skips");
	opts->status_skips_error = value != NULL && strcmp(value, "error") == 0;
	if (value != NULL && opts->object->benign_skip_code == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"status_skips\" does not apply to Marketo object \"%s\"",
						opts->object->name)));

	rel = table_open(relid, NoLock);
	load_columns(opts, rel);
	table_close(rel, NoLock);

	return opts;
}

MktoColumn *
mkto_column_by_field(MktoTableOptions *opts, const char *field)
{
	for (int i = 0; i < opts->ncolumns; i++)
	{
		if (opts->columns[i].field && strcmp(opts->columns[i].field, field) == 0)
			return &opts->columns[i];
	}
	return NULL;
}
