--
-- Reads: WHERE clauses pushed down as filterType/filterValues, chunking,
-- paging, fields=, parameters, joins, local rechecks and EXPLAIN.
--
SELECT emu_do('reset');
SELECT emu_do('add-leads', '[
 {"id": 9001, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee",
  "customerTier": 1, "leadScore": 40, "unsubscribed": false,
  "dateOfBirth": "1990-02-03", "annualRevenue": 1250000.5,
  "createdAt": "2024-05-17T22:11:45Z", "updatedAt": "2024-05-18T08:00:00Z"},
 {"id": 9002, "email": "bob@example.com", "firstName": "Bob", "lastName": null,
  "customerTier": 2, "leadScore": 7, "unsubscribed": true,
  "createdAt": "2024-05-17T22:11:45Z", "updatedAt": "2024-05-17T22:11:45Z"},
 {"id": 9003, "email": "zoe@example.com", "firstName": "Zoë", "lastName": "Ångström",
  "customerTier": 2, "createdAt": "2024-05-17T22:11:45Z", "updatedAt": "2024-05-17T22:11:45Z"},
 {"id": 9004, "email": "carl@example.com", "firstName": "Carl", "company": "Acme, Inc.",
  "customerTier": 3, "createdAt": "2024-05-17T22:11:45Z", "updatedAt": "2024-05-17T22:11:45Z"},
 {"id": 9005, "email": "dee@example.com", "firstName": "Dee", "customerTier": 3,
  "createdAt": "2024-05-17T22:11:45Z", "updatedAt": "2024-05-17T22:11:45Z"}
]');
SELECT emu_do('clear-calls');

-- = on a searchable field: one call, only the columns used in fields=.
SELECT id, email, first_name FROM marketo.leads WHERE email = 'ann@example.com';
SELECT n, method, path, query->>'filterType' AS filter_type,
       query->>'filterValues' AS filter_values, query->>'fields' AS fields,
       query->>'batchSize' AS batch_size
FROM emu_rest_calls();
-- The token was requested once, and only the header carried it.
SELECT method, path, query->>'grant_type' AS grant_type,
       query->>'client_secret' AS secret_as_logged
FROM emu_calls() WHERE path LIKE '/identity/%';
SELECT bool_and(auth = 'bearer') AS bearer, bool_or(token_in_query) AS token_in_url,
       bool_or(path LIKE '%//%') AS double_slash
FROM emu_calls() WHERE path LIKE '/rest/%';

-- Types: timestamptz, date, numeric, boolean, integer; absent fields are NULL.
SELECT id, last_name, lead_score, unsubscribed, date_of_birth, annual_revenue,
       created_at AT TIME ZONE 'UTC' AS created_utc
FROM marketo.leads WHERE id IN (9001, 9002) ORDER BY id;

-- IN, = ANY, NULLs, duplicates and case variants: each distinct value is
-- sent once, case variants each (some fields compare case-sensitively);
-- SQL decides.
SELECT emu_do('clear-calls');
SELECT id FROM marketo.leads WHERE id IN (9003, 9001, NULL, 9001) ORDER BY id;
SELECT id, email FROM marketo.leads
WHERE email = ANY (ARRAY['ANN@example.com', 'bob@example.com', ' Bob@Example.com', NULL])
ORDER BY id;
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();

-- Non-ASCII values are URL-encoded and come back intact.
SELECT id, first_name, last_name FROM marketo.leads WHERE first_name = 'Zoë' AND id = 9003;
SELECT id, first_name FROM marketo.leads WHERE email = 'zoe@example.com';

-- A custom searchable field.
SELECT emu_do('clear-calls');
SELECT id, email FROM marketo.leads WHERE customer_tier = 3 ORDER BY id;
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();

-- Only one clause is pushed (id is preferred); the rest is checked locally.
SELECT emu_do('clear-calls');
SELECT id, first_name FROM marketo.leads
WHERE email IN ('ann@example.com', 'bob@example.com') AND id = 9002 AND first_name LIKE 'B%';
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values,
       query->>'fields' AS fields
FROM emu_rest_calls();

-- An empty list needs no call.
SELECT emu_do('clear-calls');
SELECT id FROM marketo.leads WHERE id = ANY ('{}'::int[]);
SELECT count(*) AS calls FROM emu_rest_calls();

-- Paging: follow nextPageToken until moreResult is false.
SELECT emu_do('config', '{"page_size": 2}');
SELECT emu_do('clear-calls');
SELECT id FROM marketo.leads WHERE id BETWEEN 9000 AND 9010
  AND id IN (9001, 9002, 9003, 9004, 9005) ORDER BY id;
SELECT n, query->>'filterValues' AS filter_values,
       query ? 'nextPageToken' AS has_token
FROM emu_rest_calls();
SELECT emu_do('config', '{"page_size": 300}');

-- Chunks of 300 values per call, and a URL over 8 KB goes as POST _method=GET.
SELECT emu_do('clear-calls');
SELECT count(*) FROM marketo.leads
WHERE id = ANY (ARRAY(SELECT generate_series(8500, 9149)));
-- (the chunks go out together, and arrive in any order)
SELECT method, query->>'_method' AS _method,
       array_length(string_to_array(coalesce(query->>'filterValues', form->>'filterValues'), ','), 1) AS values_sent
FROM emu_rest_calls() ORDER BY values_sent DESC;
SELECT emu_do('clear-calls');
SELECT count(*) FROM marketo.leads
WHERE email = ANY (ARRAY(SELECT 'someone.with.a.long.address' || g || '@example.com'
                         FROM generate_series(1, 300) g) || 'ann@example.com'::text);
-- (the two chunks go out together, and arrive in either order)
SELECT method, path, query->>'_method' AS _method, form->>'filterType' AS form_filter_type,
       array_length(string_to_array(form->>'filterValues', ','), 1) AS values_in_body
FROM emu_rest_calls() ORDER BY method;

-- Parameters, with generic plans.
SET plan_cache_mode = force_generic_plan;
PREPARE by_email(text) AS SELECT id, email FROM marketo.leads WHERE email = $1;
PREPARE by_ids(int[]) AS SELECT id FROM marketo.leads WHERE id = ANY ($1) ORDER BY id;
EXPLAIN (COSTS OFF) EXECUTE by_email('ann@example.com');
SELECT emu_do('clear-calls');
EXECUTE by_email('ann@example.com');
EXECUTE by_email('bob@example.com');
EXECUTE by_ids('{9004,9005,9999}');
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();
DEALLOCATE by_email;
DEALLOCATE by_ids;
RESET plan_cache_mode;

-- A value with a comma cannot be sent: refused, never a wrong answer.
SELECT id FROM marketo.leads WHERE email IN ('ann@example.com', 'a,b@example.com');

-- No filter Marketo can apply: the leads are read by bulk extract
-- (bulk_extract.sql), and the conditions checked locally.
SELECT id FROM marketo.leads;
SELECT id FROM marketo.leads WHERE first_name = 'Ann';
SELECT id FROM marketo.leads WHERE email LIKE 'ann%';

-- A join with a local table runs as a batched join: its keys in one call
-- (sql/batched_join.sql has the rest).
CREATE TEMP TABLE crm_contacts (contact_id int, email text);
INSERT INTO crm_contacts VALUES (1, 'bob@example.com'), (2, 'nobody@example.com'), (3, 'dee@example.com');
ANALYZE crm_contacts;
EXPLAIN (COSTS OFF)
SELECT c.contact_id, l.id FROM crm_contacts c JOIN marketo.leads l ON l.email = c.email;
SELECT emu_do('clear-calls');
SELECT c.contact_id, l.id, l.first_name
FROM crm_contacts c JOIN marketo.leads l ON l.email = c.email ORDER BY 1;
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls() ORDER BY filter_values;
-- A left join keeps CRM rows without a lead.
SELECT c.contact_id, l.id
FROM crm_contacts c LEFT JOIN marketo.leads l ON l.email = c.email ORDER BY 1;

-- EXPLAIN shows object, filter and fields, and makes no call.
SELECT emu_do('clear-calls');
EXPLAIN (COSTS OFF) SELECT id, email FROM marketo.leads WHERE email IN ('ann@example.com', 'bob@example.com');
EXPLAIN (VERBOSE, COSTS OFF) SELECT first_name FROM marketo.leads WHERE id = 9001;
EXPLAIN (COSTS OFF) SELECT id FROM marketo.leads;
SELECT count(*) AS calls FROM emu_calls();
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM marketo.leads WHERE id IN (9001, 9002);

-- A hand-written table with a subset of columns: the column name is the
-- field unless OPTIONS (field) says otherwise; id and email are searchable
-- without describe, other fields when the column says so.
CREATE FOREIGN TABLE my_leads (
  id int,
  email text,
  "first name" text OPTIONS (field 'firstName'),
  tier int OPTIONS (field 'customerTier', searchable 'true')
) SERVER marketo OPTIONS (object 'leads');
SELECT emu_do('clear-calls');
SELECT id, email, "first name", tier FROM my_leads WHERE tier = 2 ORDER BY id;
SELECT id, "first name" FROM my_leads WHERE email = 'dee@example.com';
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values,
       query->>'fields' AS fields
FROM emu_rest_calls();
DROP FOREIGN TABLE my_leads;
