/*-------------------------------------------------------------------------
 *
 * custom_objects.c
 *		  Descriptors of Marketo custom object types, made from the
 *		  template in objects.c with the type's apiName and dedupe key.
 *
 * A custom object table names its type and key in its options
 * (custom_object, dedupe_fields); everything else reads the descriptor
 * through opts->object as for a built-in object.  Descriptors live as long
 * as the backend, one per apiName and key, so a plan and its execution
 * share one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "marketo_fdw.h"
#include "read_source.h"

/* Room for "apiName\ndedupeFields", the hash key; longer options are refused. */
#define CUSTOM_OBJECT_KEY_LEN	512

typedef struct CustomObjectEntry
{
	char		key[CUSTOM_OBJECT_KEY_LEN];
	MktoObjectDesc desc;
} CustomObjectEntry;

static HTAB *custom_objects = NULL;
static MemoryContext custom_objects_cxt = NULL;

/* Marketo's rule for apiNames and field names: letters, digits, "_". */
bool
mkto_valid_custom_name(const char *name)
{
	if (name[0] == '\0')
		return false;
	for (const char *c = name; *c; c++)
	{
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	}
	return true;
}

/*
 * "courseId,leadId" as a NULL-terminated array, or NULL when a name is not
 * a valid field name (an empty one included).
 */
char	  **
mkto_split_dedupe_fields(const char *csv)
{
	char	   *copy = pstrdup(csv);
	int			n = 1;
	char	  **fields;
	int			i = 0;

	for (const char *c = csv; *c; c++)
		n += (*c == ',');
	fields = palloc0(sizeof(char *) * (n + 1));
	for (char *start = copy;; i++)
	{
		char	   *comma = strchr(start, ',');

		if (comma)
			*comma = '\0';
		if (!mkto_valid_custom_name(start))
			return NULL;
		fields[i] = start;
		if (comma == NULL)
			break;
		start = comma + 1;
	}
	return fields;
}

bool
mkto_custom_object_key_fits(const char *api_name, const char *dedupe_csv)
{
	return strlen(api_name) + 1 + strlen(dedupe_csv) < CUSTOM_OBJECT_KEY_LEN;
}

/* The template's path with the apiName in place of "%s". */
static const char *
type_path(const char *template, const char *api_name)
{
	return template ? psprintf(template, api_name) : NULL;
}

static void
build_descriptor(MktoObjectDesc *desc, const char *api_name, const char *dedupe_csv)
{
	const MktoObjectDesc *template = &mkto_custom_object_template;
	char	  **dedupe = mkto_split_dedupe_fields(dedupe_csv);
	const char **searchable;
	int			nread = 0;

	*desc = *template;
	desc->name = pstrdup(api_name);
	desc->describe_path = type_path(template->describe_path, api_name);
	desc->sync_path = type_path(template->sync_path, api_name);
	desc->delete_path = type_path(template->delete_path, api_name);
	desc->dedupe_fields = (const char *const *) dedupe;

	/* the id, and a single-field dedupe key, are filters on every type */
	searchable = palloc0(sizeof(char *) * 3);
	searchable[0] = template->id_field;
	searchable[1] = dedupe[1] == NULL ? dedupe[0] : NULL;
	desc->searchable_fields = searchable;

	/* a one-field key is read by the filter; the compound read is for more */
	memset(desc->reads, 0, sizeof(desc->reads));
	for (int i = 0; i < MKTO_MAX_SOURCES && template->reads[i].source; i++)
	{
		if (template->reads[i].source == &mkto_source_compound && dedupe[1] == NULL)
			continue;
		desc->reads[nread] = template->reads[i];
		desc->reads[nread].path = type_path(template->reads[i].path, api_name);
		nread++;
	}
}

/*
 * The descriptor of custom object type api_name with the dedupe key
 * dedupe_csv (validated by the option validator).
 */
const MktoObjectDesc *
mkto_custom_object(const char *api_name, const char *dedupe_csv)
{
	char		key[CUSTOM_OBJECT_KEY_LEN];
	CustomObjectEntry *entry;
	bool		found;

	/* the validator checks these; a catalog from elsewhere might not */
	if (!mkto_valid_custom_name(api_name) || mkto_split_dedupe_fields(dedupe_csv) == NULL ||
		!mkto_custom_object_key_fits(api_name, dedupe_csv))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid custom object options: custom_object \"%s\", dedupe_fields \"%s\"",
						api_name, dedupe_csv)));
	if (custom_objects == NULL)
	{
		HASHCTL		ctl = {0};

		custom_objects_cxt = AllocSetContextCreate(TopMemoryContext,
												   "marketo_fdw custom objects",
												   ALLOCSET_SMALL_SIZES);
		ctl.keysize = CUSTOM_OBJECT_KEY_LEN;
		ctl.entrysize = sizeof(CustomObjectEntry);
		ctl.hcxt = custom_objects_cxt;
		custom_objects = hash_create("marketo_fdw custom objects", 16, &ctl,
									 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	memset(key, 0, sizeof(key));
	snprintf(key, sizeof(key), "%s\n%s", api_name, dedupe_csv);
	entry = hash_search(custom_objects, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		MktoObjectDesc desc;
		MemoryContext old = MemoryContextSwitchTo(custom_objects_cxt);

		/* built before entering, so an error leaves no half-made entry */
		build_descriptor(&desc, api_name, dedupe_csv);
		MemoryContextSwitchTo(old);
		entry = hash_search(custom_objects, key, HASH_ENTER, &found);
		entry->desc = desc;
	}
	return &entry->desc;
}
