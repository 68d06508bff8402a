--
-- The fault matrix: for each fault the emulator injects, the outcome
-- (success after how many attempts, or the exact SQLSTATE and message) and
-- the calls Marketo saw.  Reads are always retried; writes only where
-- repeating them is safe (README, "Retries").
--
\set VERBOSITY default
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA flt;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads, list_members) FROM SERVER marketo INTO flt;
CREATE FOREIGN TABLE flt.leads_upsert (id int OPTIONS (read_only 'true'), email text, first_name text OPTIONS (field 'firstName'))
  SERVER marketo OPTIONS (object 'leads', insert_action 'createOrUpdate');
CREATE FOREIGN TABLE flt.leads_dup (id int OPTIONS (read_only 'true'), email text, first_name text OPTIONS (field 'firstName'))
  SERVER marketo OPTIONS (object 'leads', insert_action 'createDuplicate');
-- under_fault catches each write's own error: sent per statement
ALTER FOREIGN TABLE flt.leads OPTIONS (ADD write_batching 'statement');
ALTER FOREIGN TABLE flt.list_members OPTIONS (ADD write_batching 'statement');
ALTER FOREIGN TABLE flt.leads_upsert OPTIONS (ADD write_batching 'statement');
ALTER FOREIGN TABLE flt.leads_dup OPTIONS (ADD write_batching 'statement');
SET client_min_messages = notice;
SELECT emu_do('add-leads', '[{"id": 9401, "email": "flo@example.com", "firstName": "Flo"},
                             {"id": 9402, "email": "gus@example.com", "firstName": "Gus"}]');
-- Short delays keep the test quick; the schedule is the same, scaled.
SET marketo_fdw.retry_delay = '20ms';

-- Runs query with fault (or a JSON array of faults, taken in turn) injected; returns the outcome and what Marketo saw:
-- its answers to the REST calls in order (the error code, the HTTP status,
-- the fault that shaped it, or "ok"), and the number of token requests.
CREATE FUNCTION under_fault(fault text, query text,
                            OUT outcome text, OUT answers text, OUT token_calls bigint)
LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; det text; hnt text;
BEGIN
  PERFORM emu_do('clear-faults');
  PERFORM emu_do('clear-calls');
  IF jsonb_typeof(fault::jsonb) = 'array' THEN
    PERFORM emu_do('fault', f::text) FROM jsonb_array_elements(fault::jsonb) AS f;
  ELSE
    PERFORM emu_do('fault', fault);
  END IF;
  BEGIN
    EXECUTE query;
    outcome := 'ok';
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    outcome := concat_ws(E'\n', st || ': ' || msg, 'DETAIL: ' || nullif(det, ''), 'HINT: ' || nullif(hnt, ''));
  END;
  SELECT string_agg(CASE WHEN j->>'error_code' IS NOT NULL THEN j->>'error_code'
                         WHEN j ? 'fault' AND j->>'fault' <> 'http' THEN j->>'fault'
                         WHEN j->>'http_status' <> '200' THEN 'http ' || (j->>'http_status')
                         ELSE 'ok' END, ', ' ORDER BY (j->>'seq')::int)
                FILTER (WHERE j->>'path' NOT LIKE '/identity/%'),
         count(*) FILTER (WHERE j->>'path' LIKE '/identity/%')
    INTO answers, token_calls
  FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) AS x;
  PERFORM emu_do('clear-faults');
END $$;

-- Reads: every transient fault is retried, then the read succeeds.
SELECT f AS fault, r.*
FROM (VALUES
  ('{"kind": "error", "code": "604", "message": "Request timed out"}'),
  ('{"kind": "error", "code": "606", "message": "Max rate limit exceeded"}'),
  ('{"kind": "error", "code": "608", "message": "API Temporarily Unavailable"}'),
  ('{"kind": "error", "code": "611", "message": "System error"}'),
  ('{"kind": "error", "code": "615", "message": "Concurrent access limit reached"}'),
  ('{"kind": "error", "code": "713", "message": "Transient Error"}'),
  ('{"kind": "http", "status": 502}'),
  ('{"kind": "http", "status": 503}'),
  ('{"kind": "http", "status": 504}'),
  ('{"kind": "close"}'),
  ('{"kind": "malformed"}')
) AS v(f),
LATERAL under_fault(jsonb_set(f::jsonb, '{path}', '"/rest/v1/leads.json"')::text,
                    'SELECT id FROM flt.leads WHERE id = 9401') AS r;

-- 601 and 602: a new token, then the call once more.
SELECT f AS fault, r.*
FROM (VALUES
  ('{"kind": "error", "code": "601", "message": "Access token invalid"}'),
  ('{"kind": "error", "code": "602", "message": "Access token expired"}')
) AS v(f),
LATERAL under_fault(jsonb_set(f::jsonb, '{path}', '"/rest/v1/leads.json"')::text,
                    'SELECT id FROM flt.leads WHERE id = 9401') AS r;
-- ... but a token refused twice in a row is an error (and the token is
-- dropped: the next call below asks for a new one).
SELECT * FROM under_fault('{"path": "/rest/v1/leads.json", "kind": "error", "code": "601", "message": "Access token invalid", "count": 2}',
                          'SELECT id FROM flt.leads WHERE id = 9401');

-- A fault that persists: five attempts, then an error that says so.
SELECT * FROM under_fault('{"path": "/rest/v1/leads.json", "kind": "error", "code": "611", "message": "System error", "count": 9}',
                          'SELECT id FROM flt.leads WHERE id = 9401');
SELECT * FROM under_fault('{"path": "/rest/v1/leads.json", "kind": "http", "status": 503, "count": 9}',
                          'SELECT id FROM flt.leads WHERE id = 9401');

-- Not transient: no retry.
SELECT f AS fault, r.*
FROM (VALUES
  ('{"kind": "error", "code": "603", "message": "Access denied"}'),
  ('{"kind": "error", "code": "1003", "message": "Invalid value"}'),
  ('{"kind": "http", "status": 500}'),
  ('{"kind": "http", "status": 404}')
) AS v(f),
LATERAL under_fault(jsonb_set(f::jsonb, '{path}', '"/rest/v1/leads.json"')::text,
                    'SELECT id FROM flt.leads WHERE id = 9401') AS r;

-- A redirect is not followed, to another host or any other.
SELECT * FROM under_fault('{"path": "/rest/v1/leads.json", "kind": "http", "status": 302, "location": "https://elsewhere.example.com/rest/v1/leads.json"}',
                          'SELECT id FROM flt.leads WHERE id = 9401');

-- A column mapped to a field Marketo does not have (1006).
CREATE FOREIGN TABLE flt.leads_typo (id int OPTIONS (read_only 'true'), first_name text OPTIONS (field 'firstNmae'))
  SERVER marketo OPTIONS (object 'leads');
SELECT * FROM under_fault('{"path": "/nowhere", "kind": "close"}', 'SELECT * FROM flt.leads_typo WHERE id = 9401');

-- Paging.  The docs show list and program lead listings with a
-- nextPageToken and no moreResult: the token alone means more pages, until
-- a page comes back empty.
SELECT * FROM under_fault('[{"path": "/rest/v1/lists/77/leads.json", "kind": "raw", "body": "{\"requestId\":\"1#1\",\"success\":true,\"result\":[{\"id\":9401}],\"nextPageToken\":\"P2==\"}"},
                            {"path": "/rest/v1/lists/77/leads.json", "kind": "raw", "body": "{\"requestId\":\"1#2\",\"success\":true,\"result\":[{\"id\":9402}],\"nextPageToken\":\"P3==\"}"},
                            {"path": "/rest/v1/lists/77/leads.json", "kind": "raw", "body": "{\"requestId\":\"1#3\",\"success\":true,\"result\":[],\"nextPageToken\":\"P4==\"}"}]',
                          'CREATE TEMP TABLE listed AS SELECT id FROM flt.list_members WHERE list_id = 77');
SELECT id FROM listed ORDER BY id;
SELECT query->>'nextPageToken' AS token_sent FROM emu_rest_calls() ORDER BY n;
-- A token that repeats would page forever; moreResult without a token
-- cannot be followed.  Both are errors, never a short result.
SELECT * FROM under_fault('{"path": "/rest/v1/lists/77/leads.json", "kind": "raw", "count": 2, "body": "{\"requestId\":\"1#1\",\"success\":true,\"result\":[{\"id\":9401}],\"nextPageToken\":\"SAME==\"}"}',
                          'SELECT count(*) FROM flt.list_members WHERE list_id = 77');
SELECT * FROM under_fault('{"path": "/rest/v1/lists/77/leads.json", "kind": "raw", "body": "{\"requestId\":\"1#1\",\"success\":true,\"result\":[{\"id\":9401}],\"moreResult\":true}"}',
                          'SELECT count(*) FROM flt.list_members WHERE list_id = 77');

-- Writes.  A createOnly INSERT is not repeated after an answer that leaves
-- its outcome unknown: a second attempt could fail on the first one's
-- success.  Answers that say Marketo did nothing (606, 615, 601/602) are
-- safe to repeat for every write.
SELECT f AS fault, r.*
FROM (VALUES
  ('{"kind": "error", "code": "611", "message": "System error"}'),
  ('{"kind": "error", "code": "604", "message": "Request timed out"}'),
  ('{"kind": "http", "status": 503}'),
  ('{"kind": "close"}'),
  ('{"kind": "error", "code": "606", "message": "Max rate limit exceeded"}'),
  ('{"kind": "error", "code": "615", "message": "Concurrent access limit reached"}'),
  ('{"kind": "error", "code": "602", "message": "Access token expired"}')
) AS v(f),
LATERAL under_fault(jsonb_set(f::jsonb, '{path}', '"/rest/v1/leads.json"')::text,
                    'INSERT INTO flt.leads (email) VALUES (''new' || md5(f) || '@example.com'')') AS r;

-- createDuplicate likewise; createOrUpdate, UPDATE (updateOnly) and DELETE
-- by id set the same state when repeated, so they are retried.
SELECT q AS statement, r.*
FROM (VALUES
  ('INSERT INTO flt.leads_dup (email) VALUES (''dup@example.com'')'),
  ('INSERT INTO flt.leads_upsert (email, first_name) VALUES (''flo@example.com'', ''Flora'')'),
  ('UPDATE flt.leads SET first_name = ''Gustav'' WHERE id = 9402')
) AS v(q),
LATERAL under_fault('{"path": "/rest/v1/leads.json", "method": "POST", "kind": "error", "code": "611", "message": "System error"}', q) AS r;
SELECT * FROM under_fault('{"path": "/rest/v1/leads/delete.json", "kind": "error", "code": "611", "message": "System error"}',
                          'DELETE FROM flt.leads WHERE id = 9402');
-- The retried changes are in place; the INSERT that failed created nothing.
SELECT id, email, first_name FROM flt.leads WHERE email IN ('flo@example.com', 'gus@example.com', 'dup@example.com') ORDER BY id;

-- A write that hangs past write_timeout: a createOnly INSERT is given up
-- and not repeated; an UPDATE is repeated.
ALTER SERVER marketo OPTIONS (ADD write_timeout '1');
SELECT * FROM under_fault('{"path": "/rest/v1/leads.json", "method": "POST", "kind": "hang", "seconds": 3}',
                          'INSERT INTO flt.leads (email) VALUES (''slow@example.com'')');
SELECT * FROM under_fault('{"path": "/rest/v1/leads.json", "method": "POST", "kind": "hang", "seconds": 3}',
                          'UPDATE flt.leads SET first_name = ''Flo'' WHERE id = 9401');
ALTER SERVER marketo OPTIONS (DROP write_timeout);

-- Lead actions are not repeated either.
SELECT * FROM under_fault('{"path": "/rest/v1/leads/9401/merge.json", "kind": "error", "code": "611", "message": "System error"}',
                          'SELECT marketo_merge_leads(''marketo'', 9401, ARRAY[9402])');

RESET marketo_fdw.retry_delay;
-- Only superusers change the retry schedule.
CREATE ROLE flt_user;
SET ROLE flt_user;
SET marketo_fdw.retry_delay = '1ms';
RESET ROLE;
DROP ROLE flt_user;
SET client_min_messages = warning;
DROP SCHEMA flt CASCADE;
