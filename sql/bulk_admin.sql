--
-- Bulk export jobs: marketo_bulk_jobs, marketo_bulk_quota, marketo_bulk_cancel,
-- over the emulator's bulk extract (test/emu_bulk.py).  Jobs are made through
-- emuctl's add-bulk-job, as another integration (or an earlier session of
-- this API user) would make them.
--
SELECT emu_do('reset');
-- Jobs queue 1 s at least, then process for 1 s, 2 at a time.
SELECT emu_do('config', '{"bulk_queue_seconds": 1, "bulk_process_seconds": 1}');

-- The export ids are random UUIDs; shown as {id}.
CREATE FUNCTION no_ids(t text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(t, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '{id}', 'g')
$$;

-- The emulator's own view of every job, of every API user.
CREATE FUNCTION emu_jobs()
RETURNS TABLE (object text, owner text, export_id text, status text, file_size bigint)
LANGUAGE sql AS $$
  SELECT j->>'object', j->>'owner', j->>'exportId', j->>'status', (j->>'fileSize')::bigint
  FROM emu('bulk-jobs') AS line, LATERAL (SELECT line::jsonb AS j) AS x
$$;

-- No jobs yet: two listing calls, below /bulk, not /rest.
SELECT emu_do('clear-calls');
SELECT * FROM marketo_bulk_jobs('marketo');
SELECT method, path, query FROM emu_rest_calls();

-- A lead job of May 2024 (the seed leads were created on 2024-05-17), and
-- a program member job; both complete.
SELECT emu_do('add-bulk-job', '{"object": "leads", "fields": ["id", "email", "company"],
  "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T00:00:00Z"}}}');
SELECT emu_do('add-bulk-job', '{"object": "program members", "fields": ["leadId", "statusName"],
  "filter": {"programIds": [1044]}}');
SELECT status, started_at IS NULL AS not_started FROM marketo_bulk_jobs('marketo') ORDER BY object;
SELECT pg_sleep(2.5);
-- States advanced: each completed with its timestamps in order, its size
-- and record count.
SELECT object, status, format, number_of_records, file_size, error_msg,
       created_at <= queued_at AND queued_at < started_at AND started_at < finished_at AS ordered
FROM marketo_bulk_jobs('marketo') ORDER BY object;
-- The sizes are the emulator's files' sizes.
SELECT (SELECT array_agg(file_size ORDER BY object) FROM marketo_bulk_jobs('marketo'))
     = (SELECT array_agg(file_size ORDER BY object) FROM emu_jobs()) AS sizes_match;

-- Today's quota use: the sum of today's completed jobs' fileSize.
SELECT used_bytes, limit_bytes, remaining_bytes, jobs,
       resets_at > now() AND resets_at <= now() + interval '1 day' AS resets_within_a_day
FROM marketo_bulk_quota('marketo');
SELECT used_bytes, remaining_bytes FROM marketo_bulk_quota('marketo', daily_limit => 300);

-- A failed job shows Marketo's reason.
SELECT emu_do('fault', '{"kind": "job_fail", "message": "Export failed: internal error"}');
SELECT emu_do('add-bulk-job', '{"fields": ["id"],
  "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-02T00:00:00Z"}}}');
SELECT pg_sleep(2.5);
SELECT status, error_msg, file_size FROM marketo_bulk_jobs('marketo') WHERE status = 'Failed';
-- A failed job exports nothing: the quota is unchanged.
SELECT used_bytes, jobs FROM marketo_bulk_quota('marketo');

-- The queue: processing takes long now.  Another integration's 7 jobs and
-- 3 of ours fill the 10 places (2 processing); the 11th is refused, 1029.
SELECT emu_do('config', '{"bulk_queue_seconds": 0, "bulk_process_seconds": 600}');
SELECT emu_do('add-bulk-job', '{"owner": "other@emulator", "fields": ["id"],
  "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T00:00:00Z"}}}')
FROM generate_series(1, 7);
SELECT emu_do('add-bulk-job', '{"fields": ["id"],
  "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T00:00:00Z"}}}')
FROM generate_series(1, 3);
SELECT line::jsonb->>'error_code' AS code, line::jsonb->>'message' AS message
FROM emu('add-bulk-job', '{"fields": ["id"],
  "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T00:00:00Z"}}}') AS line;
-- Only our own jobs are listed; the other API user's are not.
SELECT status, count(*) FROM marketo_bulk_jobs('marketo') GROUP BY status ORDER BY status;
SELECT owner, status, count(*) FROM emu_jobs() WHERE status IN ('Queued', 'Processing')
GROUP BY owner, status ORDER BY owner, status;

-- Cancelling one of our queued jobs: one call, and Marketo then has it Cancelled,
-- which frees a place in the queue.
SELECT emu_do('clear-calls');
SELECT marketo_bulk_cancel('marketo', min(export_id)) AS new_status
FROM marketo_bulk_jobs('marketo') WHERE status = 'Queued';
SELECT n, method, no_ids(path) AS path FROM emu_rest_calls() WHERE path LIKE '%cancel%';
SELECT status, count(*) FROM emu_jobs() WHERE owner NOT LIKE 'other%'
GROUP BY status ORDER BY status;
SELECT line::jsonb->>'status' AS status
FROM emu('add-bulk-job', '{"fields": ["id"],
  "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T00:00:00Z"}}}') AS line;
-- Cancelling an ended job leaves its status.
SELECT marketo_bulk_cancel('marketo', export_id, 'program members') AS new_status
FROM marketo_bulk_jobs('marketo') WHERE object = 'program members';

-- Refused before any call: an unknown object, an id that is no UUID.
SELECT emu_do('clear-calls');
SELECT marketo_bulk_cancel('marketo', '0e9f3c1a-8d54-4b1e-9a6f-2f3b7c1d5e40', 'custom objects');
SELECT marketo_bulk_cancel('marketo', '../../rest/v1/leads');
SELECT count(*) AS calls FROM emu_rest_calls();
-- An id Marketo does not know: its error.
SELECT marketo_bulk_cancel('marketo', '0e9f3c1a-8d54-4b1e-9a6f-2f3b7c1d5e40');

-- Only marketo_fdw servers, and only with USAGE on them.
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other FOREIGN DATA WRAPPER other_fdw;
SELECT * FROM marketo_bulk_jobs('other');
CREATE ROLE mkto_nobody;
SET ROLE mkto_nobody;
SELECT * FROM marketo_bulk_jobs('marketo');
SELECT * FROM marketo_bulk_quota('marketo');
SELECT marketo_bulk_cancel('marketo', '0e9f3c1a-8d54-4b1e-9a6f-2f3b7c1d5e40');
RESET ROLE;
DROP ROLE mkto_nobody;
DROP SERVER other;
DROP FOREIGN DATA WRAPPER other_fdw;

DROP FUNCTION no_ids(text);
DROP FUNCTION emu_jobs();
SELECT emu_do('reset');
