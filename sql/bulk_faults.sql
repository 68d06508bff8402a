--
-- Bulk extract reads when things go wrong: failed jobs, cut downloads,
-- bad checksums, quotas, the budget, cancel, and jobs left behind.
--
SELECT emu_do('reset');
-- many jobs' calls in a few seconds: the call window is not what is tested here
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000;
SELECT pg_reload_conf();
-- the standard lead fields (earlier tests add columns to marketo.leads)
CREATE SCHEMA bulk_l;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO bulk_l;
SELECT emu_do('config', '{"bulk_queue_seconds": 0, "bulk_process_seconds": 0, "rate_limit": 10000}');
SELECT emu_do('generate-leads', '{"count": 600, "from": "2026-01-01T00:00:00Z", "to": "2026-01-20T00:00:00Z"}');
SET marketo_fdw.bulk_poll_interval = '10ms';
SET marketo_fdw.progress = off;
CREATE TEMP VIEW jan AS
SELECT id, email, first_name, created_at FROM bulk_l.leads
WHERE created_at >= '2026-01-01T00:00:00Z' AND created_at < '2026-01-25T00:00:00Z';
-- The error a statement raises, export ids (random UUIDs) masked.
CREATE FUNCTION error_of(statement text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  msg text; detail text; hint text; context text;
BEGIN
  EXECUTE statement;
  RETURN NEXT 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          hint = PG_EXCEPTION_HINT, context = PG_EXCEPTION_CONTEXT;
  -- the quota's reset time, checked against the next midnight US Central
  RETURN QUERY SELECT replace(regexp_replace(x, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'EXPORT-ID', 'g'),
                              to_char((date_trunc('day', now() AT TIME ZONE 'America/Chicago') + interval '1 day') AT TIME ZONE 'America/Chicago' AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '<next midnight US Central> UTC')
    FROM unnest(ARRAY['ERROR: ' || msg, 'DETAIL: ' || detail, 'HINT: ' || hint,
                      'CONTEXT: ' || split_part(context, E'\n', 1)]) AS x
    WHERE x !~ ': $';
END $$;
CREATE FUNCTION emu_bulk_jobs() RETURNS TABLE (id text, status text, owner text)
LANGUAGE sql AS $$
  SELECT j->>'exportId', j->>'status', j->>'owner'
  FROM emu('bulk-jobs') AS line, LATERAL (SELECT line::jsonb AS j) AS x
$$;

-- A Failed job fails the statement with Marketo's reason.
SELECT emu_do('fault', '{"kind": "job_fail", "message": "Export failed: internal error"}');
SELECT error_of('SELECT count(*) FROM jan');

-- A download cut mid-file resumes with Range and loses nothing.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"kind": "cut_download", "bytes": 5000}');
SELECT count(*), count(DISTINCT id) FROM jan;
SELECT j->>'http_status' AS status, j->>'range' AS range, j->>'cut_after' AS cut_after
FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) AS x
WHERE j->>'path' LIKE '%/file.json';

-- A checksum that does not match fails the statement.
SELECT emu_do('fault', '{"kind": "bad_checksum"}');
SELECT error_of('SELECT count(*) FROM jan');

-- The statement's call budget counts the bulk calls.
SET marketo_fdw.max_calls_per_statement = 3;
SELECT count(*) FROM jan;
-- a whole-table read passes the first check (6 calls: the first lead, one
-- job), then the budget stops it as its jobs' calls add up; the job it
-- left running is cancelled
SET marketo_fdw.max_calls_per_statement = 12;
SELECT emu_do('clear-calls');
SELECT error_of('SELECT count(*) FROM bulk_l.leads');
SELECT count(*) FILTER (WHERE path NOT LIKE '%/cancel.json') AS counted_calls,
       count(*) FILTER (WHERE path LIKE '%/cancel.json') AS cancels
FROM emu_rest_calls();
RESET marketo_fdw.max_calls_per_statement;

-- The per-statement cap on exported bytes.
SET marketo_fdw.max_export_size = '10kB';
SELECT error_of('SELECT count(*) FROM jan');
RESET marketo_fdw.max_export_size;

-- The daily export quota (1029) fails at once, with the reset time.
SELECT emu_do('config', '{"bulk_daily_bytes": 1}');
SELECT error_of('SELECT count(*) FROM jan');
SELECT emu_do('config', '{"bulk_daily_bytes": 524288000}');

-- A conversion error names the file, line, column, field and value.
CREATE FOREIGN TABLE bad_leads (id int, email int)
  SERVER marketo OPTIONS (object 'leads');
SELECT error_of('SELECT count(*) FROM bad_leads WHERE email IS NOT NULL');
DROP FOREIGN TABLE bad_leads;

-- statement_timeout while the job is queued: the job is cancelled at Marketo.
SELECT emu_do('config', '{"bulk_queue_seconds": 60}');
SELECT emu_do('clear-calls');
SET statement_timeout = '1s';
SELECT count(*) FROM jan;
RESET statement_timeout;
SELECT status, count(*) FROM emu_bulk_jobs() GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE path LIKE '%/cancel.json') AS cancel_calls FROM emu_rest_calls();

-- A backend terminated while its job is queued cancels it on the way out.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT dblink_connect('bulk', self_conn());
SELECT dblink_exec('bulk', 'SET marketo_fdw.bulk_poll_interval = ''10ms''');
SELECT dblink_send_query('bulk', 'SELECT count(*) FROM bulk_l.leads WHERE created_at >= ''2026-01-01''');
-- (both jobs: after the calls of the tests before, the second may wait
-- for room in the rate window)
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    EXIT WHEN (SELECT count(*) FROM emu_bulk_jobs() WHERE status = 'Queued') >= 2;
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT status, count(*) FROM emu_bulk_jobs() GROUP BY 1 ORDER BY 1;
-- While the job waits, pg_stat_activity shows the Extension wait event.
CREATE TEMP TABLE seen_wait (seen boolean);
INSERT INTO seen_wait VALUES (false);
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF EXISTS (SELECT FROM pg_stat_activity
               WHERE query LIKE 'SELECT count(*) FROM bulk_l.leads WHERE created_at >= ''2026-01-01'''
                 AND wait_event_type = 'Extension' AND wait_event = 'Extension') THEN
      UPDATE seen_wait SET seen = true;
      EXIT;
    END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
END $$;
SELECT seen AS extension_wait_event FROM seen_wait;
SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
WHERE query LIKE 'SELECT count(*) FROM bulk_l.leads WHERE created_at >= ''2026-01-01''';
SELECT status, count(*) FROM emu_bulk_jobs() GROUP BY 1 ORDER BY 1;
SELECT dblink_disconnect('bulk');

-- A job left by a backend that died without cleaning up (killed outright,
-- or the server crashed) is cancelled by the next bulk read of that
-- server and user.  Its record is written here as such a backend leaves it.
SELECT emu_do('config', '{"bulk_queue_seconds": 0}');
-- (not enqueued, so that it stays as it is until cancelled)
SELECT emu_do('add-bulk-job', '{"object": "leads", "fields": ["id"], "enqueue": false, "filter": {"createdAt": {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-02T00:00:00Z"}}}');
DO $$
DECLARE
  job text := (SELECT id FROM emu_bulk_jobs() WHERE status = 'Created' LIMIT 1);
  start bigint := ((extract(epoch FROM pg_postmaster_start_time()) - 946684800) * 1000000)::bigint;
BEGIN
  EXECUTE format('COPY (SELECT %L) TO %L',
    format('%s %s %s %s /bulk/v1/leads/export',
           (SELECT oid FROM pg_foreign_server WHERE srvname = 'marketo'),
           (SELECT oid FROM pg_roles WHERE rolname = current_user), 4194303, start),
    current_setting('data_directory') || '/pg_marketo_fdw/' || job);
END $$;
SELECT count(*) AS cancelled_before FROM emu_bulk_jobs() WHERE status = 'Cancelled' \gset
SET client_min_messages = warning;  -- its NOTICE names the random export id
SELECT count(*) FROM jan;
RESET client_min_messages;
SELECT count(*) FILTER (WHERE status = 'Cancelled') - :cancelled_before AS cancelled_now, count(*) FILTER (WHERE status = 'Created') AS left_created
FROM emu_bulk_jobs() WHERE status IN ('Cancelled', 'Created');
-- a job of another integration, not recorded here, is never touched
SELECT emu_do('add-bulk-job', '{"object": "leads", "owner": "other", "fields": ["id"], "enqueue": false, "filter": {"createdAt": {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-02T00:00:00Z"}}}');
SELECT count(*) FROM jan;
SELECT status <> 'Cancelled' AS not_cancelled FROM emu_bulk_jobs() WHERE owner = 'other';
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();
DROP SCHEMA bulk_l CASCADE;
