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
 * A comparison under a nondeterministic collation may match more loosely
 * than Marketo does, so it is not pushed at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
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
		case BOOLOID:
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

	relids = pull_varnos(root, node);
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

/*
 * Marketo compares with its own rules, which may match fewer values than
 * a nondeterministic (case- or accent-insensitive) collation does; rows it
 * does not return cannot be brought back by the local recheck.  So only a
 * comparison under a deterministic collation (or none) is pushed.
 */
static bool
is_pushable_collation(Oid inputcollid)
{
	return !OidIsValid(inputcollid) || get_collation_isdeterministic(inputcollid);
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

	/* The planner turns "flag = true" into "flag" and "= false" into NOT. */
	if (is_notclause(clause))
	{
		var = our_column_var((Node *) get_notclausearg(clause), baserel);
		if (var && var->vartype == BOOLOID)
			value = makeBoolConst(false, false);
	}
	else if ((var = our_column_var((Node *) clause, baserel)) != NULL)
	{
		if (var->vartype == BOOLOID)
			value = makeBoolConst(true, false);
	}
	else if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left,
				   *right;

		if (list_length(op->args) != 2 || !is_equality_operator(op->opno) ||
			!is_pushable_collation(op->inputcollid))
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

		if (!saop->useOr || !is_equality_operator(saop->opno) ||
			!is_pushable_collation(saop->inputcollid))
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

/*
 * "col = value" on the column of field, for a compound key: the value, or
 * NULL.
 */
static Node *
key_field_value(PlannerInfo *root, RelOptInfo *baserel, MktoTableOptions *opts,
				Node *clause, const char *field)
{
	OpExpr	   *op;
	Var		   *var;
	Node	   *value;
	MktoColumn *column;

	if (!IsA(clause, OpExpr))
		return NULL;
	op = (OpExpr *) clause;
	if (list_length(op->args) != 2 || !is_equality_operator(op->opno) ||
		!is_pushable_collation(op->inputcollid))
		return NULL;
	if ((var = our_column_var(linitial(op->args), baserel)) != NULL)
		value = lsecond(op->args);
	else if ((var = our_column_var(lsecond(op->args), baserel)) != NULL)
		value = linitial(op->args);
	else
		return NULL;
	if (var->varattno > opts->ncolumns)
		return NULL;
	column = &opts->columns[var->varattno - 1];
	if (column->field == NULL || strcmp(column->field, field) != 0 ||
		!is_filterable_type(column->typid) || !is_value_side(root, value, baserel))
		return NULL;
	return value;
}

/* A value for every key field among the conditions, or NIL. */
static List *
key_tuple(PlannerInfo *root, RelOptInfo *baserel, MktoTableOptions *opts,
		  List *conditions)
{
	List	   *tuple = NIL;

	for (const char *const *field = opts->object->dedupe_fields; *field; field++)
	{
		Node	   *value = NULL;
		ListCell   *lc;

		foreach(lc, conditions)
		{
			Node	   *cond = lfirst(lc);

			if (IsA(cond, RestrictInfo))
				cond = (Node *) ((RestrictInfo *) cond)->clause;
			if ((value = key_field_value(root, baserel, opts, cond, *field)) != NULL)
				break;
		}
		if (value == NULL)
			return NIL;
		tuple = lappend(tuple, value);
	}
	return tuple;
}

/*
 * Tuples of the compound dedupe key the clauses give: one from
 * "a = x AND b = y AND c = z" (separate clauses, or a join on all three),
 * or several from "(a, b, c) IN ((...), (...))", which arrives as an OR of
 * such ANDs, less any condition common to all of them, which stands as a
 * clause of its own.  NIL when they give none.
 */
List *
mkto_compound_tuples(PlannerInfo *root, RelOptInfo *baserel,
					 MktoTableOptions *opts, List *clauses)
{
	List	   *tuple;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		List	   *tuples = NIL;
		ListCell   *arm;

		if (rinfo->pseudoconstant || !is_orclause(rinfo->clause))
			continue;
		foreach(arm, ((BoolExpr *) rinfo->clause)->args)
		{
			Node	   *expr = lfirst(arm);

			/* the planner moves a value common to all arms out of the OR */
			tuple = key_tuple(root, baserel, opts,
							  list_concat(is_andclause(expr)
										  ? list_copy(((BoolExpr *) expr)->args)
										  : list_make1(expr),
										  clauses));
			if (tuple == NIL)
				break;
			tuples = lappend(tuples, tuple);
		}
		if (tuples != NIL && list_length(tuples) == list_length(((BoolExpr *) rinfo->clause)->args))
			return tuples;
	}
	tuple = key_tuple(root, baserel, opts, clauses);
	return tuple ? list_make1(tuple) : NIL;
}

/*
 * Is rinfo a bound on range_field (Marketo's startAt/endAt)?
 * The bound is sent inclusive and rounded outwards to whole seconds; the
 * clause stays as a local recheck.
 */
bool
mkto_range_qual(PlannerInfo *root, RelOptInfo *baserel,
				MktoTableOptions *opts, const char *range_field,
				RestrictInfo *rinfo, MktoRangeQual *out)
{
	OpExpr	   *op;
	Var		   *var;
	Node	   *value;
	char	   *opname;
	bool		var_on_left;
	MktoColumn *column;

	if (rinfo->pseudoconstant ||
		!IsA(rinfo->clause, OpExpr))
		return false;
	op = (OpExpr *) rinfo->clause;
	/* a btree ordering operator, not some other operator of that name */
	if (list_length(op->args) != 2 || get_op_btree_interpretation(op->opno) == NIL)
		return false;
	opname = get_opname(op->opno);
	if (opname == NULL || !(strcmp(opname, "<") == 0 || strcmp(opname, "<=") == 0 ||
							strcmp(opname, ">") == 0 || strcmp(opname, ">=") == 0))
		return false;

	if ((var = our_column_var(linitial(op->args), baserel)) != NULL)
	{
		value = lsecond(op->args);
		var_on_left = true;
	}
	else if ((var = our_column_var(lsecond(op->args), baserel)) != NULL)
	{
		value = linitial(op->args);
		var_on_left = false;
	}
	else
		return false;

	if (var->varattno > opts->ncolumns)
		return false;
	column = &opts->columns[var->varattno - 1];
	if (column->field == NULL || strcmp(column->field, range_field) != 0 ||
		column->typid != TIMESTAMPTZOID || exprType(value) != TIMESTAMPTZOID ||
		!is_value_side(root, value, baserel))
		return false;

	out->column = column;
	out->value_expr = (Expr *) value;
	/* "col > v" and "v < col" bound from below */
	out->is_lower = (opname[0] == '>') == var_on_left;
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
