/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Decide which WHERE clauses Marketo can filter on, and spell the
 *		  parts of a query request.
 *
 * Marketo filters one field at a time with filterType/filterValues, so a
 * pushable clause is "searchable column = value" or "= ANY(array)" (IN
 * lists arrive as the latter).  Marketo matches strings more loosely than
 * SQL (case, surrounding blanks), so every pushed clause also stays in the
 * local quals as a recheck; pushing only ever narrows what is fetched.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/clauses.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "marketo_fdw.h"

/* Column types whose values can be written into filterValues as text. */
static bool
is_filterable_type(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return true;
		default:
			return false;
	}
}

static Var *
our_column_var(Node *node, RelOptInfo *baserel)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;

	if (node && IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varno == baserel->relid && var->varlevelsup == 0 &&
			var->varattno > 0)
			return var;
	}
	return NULL;
}

/* The value side must not depend on our own row and must be stable. */
static bool
is_value_side(PlannerInfo *root, Node *node, RelOptInfo *baserel)
{
	Relids		relids;

#if PG_VERSION_NUM >= 140000
	relids = pull_varnos(root, node);
#else
	relids = pull_varnos(node);
#endif
	return !bms_is_member(baserel->relid, relids) &&
		!contain_volatile_functions(node) &&
		!contain_subplans(node);
}

static bool
is_equality_operator(Oid opno)
{
	char	   *name = get_opname(opno);

	return name != NULL && strcmp(name, "=") == 0 &&
		(op_hashjoinable(opno, InvalidOid) || op_mergejoinable(opno, InvalidOid));
}

static int
count_known_values(Node *value, bool is_array)
{
	if (!is_array)
		return 1;
	if (IsA(value, Const))
	{
		Const	   *c = (Const *) value;

		if (c->constisnull)
			return 0;
		return ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(c->constvalue)),
							  ARR_DIMS(DatumGetArrayTypeP(c->constvalue)));
	}
	if (IsA(value, ArrayExpr))
		return list_length(((ArrayExpr *) value)->elements);
	return -1;
}

/*
 * Is rinfo a clause Marketo can filter on?  If so, fills *out.
 */
bool
mkto_filter_qual(PlannerInfo *root, RelOptInfo *baserel,
				 MktoTableOptions *opts, RestrictInfo *rinfo,
				 MktoFilterQual *out)
{
	Expr	   *clause = rinfo->clause;
	Var		   *var = NULL;
	Node	   *value = NULL;
	bool		is_array = false;
	MktoColumn *column;

	if (rinfo->pseudoconstant)
		return false;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left,
				   *right;

		if (list_length(op->args) != 2 || !is_equality_operator(op->opno))
			return false;
		left = linitial(op->args);
		right = lsecond(op->args);
		if ((var = our_column_var(left, baserel)) != NULL)
			value = right;
		else if ((var = our_column_var(right, baserel)) != NULL)
			value = left;
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

		if (!saop->useOr || !is_equality_operator(saop->opno))
			return false;
		var = our_column_var(linitial(saop->args), baserel);
		value = lsecond(saop->args);
		is_array = true;
	}

	if (var == NULL || value == NULL || var->varattno > opts->ncolumns)
		return false;

	column = &opts->columns[var->varattno - 1];
	if (column->field == NULL || !column->searchable ||
		!is_filterable_type(column->typid) ||
		!is_value_side(root, value, baserel))
		return false;

	out->column = column;
	out->value_expr = (Expr *) value;
	out->is_array = is_array;
	out->known_values = count_known_values(value, is_array);
	return true;
}

/* The fields= parameter: REST names joined by commas. */
char *
mkto_fields_param(List *fields)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, fields)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "", strVal(lfirst(lc)));
	return buf.data;
}

/* "id, email" for error hints: the table's columns Marketo can filter on. */
char *
mkto_searchable_columns(MktoTableOptions *opts)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < opts->ncolumns; i++)
	{
		MktoColumn *col = &opts->columns[i];

		if (col->field && col->searchable && is_filterable_type(col->typid))
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", col->attname);
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, "(none)");
	return buf.data;
}
