--
-- Leads without a usable filter: listed in creation order from the New
-- Lead activities (type 12), each page's ids then read as filterType=id.
-- Read lazily, so LIMIT stops the calls early.
--
SELECT emu_do('reset');
SELECT emu_do('generate-leads', '{"count": 1000, "from": "2024-01-01T00:00:00Z", "to": "2024-12-31T00:00:00Z"}');
SELECT emu_do('expire-tokens');
SELECT emu_do('clear-calls');

-- The preview a BI tool sends: the first 100 leads, 3 REST calls (paging
-- token, one activity page, one lead read) plus the access token request:
-- 4 calls.  (Columns named: earlier tests add fields this emulator lacks.)
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
CREATE TEMP TABLE preview AS
SELECT id, email, first_name, last_name, company, title, lead_score, unsubscribed, created_at, updated_at
FROM marketo.leads LIMIT 100;
SELECT clock_timestamp() - t < interval '2 s' AS under_2_s FROM t0;
-- the first 100 created
SELECT count(*), count(DISTINCT id), min(id), max(id) FROM preview;
SELECT n, method, path, query->>'sinceDatetime' AS since, query->>'activityTypeIds' AS types,
       query->>'batchSize' AS batch, query ? 'nextPageToken' AS token,
       query->>'filterType' AS filter_type,
       array_length(string_to_array(query->>'filterValues', ','), 1) AS ids,
       query->>'fields' AS fields
FROM emu_rest_calls();
SELECT count(*) FILTER (WHERE path LIKE '/identity/%') AS token_calls,
       count(*) FILTER (WHERE path LIKE '/rest/%') AS rest_calls
FROM emu_calls();

-- The rest of this file reads through the listing whatever the query:
-- read_method 'rest' (bulk extract reads: bulk_extract.sql).
ALTER FOREIGN TABLE marketo.leads OPTIONS (ADD read_method 'rest');

-- Creation order: the generated leads of 2024 before the seeded ones,
-- created when the emulator started.
SELECT emu_do('clear-calls');
SELECT id, email FROM marketo.leads LIMIT 3;
SELECT count(*) AS calls FROM emu_rest_calls();

-- count(*): every lead, 2 calls per 300 leads, only the id in fields=.
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT id) FROM marketo.leads;
SELECT n, path, query->>'fields' AS fields,
       array_length(string_to_array(query->>'filterValues', ','), 1) AS ids
FROM emu_rest_calls();

-- DISTINCT over a column that is not searchable.
SELECT DISTINCT company FROM marketo.leads WHERE company IS NOT NULL ORDER BY 1;
SELECT id, first_name FROM marketo.leads WHERE first_name = 'Marge';

-- A created_at lower bound is pushed as sinceDatetime, and rechecked.
SELECT emu_do('clear-calls');
SELECT count(*), min(created_at) AT TIME ZONE 'UTC' AS first_created
FROM marketo.leads WHERE created_at >= '2024-12-01 00:00:00.5+00';
SELECT n, path, query->>'sinceDatetime' AS since FROM emu_rest_calls() WHERE n = 1;
SELECT count(*) FROM marketo.leads WHERE created_at > '2024-12-30T12:00:00Z';
SELECT count(*) FROM marketo.leads WHERE created_at >= 'infinity';
SELECT count(*) FROM marketo.leads WHERE created_at >= NULL::timestamptz;

-- A range relative to now: the BI tool's weekly counts, the same as a
-- local copy's.
SELECT emu_do('reset');
SELECT emu_do('generate-leads', format('{"count": 200, "from": "%s", "to": "%s"}',
       to_char((now() - interval '199 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
CREATE TEMP TABLE all_leads AS SELECT id, created_at FROM marketo.leads;
SELECT count(*) FROM all_leads;
SELECT emu_do('clear-calls');
-- (one statement, so that both sides see the same now())
WITH remote AS (
  SELECT date_trunc('week', created_at) AS week, count(*) FROM marketo.leads
  WHERE created_at >= now() - interval '90 days' GROUP BY 1),
local AS (
  SELECT date_trunc('week', created_at) AS week, count(*) FROM all_leads
  WHERE created_at >= now() - interval '90 days' GROUP BY 1)
SELECT (SELECT sum(count) BETWEEN 89 AND 92 FROM remote) AS about_90,
       (SELECT count(*) >= 13 FROM remote) AS weeks,
       (SELECT count(*) FROM (TABLE remote EXCEPT TABLE local) d) AS only_remote,
       (SELECT count(*) FROM (TABLE local EXCEPT TABLE remote) d) AS only_local;
SELECT (query->>'sinceDatetime')::timestamptz
         BETWEEN now() - interval '90 days 1 minute' AND now() - interval '90 days' + interval '1 minute'
         AS since_90_days_ago,
       (SELECT count(*) FROM emu_rest_calls()) AS calls
FROM emu_rest_calls() WHERE n = 1;

-- A short or empty activity page with moreResult true does not end the
-- listing; a lead listed twice appears once; a deleted lead is skipped.
SELECT emu_do('fault', '{"kind": "raw", "path": "/rest/v1/activities.json", "body":
 "{\"requestId\": \"r\", \"success\": true, \"moreResult\": true, \"nextPageToken\": \"LMRDEMBQGUWTCMRNGMYVIMBQHIYDAORQGBNCELBAGBOQ====\", \"result\": []}"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM marketo.leads;
SELECT n, path FROM emu_rest_calls() WHERE n <= 4;
SELECT min(id) AS listed_twice FROM all_leads \gset
SELECT emu_do('fault', format('{"kind": "raw", "path": "/rest/v1/activities.json", "body":
 "{\"requestId\": \"r\", \"success\": true, \"moreResult\": true, \"nextPageToken\": \"LMRDEMBQGUWTCMRNGMYVIMBQHIYDAORQGBNCELBAGBOQ====\", \"result\": [{\"id\": 1, \"leadId\": %s, \"activityTypeId\": 12}, {\"id\": 2, \"leadId\": 999999, \"activityTypeId\": 12}]}"}', :listed_twice));
SELECT count(*), count(DISTINCT id) FROM marketo.leads;

-- The call budget bounds a whole-table read at run time.
SET marketo_fdw.max_calls_per_statement = 2;
SELECT count(*) FROM marketo.leads;
RESET marketo_fdw.max_calls_per_statement;

-- EXPLAIN: the listing, its planned calls an estimate.
EXPLAIN (COSTS OFF, VERBOSE) SELECT id, email FROM marketo.leads LIMIT 100;
EXPLAIN (COSTS OFF) SELECT count(*) FROM marketo.leads WHERE created_at >= now() - interval '90 days';
-- A usable filter still reads by it; a join reads by its keys (batched).
EXPLAIN (COSTS OFF) SELECT id FROM marketo.leads WHERE email = 'a@example.com';
CREATE TEMP TABLE wanted (email text);
INSERT INTO wanted VALUES ('abe@usa.gov'), ('george@usa.gov');
ANALYZE wanted;
EXPLAIN (COSTS OFF) SELECT l.id FROM wanted w JOIN marketo.leads l ON l.email = w.email;
-- Other objects without a usable filter still need one: objects.sql.
ALTER FOREIGN TABLE marketo.leads OPTIONS (DROP read_method);
