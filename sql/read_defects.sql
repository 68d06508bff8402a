--
-- Reads that used to return wrong answers (issue 9, items 7, 8, 9, 14, 20):
-- collations, exact numbers, repeated records, the call budget and plan
-- costs.  Every check reads the emulator's call log or an exact value.
--
\set VERBOSITY default
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA rd;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO rd;
SET client_min_messages = notice;

-- ---------------------------------------------------------------------
-- Collations.  Under a nondeterministic collation 'café' also equals
-- 'CAFE' and 'Cafe', which Marketo would not match: such a comparison is
-- not pushed, another filter is, and SQL decides.
-- ---------------------------------------------------------------------
CREATE COLLATION rd.ci_ai (provider = icu, locale = 'und-u-ks-level1', deterministic = false);
SELECT emu_do('add-leads', '[
 {"id": 9601, "email": "c1@example.com", "acmeAccessCode": "CAFE"},
 {"id": 9602, "email": "c2@example.com", "acmeAccessCode": "café"},
 {"id": 9603, "email": "c3@example.com", "acmeAccessCode": "Cafe"},
 {"id": 9604, "email": "c4@example.com", "acmeAccessCode": "tea"}
]');
SELECT emu_do('clear-calls');
SELECT id, acme_access_code FROM rd.leads
WHERE email IN ('c1@example.com', 'c2@example.com', 'c3@example.com', 'c4@example.com')
  AND acme_access_code = 'café' COLLATE rd.ci_ai
ORDER BY id;
SELECT id FROM rd.leads
WHERE email IN ('c1@example.com', 'c2@example.com', 'c3@example.com', 'c4@example.com')
  AND acme_access_code COLLATE rd.ci_ai = ANY (ARRAY['CAFÉ'])
ORDER BY id;
SELECT n, query->>'filterType' AS filter_type FROM emu_rest_calls();
-- A deterministic collation is pushed as before (one value beats four).
SELECT emu_do('clear-calls');
SELECT id FROM rd.leads
WHERE email IN ('c1@example.com', 'c2@example.com', 'c3@example.com', 'c4@example.com')
  AND acme_access_code = 'tea' COLLATE "C";
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();
-- A column declared with the collation: the same.
CREATE FOREIGN TABLE rd.leads_ci (
  id int OPTIONS (searchable 'true'),
  email text OPTIONS (searchable 'true'),
  acme_access_code text OPTIONS (field 'acmeAccessCode', searchable 'true') COLLATE rd.ci_ai
) SERVER marketo OPTIONS (object 'leads');
SELECT emu_do('clear-calls');
SELECT id FROM rd.leads_ci
WHERE email IN ('c1@example.com', 'c2@example.com', 'c3@example.com', 'c4@example.com')
  AND acme_access_code = 'CAFÉ'
ORDER BY id;
SELECT n, query->>'filterType' AS filter_type FROM emu_rest_calls();
-- Only the nondeterministic comparison: nothing Marketo can filter on, so
-- the leads are listed and the comparison is checked locally.
SELECT id FROM rd.leads WHERE acme_access_code = 'café' COLLATE rd.ci_ai;

-- Values are sent once only when exactly equal: Salesforce ids (15
-- characters) are case-sensitive, so both spellings go to Marketo.
SELECT emu_do('clear-calls');
SELECT id FROM rd.leads
WHERE sfdc_lead_id IN ('00Q5e00000AbCdE', '00Q5e00000abcde', '00Q5e00000AbCdE', ' 00Q5e00000AbCdE');
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();

-- ---------------------------------------------------------------------
-- Numbers keep their exact text, beyond 64 bits too: exact in numeric,
-- the usual conversion error where the column cannot hold them.
-- ---------------------------------------------------------------------
CREATE FOREIGN TABLE rd.nums (
  id int,
  big bigint OPTIONS (field 'leadScore'),
  exact numeric OPTIONS (field 'annualRevenue'),
  approx float8 OPTIONS (field 'customerTier')
) SERVER marketo OPTIONS (object 'leads');
CREATE FUNCTION rd.answer(records text) RETURNS boolean LANGUAGE sql AS $$
  SELECT emu_do('fault', json_build_object('path', '/rest/v1/leads.json', 'kind', 'raw',
    'body', '{"requestId":"1#1","success":true,"result":' || records || '}')::text)
$$;
SELECT rd.answer('[{"id":9501,"annualRevenue":123456789012345678901234567890},
                   {"id":9502,"annualRevenue":-99999999999999999999999},
                   {"id":9503,"annualRevenue":18446744073709551616},
                   {"id":9504,"annualRevenue":-9223372036854775809},
                   {"id":9505,"annualRevenue":0.1},
                   {"id":9506,"annualRevenue":1e400},
                   {"id":9507,"annualRevenue":-0},
                   {"id":9508,"annualRevenue":12345678901234567890.12345678901234567890}]');
SELECT id, exact FROM rd.nums WHERE id BETWEEN 9501 AND 9508 AND id IN (9501, 9502, 9503, 9504, 9505, 9507, 9508)
ORDER BY id;
SELECT rd.answer('[{"id":9506,"annualRevenue":1e400}]');
SELECT exact = 1e400 AS exact_1e400 FROM rd.nums WHERE id = 9506;
-- float8: -0 keeps its sign, 1e400 does not fit.
SELECT rd.answer('[{"id":9507,"customerTier":-0},{"id":9505,"customerTier":0.1}]');
SELECT id, approx FROM rd.nums WHERE id IN (9505, 9507) ORDER BY id;
SELECT rd.answer('[{"id":9506,"customerTier":1e400}]');
SELECT id, approx FROM rd.nums WHERE id = 9506;
-- bigint: out of range is an error naming the column, field and value.
SELECT rd.answer('[{"id":9502,"leadScore":-99999999999999999999999}]');
SELECT id, big FROM rd.nums WHERE id = 9502;
SELECT rd.answer('[{"id":9501,"leadScore":123456789012345678901234567890}]');
SELECT id, big FROM rd.nums WHERE id = 9501;
SELECT rd.answer('[{"id":9503,"leadScore":9223372036854775807},{"id":9504,"leadScore":-9223372036854775808}]');
SELECT id, big FROM rd.nums WHERE id IN (9503, 9504) ORDER BY id;
-- Digits inside strings are left alone.
SELECT rd.answer('[{"id":9501,"annualRevenue":"123456789012345678901234567890"}]');
SELECT id, exact FROM rd.nums WHERE id = 9501;

-- The lead-action functions send the numbers they are given, exactly.
SELECT emu_do('clear-calls');
SELECT status FROM marketo_push_leads('marketo', 'Big Blue Thing Product Launch',
  '[{"email": "big@example.com", "annualRevenue": 123456789012345678901234567890,
     "leadScore": -99999999999999999999999, "customerTier": -0}]');
SELECT body->'input'->0->'annualRevenue' AS revenue_sent,
       body->'input'->0->'leadScore' AS score_sent
FROM emu_rest_calls() WHERE path = '/rest/v1/leads/push.json';
SELECT emu_do('clear-calls');
SELECT status FROM marketo_submit_form('marketo', 1029,
  '{"email": "form@example.com", "annualRevenue": 98765432109876543210987654321}');
SELECT body->'input'->0->'leadFormFields'->'annualRevenue' AS revenue_sent
FROM emu_rest_calls() WHERE path = '/rest/v1/leads/submitForm.json';

-- ---------------------------------------------------------------------
-- Repeated records: a record two calls of one scan both return appears
-- once, whatever the number of chunks; records without an id are never
-- merged.
-- ---------------------------------------------------------------------
SELECT emu_do('add-leads', '[{"id": 9701, "email": "d99@example.com", "firstName": "Once"}]');
-- One chunk: the page holds the same record twice.
SELECT rd.answer('[{"id":9701,"email":"d99@example.com","firstName":"Once"},
                   {"id":9701,"email":"d99@example.com","firstName":"Once"},
                   {"id":null,"email":"d2@example.com","firstName":"N1"},
                   {"id":null,"email":"d2@example.com","firstName":"N2"},
                   {"email":"d2@example.com","firstName":"N3"}]');
SELECT id, first_name FROM rd.leads WHERE email IN ('d99@example.com', 'd2@example.com')
ORDER BY first_name;
-- Two chunks of 300 and 1 value: the first (answered as given) and the
-- second (the emulator's own answer) both hold lead 9701.
SELECT rd.answer('[{"id":9701,"email":"d99@example.com","firstName":"Once"},
                   {"id":null,"email":"d2@example.com","firstName":"N1"},
                   {"id":null,"email":"d2@example.com","firstName":"N2"},
                   {"email":"d2@example.com","firstName":"N3"}]');
SELECT emu_do('clear-calls');
SELECT id, first_name FROM rd.leads
WHERE email = ANY (ARRAY(SELECT 'd' || g || '@example.com' FROM generate_series(1, 301) g))
ORDER BY first_name;
SELECT n, array_length(string_to_array(query->>'filterValues', ','), 1) AS values_sent,
       query->>'filterValues' LIKE '%d99@example.com%' AS has_d99
FROM emu_rest_calls();

-- ---------------------------------------------------------------------
-- The call budget refuses up front only counts that are known.
-- ---------------------------------------------------------------------
SELECT emu_do('add-leads', '[{"id": 9801, "email": "e1@example.com"},
                             {"id": 9802, "email": "e2@example.com"},
                             {"id": 9803, "email": "e3@example.com"}]');
-- A join against an unanalyzed 3-row table: the planner guesses thousands
-- of outer rows; the batched join makes 1 call.
CREATE TABLE rd.few (id int);
INSERT INTO rd.few VALUES (9801), (9802), (9803);
EXPLAIN (COSTS OFF) SELECT l.id, l.email FROM rd.few f JOIN rd.leads l ON l.id = f.id;
SET marketo_fdw.max_calls_per_statement = 1000;
SELECT emu_do('clear-calls');
SELECT l.id, l.email FROM rd.few f JOIN rd.leads l ON l.id = f.id ORDER BY 1;
SELECT count(*) AS calls FROM emu_rest_calls();
-- The same with a budget of 2, as a nested loop (a call per row): it
-- stops at the budget as it runs.
SET marketo_fdw.enable_batched_join = off;
SET marketo_fdw.max_calls_per_statement = 2;
SELECT emu_do('clear-calls');
SELECT l.id, l.email FROM rd.few f JOIN rd.leads l ON l.id = f.id ORDER BY 1;
SELECT count(*) AS calls FROM emu_rest_calls();
RESET marketo_fdw.enable_batched_join;

-- = ANY(ARRAY(SELECT ...)): refused once its values are counted, before
-- the first call (1000 values need 4 calls).
SET marketo_fdw.max_calls_per_statement = 3;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM rd.leads WHERE id = ANY (ARRAY(SELECT generate_series(1, 1000)));
SELECT emu_do('clear-calls');
SELECT count(*) FROM rd.leads WHERE id = ANY (ARRAY(SELECT generate_series(1, 1000)));
SELECT count(*) AS calls FROM emu_rest_calls();
-- Within the budget it runs: 900 values, 3 calls.
SELECT count(*) FROM rd.leads WHERE id = ANY (ARRAY(SELECT generate_series(9001, 9900)));
SELECT count(*) AS calls FROM emu_rest_calls();
-- A parameter's values, likewise.
SET plan_cache_mode = force_generic_plan;
PREPARE rd_ids(int[]) AS SELECT count(*) FROM rd.leads WHERE id = ANY ($1);
SELECT array_agg(g)::text AS many_ids FROM generate_series(1, 901) g \gset
SELECT emu_do('clear-calls');
EXECUTE rd_ids(:'many_ids');
EXECUTE rd_ids(ARRAY[9801, 9802]);
SELECT count(*) AS calls FROM emu_rest_calls();
DEALLOCATE rd_ids;
RESET plan_cache_mode;
-- Constants are counted at plan time and refused before any call.
SET marketo_fdw.max_calls_per_statement = 1;
EXPLAIN (COSTS OFF) SELECT count(*) FROM rd.leads WHERE id IN (1, 2, 3);
SELECT emu_do('clear-calls');
DO $$ BEGIN
  EXECUTE 'SELECT count(*) FROM rd.leads WHERE id = ANY ('''
          || (SELECT array_agg(g)::text FROM generate_series(1, 301) g) || '''::int[])';
END $$;
SELECT count(*) AS calls FROM emu_rest_calls();
RESET marketo_fdw.max_calls_per_statement;

-- ---------------------------------------------------------------------
-- Plan costs: a small join stays below jit_above_cost, so JIT stays off.
-- ---------------------------------------------------------------------
CREATE FUNCTION rd.plan_of(query text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
  RETURN plan->0;
END $$;
SET jit = on;
SET jit_above_cost = 100000;
SET marketo_fdw.max_calls_per_statement = 0;	-- no budget: costs alone
SELECT (p->'Plan'->>'Total Cost')::float8 < current_setting('jit_above_cost')::float8 AS below_jit_cost,
       p ? 'JIT' AS jit_used
FROM rd.plan_of('SELECT l.id, l.email FROM rd.few f JOIN rd.leads l ON l.id = f.id') AS p;
-- JIT itself works here: a costly local query does use it.
SELECT p ? 'JIT' AS jit_used
FROM rd.plan_of('SELECT count(*) FROM generate_series(1, 10) g CROSS JOIN rd.few a CROSS JOIN rd.few b CROSS JOIN rd.few c') AS p;
RESET jit;
RESET jit_above_cost;
RESET marketo_fdw.max_calls_per_statement;

SET client_min_messages = warning;
DROP SCHEMA rd CASCADE;
RESET client_min_messages;
