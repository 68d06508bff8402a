--
-- The activity tables: activity_types (one call of types.json), and
-- activities, deleted_leads and lead_changes, read from a paging token for
-- the lower bound of activity_date, page by page.
--
\set VERBOSITY default
SET TIME ZONE 'UTC';
SELECT emu_do('reset');
CREATE SCHEMA act;
SELECT emu_do('clear-calls');
IMPORT FOREIGN SCHEMA marketo
  LIMIT TO (activity_types, activities, deleted_leads, lead_changes, leads)
  FROM SERVER marketo INTO act;
-- This file tests the REST reads: ranges longer than
-- marketo_fdw.activities_bulk_days would otherwise go to the bulk extract
-- (sql/activities_bulk.sql).
ALTER FOREIGN TABLE act.activities OPTIONS (ADD read_method 'rest');
-- only the leads ask for a describe
SELECT n, method, path FROM emu_rest_calls() ORDER BY n;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('activity_types', 'activities', 'deleted_leads', 'lead_changes')
  AND c.relnamespace = 'act'::regnamespace AND a.attnum > 0
ORDER BY c.relname, a.attnum;

-- The calls of the last statement, their parameters.
CREATE FUNCTION act_calls()
RETURNS TABLE (n bigint, path text, since text, types text, leads text, fields text,
               batch text, token boolean, error_code text)
LANGUAGE sql AS $$
  SELECT n, path, query->>'sinceDatetime', query->>'activityTypeIds', query->>'leadIds',
         query->>'fields', query->>'batchSize', query ? 'nextPageToken', error_code
  FROM emu_rest_calls() ORDER BY n
$$;

--
-- activity_types: every type in one call, no paging, filtered locally
--
SELECT emu_do('clear-calls');
SELECT id, name, primary_attribute, jsonb_array_length(attributes) AS attributes
FROM act.activity_types ORDER BY id;
SELECT * FROM act.activity_types WHERE name = 'Open Email';
SELECT * FROM act_calls();
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM act.activity_types WHERE id = 10;
-- Marketo's refusal fails the scan with its code.
SELECT emu_do('fault', '{"kind": "error", "path": "/rest/v1/activities/types.json", "code": "603", "message": "Access denied"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activity_types;
SELECT * FROM act_calls();

--
-- activities
--
-- Every column; attributes as an object by name.  The lower bound is
-- sinceDatetime, the upper bound ends the paging; one call per group of
-- types.
SELECT emu_do('clear-calls');
SELECT * FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-04'
  AND activity_type_id IN (10, 11)
ORDER BY activity_date;
SELECT * FROM act_calls();
SELECT attributes->>'Device' AS device, (attributes->'Is Mobile Device')::boolean AS mobile
FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-04'
  AND activity_type_id = 11
ORDER BY activity_date;

-- > rounds down to whole seconds and is rechecked; = gives both bounds;
-- BETWEEN both, inclusive.
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activities
WHERE activity_date > '2025-03-01T14:26:00.5Z' AND activity_date <= '2025-03-03T02:31:00Z'
  AND activity_type_id = ANY (ARRAY[10, 11]);
SELECT marketo_guid FROM act.activities
WHERE activity_date = '2025-03-01T21:39:00Z' AND activity_type_id = 11;
SELECT count(*) FROM act.activities
WHERE activity_date BETWEEN '2025-03-01T14:26:00Z' AND '2025-03-03T02:31:00Z'
  AND activity_type_id IN (10, 11);
SELECT * FROM act_calls();

-- No lower bound: refused at planning, no call.
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activities WHERE activity_type_id = 10;
SELECT count(*) FROM act.activities WHERE activity_date < '2025-03-04';
EXPLAIN SELECT * FROM act.activities WHERE lead_id = 1001;
SELECT count(*) AS calls FROM act_calls();

-- Paging: 900 activities over 3 days, 300 a page; the last page says
-- moreResult false.
SELECT emu_do('add-activities', '{"count": 900, "types": [1, 10], "from": "2025-06-01T00:00:00Z", "to": "2025-06-04T00:00:00Z"}');
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT marketo_guid), min(activity_date), max(activity_date)
FROM act.activities
WHERE activity_date >= '2025-06-01' AND activity_type_id IN (1, 10);
SELECT * FROM act_calls();

-- The upper bound stops the paging: the page that goes past it is the
-- chunk's last, though moreResult is true.
SELECT emu_do('clear-calls');
SELECT count(*), max(activity_date) FROM act.activities
WHERE activity_date >= '2025-06-01' AND activity_date < '2025-06-02T12:00:00Z'
  AND activity_type_id IN (1, 10);
SELECT * FROM act_calls();
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activities
WHERE activity_date >= '2025-06-01' AND activity_date <= '2025-06-01T12:00:00Z'
  AND activity_type_id = 1;
SELECT * FROM act_calls();

-- Short and empty pages with moreResult true do not end the scan.
SELECT emu_do('fault', '{"kind": "short_page", "path": "/rest/v1/activities.json", "records": 5}');
SELECT emu_do('fault', '{"kind": "empty_page", "path": "/rest/v1/activities.json", "count": 2}');
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT marketo_guid) FROM act.activities
WHERE activity_date >= '2025-06-01' AND activity_type_id IN (1, 10);
SELECT * FROM act_calls();

-- 11 types: 2 calls a page group, 10 and 1.
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-10'
  AND activity_type_id IN (1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 22);
SELECT * FROM act_calls();

-- 31 leads: 2 chunks, 30 and 1; with 2 types, one call each.
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-10'
  AND activity_type_id IN (10, 11)
  AND lead_id = ANY (ARRAY(SELECT 1001 + g FROM generate_series(0, 30) g));
SELECT n, path, since, types, array_length(string_to_array(leads, ','), 1) AS leads, batch
FROM act_calls();

-- No type condition: every type of types.json (15), in groups of 10.
SELECT emu_do('clear-calls');
SELECT activity_type_id, count(*) FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-05'
GROUP BY 1 ORDER BY 1;
SELECT * FROM act_calls();
-- a lead's: the same groups, with leadIds
SELECT emu_do('clear-calls');
SELECT activity_type_id, count(*) FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-04-01' AND lead_id = 1001
GROUP BY 1 ORDER BY 1;
SELECT * FROM act_calls();

-- A rescan (a lateral subquery per lead) learns the types, and the paging
-- token of the same start, once per scan.
SELECT emu_do('clear-calls');
SELECT v.id, x.n FROM (VALUES (1001), (1002)) v(id),
  LATERAL (SELECT count(*) AS n FROM act.activities a
           WHERE a.lead_id = v.id AND a.activity_date >= '2025-03-01'
             AND a.activity_date < '2025-03-15') x
ORDER BY 1;
SELECT * FROM act_calls();

-- Values from parameters; NULL or an empty array: no call.
PREPARE by_lead(int[], timestamptz) AS
  SELECT count(*) FROM act.activities
  WHERE activity_date >= $2 AND lead_id = ANY ($1) AND activity_type_id = 10;
SELECT emu_do('clear-calls');
EXECUTE by_lead(ARRAY[1001, 1002], '2025-03-01');
EXECUTE by_lead('{}', '2025-03-01');
EXECUTE by_lead(ARRAY[1001], NULL);
SELECT * FROM act_calls();
DEALLOCATE by_lead;

-- A Marketo error: the scan fails with its code.
SELECT emu_do('fault', '{"kind": "error", "path": "/rest/v1/activities.json", "code": "1003", "message": "activityTypeIds is invalid"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activities WHERE activity_date >= '2025-03-01' AND activity_type_id = 10;
SELECT * FROM act_calls();
-- a transient one is retried
SELECT emu_do('fault', '{"kind": "error", "path": "/rest/v1/activities/pagingtoken.json", "code": "604"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-04' AND activity_type_id = 10;
SELECT * FROM act_calls();

-- EXPLAIN shows the request.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM act.activities
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-04-01' AND activity_type_id IN (10, 11);
EXPLAIN (COSTS OFF)
SELECT * FROM act.activities WHERE activity_date >= '2025-03-01' AND lead_id = 1001;

--
-- deleted_leads
--
SELECT emu_do('clear-calls');
SELECT * FROM act.deleted_leads WHERE activity_date >= '2025-01-01' ORDER BY activity_date;
SELECT lead_id FROM act.deleted_leads
WHERE activity_date >= '2025-02-11' AND activity_date < '2025-03-01';
SELECT * FROM act_calls();
SELECT emu_do('clear-calls');
SELECT * FROM act.deleted_leads WHERE lead_id = 901;
SELECT count(*) AS calls FROM act_calls();
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM act.deleted_leads WHERE activity_date >= '2025-01-01';
-- paging, through a short page
SELECT emu_do('fault', '{"kind": "short_page", "path": "/rest/v1/activities/deletedleads.json", "records": 1}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.deleted_leads WHERE activity_date >= '2025-01-01';
SELECT * FROM act_calls();
-- an error code
SELECT emu_do('fault', '{"kind": "error", "path": "/rest/v1/activities/deletedleads.json", "code": "1003", "message": "Invalid nextPageToken"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.deleted_leads WHERE activity_date >= '2025-01-01';
SELECT * FROM act_calls();

--
-- lead_changes: the fields to read from a condition on the fields column
--
SELECT emu_do('clear-calls');
SELECT id, lead_id, activity_date, activity_type_id, fields, attributes->>'Reason' AS reason
FROM act.lead_changes
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-20' AND fields ? 'title'
ORDER BY activity_date;
SELECT lead_id, activity_date, fields->'leadScore'->>'newValue' AS new_score
FROM act.lead_changes
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-03-20'
  AND fields ?| ARRAY['leadScore', 'company'] AND lead_id IN (1004, 1007, 1010)
ORDER BY activity_date;
SELECT * FROM act_calls();
-- New Lead records list the fields the new lead was created with.
SELECT lead_id, activity_type_id, fields->'email'->>'newValue' AS email
FROM act.lead_changes
WHERE activity_date >= '2024-05-17' AND activity_date < '2024-05-18'
  AND fields ? 'email' AND lead_id IN (1001, 1002)
ORDER BY lead_id;
-- without fields, or without a lower bound: refused
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.lead_changes WHERE activity_date >= '2025-03-01';
SELECT count(*) FROM act.lead_changes WHERE fields ? 'title';
SELECT count(*) AS calls FROM act_calls();
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM act.lead_changes WHERE activity_date >= '2025-03-01' AND fields ?| ARRAY['title', 'email'];
-- an unknown field: Marketo's error
SELECT count(*) FROM act.lead_changes WHERE activity_date >= '2025-03-01' AND fields ? 'noSuchField';
-- paging through an empty page; then an error code
SELECT emu_do('fault', '{"kind": "empty_page", "path": "/rest/v1/activities/leadchanges.json"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.lead_changes
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-04-01' AND fields ? 'company';
SELECT * FROM act_calls();
SELECT emu_do('fault', '{"kind": "error", "path": "/rest/v1/activities/leadchanges.json", "code": "1003", "message": "Invalid nextPageToken"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM act.lead_changes
WHERE activity_date >= '2025-03-01' AND activity_date < '2025-04-01' AND fields ? 'company';
SELECT * FROM act_calls();

--
-- Email engagement per CRM account over 30 days (issue 12): contacts
-- (local) -> leads by email -> their Open Email and Click Email activities.
--
CREATE TEMP TABLE crm_contacts (account text, email text);
INSERT INTO crm_contacts VALUES
  ('Government', 'abe@usa.gov'), ('Government', 'george@usa.gov'),
  ('Springfield', 'marge.simpson@fox.com'), ('Acme', 'ceo@acme.example'),
  ('Westeros', 'meera@housestark.com'), ('Westeros', 'jon@housestark.com'),
  ('Westeros', 'lyanna@housestark.com'), ('Nobody', 'nobody@example.com');
ANALYZE crm_contacts;
SELECT emu_do('clear-calls');
SELECT c.account, t.name AS activity, count(*) AS activities, count(DISTINCT l.id) AS leads
FROM crm_contacts c
JOIN act.leads l ON l.email = c.email
JOIN act.activities a ON a.lead_id = l.id
JOIN (VALUES (10, 'Open Email'), (11, 'Click Email')) t(id, name) ON t.id = a.activity_type_id
WHERE a.activity_date >= '2025-03-01' AND a.activity_date < '2025-03-31'
  AND a.activity_type_id IN (10, 11)
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT n, path, since, types, leads FROM act_calls();
EXPLAIN (COSTS OFF)
SELECT c.account, count(*)
FROM crm_contacts c
JOIN act.leads l ON l.email = c.email
JOIN act.activities a ON a.lead_id = l.id
WHERE a.activity_date >= '2025-03-01' AND a.activity_date < '2025-03-31'
  AND a.activity_type_id IN (10, 11)
GROUP BY 1;
-- Every type of activity of the contacts' leads: the batched join sends
-- their ids, 30 a call (the 7 found here in one), with each group of 10
-- types.
EXPLAIN (COSTS OFF)
SELECT c.account, a.activity_type_id, count(*)
FROM crm_contacts c
JOIN act.leads l ON l.email = c.email
JOIN act.activities a ON a.lead_id = l.id
WHERE a.activity_date >= '2025-03-01' AND a.activity_date < '2025-03-31'
GROUP BY 1, 2;
SELECT emu_do('clear-calls');
SELECT c.account, a.activity_type_id, count(*)
FROM crm_contacts c
JOIN act.leads l ON l.email = c.email
JOIN act.activities a ON a.lead_id = l.id
WHERE a.activity_date >= '2025-03-01' AND a.activity_date < '2025-03-31'
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT n, path, since, types, leads FROM act_calls();
-- the same, computed locally from the emulator's own records
SELECT c.account, count(*)
FROM crm_contacts c
JOIN (SELECT line::jsonb AS a FROM emu('activities') AS line) s ON true
JOIN (SELECT line::jsonb AS l FROM emu('leads') AS line) ld ON (ld.l->>'email') = c.email
WHERE (s.a->>'leadId')::int = (ld.l->>'id')::int
  AND (s.a->>'activityTypeId')::int IN (10, 11)
  AND (s.a->>'activityDate')::timestamptz >= '2025-03-01'
  AND (s.a->>'activityDate')::timestamptz < '2025-03-31'
GROUP BY 1 ORDER BY 1;

DROP SCHEMA act CASCADE;
RESET TIME ZONE;
