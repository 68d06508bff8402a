/*-------------------------------------------------------------------------
 *
 * call_stats.c
 *		  marketo_call_stats(): the calls marketo_fdw has made, for
 *		  monitoring the instance's shared limits and quota.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "marketo_fdw.h"
#include "mkto_limiter.h"

#define MKTO_STATS_MAX_ROWS	1024

PG_FUNCTION_INFO_V1(marketo_call_stats);

Datum
marketo_call_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MktoLimiterStats *stats = palloc(sizeof(MktoLimiterStats) * MKTO_STATS_MAX_ROWS);
	int			n = mkto_limiter_stats(stats, MKTO_STATS_MAX_ROWS);
	Datum		values[7];
	bool		nulls[7] = {0};

	InitMaterializedSRF(fcinfo, 0);

	/* the calls this backend sent, retries and token requests included */
	memset(nulls, true, sizeof(nulls));
	values[0] = CStringGetTextDatum("backend");
	nulls[0] = false;
	values[2] = Int64GetDatum((int64) mkto_backend_call_count());
	nulls[2] = false;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	memset(nulls, false, sizeof(nulls));
	for (int i = 0; i < n; i++)
	{
		values[0] = CStringGetTextDatum(stats[i].unproven
										? "unproven credentials, this backend"
										: mkto_limiter_shared() ? "instance"
										: "instance, this backend");
		values[1] = CStringGetTextDatum(stats[i].instance);
		values[2] = Int64GetDatum(stats[i].calls);
		values[3] = Int32GetDatum(stats[i].calls_in_window);
		values[4] = Int32GetDatum(stats[i].in_flight);
		values[5] = Int64GetDatum(stats[i].waits);
		values[6] = Float8GetDatum(stats[i].waited_ms);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
