/*-------------------------------------------------------------------------
 *
 * marketo_fdw.c
 *		  Module load and the FDW handler.  Planning is in plan.c, the
 *		  executor's scan in scan.c, its read sources in source_*.c,
 *		  writes in modify.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/fdwapi.h"
#include "utils/guc.h"

#include "join.h"
#include "scan_plan.h"
#include "mkto_limiter.h"
#include "read_source.h"
#include "write_buffer.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	mkto_client_init();
	mkto_http_init();
	mkto_limiter_init();
	mkto_bulk_source_init();
	mkto_join_init();
	mkto_direct_modify_init();
	mkto_write_buffer_init();
	MarkGUCPrefixReserved("marketo_fdw");
}

PG_FUNCTION_INFO_V1(marketo_fdw_handler);
PG_FUNCTION_INFO_V1(marketo_fdw_backend_calls);


Datum
marketo_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = marketoGetForeignRelSize;
	routine->GetForeignPaths = marketoGetForeignPaths;
	routine->GetForeignPlan = marketoGetForeignPlan;
	routine->BeginForeignScan = marketoBeginForeignScan;
	routine->IterateForeignScan = marketoIterateForeignScan;
	routine->ReScanForeignScan = marketoReScanForeignScan;
	routine->EndForeignScan = marketoEndForeignScan;
	routine->ExplainForeignScan = marketoExplainForeignScan;

	routine->AddForeignUpdateTargets = marketoAddForeignUpdateTargets;
	routine->PlanForeignModify = marketoPlanForeignModify;
	routine->BeginForeignModify = marketoBeginForeignModify;
	routine->ExecForeignInsert = marketoExecForeignInsert;
	routine->ExecForeignBatchInsert = marketoExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = marketoGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = marketoExecForeignUpdate;
	routine->ExecForeignDelete = marketoExecForeignDelete;
	routine->EndForeignModify = marketoEndForeignModify;
	routine->BeginForeignInsert = marketoBeginForeignInsert;
	routine->EndForeignInsert = marketoEndForeignInsert;
	routine->ExplainForeignModify = marketoExplainForeignModify;
	routine->IsForeignRelUpdatable = marketoIsForeignRelUpdatable;
	routine->PlanDirectModify = marketoPlanDirectModify;
	routine->BeginDirectModify = marketoBeginDirectModify;
	routine->IterateDirectModify = marketoIterateDirectModify;
	routine->EndDirectModify = marketoEndDirectModify;
	routine->ExplainDirectModify = marketoExplainDirectModify;

	routine->ImportForeignSchema = marketoImportForeignSchema;

	PG_RETURN_POINTER(routine);
}

Datum
marketo_fdw_backend_calls(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) mkto_backend_call_count());
}
