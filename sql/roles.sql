--
-- Opportunity roles by their compound dedupe key (externalOpportunityId,
-- leadId, role): POST ?_method=GET with a JSON input of key tuples.
--
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA roles_test;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (opportunity_roles) FROM SERVER marketo INTO roles_test;

-- Row IN list: one call with both keys; matching is Marketo's, so the
-- recheck keeps SQL's exact comparison.
EXPLAIN (COSTS OFF, VERBOSE)
SELECT marketo_guid, lead_id, role FROM roles_test.opportunity_roles
WHERE (external_opportunity_id, lead_id, role) IN
      (('19UYA31581L000000', 1001, 'Decision Maker'), ('19UYA31581L000000', 1002, 'Influencer'));
SELECT emu_do('clear-calls');
SELECT marketo_guid, lead_id, role FROM roles_test.opportunity_roles
WHERE (external_opportunity_id, lead_id, role) IN
      (('19UYA31581L000000', 1001, 'Decision Maker'), ('19UYA31581L000000', 1002, 'Influencer'),
       ('19UYA31581L000000', 1002, 'Nobody'))
ORDER BY lead_id;
SELECT n, method, path, query, body FROM emu_rest_calls();

-- Three equalities make one key; a repeated key and a NULL key are not sent.
SELECT emu_do('clear-calls');
SELECT lead_id, is_primary FROM roles_test.opportunity_roles
WHERE external_opportunity_id = '19UYA31581L000000' AND lead_id = 1001 AND role = 'Decision Maker';
SELECT lead_id FROM roles_test.opportunity_roles
WHERE (external_opportunity_id, lead_id, role) IN
      (('19UYA31581L000000', 1001, 'Decision Maker'), ('19UYA31581L000000', 1001, 'Decision Maker'),
       ('19UYA31581L000000', NULL, 'Influencer'));
SELECT n, method, path, body->'input' AS input FROM emu_rest_calls();

-- The id is still the better filter.
EXPLAIN (COSTS OFF)
SELECT lead_id FROM roles_test.opportunity_roles
WHERE marketo_guid = '8a1c2f8e-0d7b-4c1e-9f5a-000000000001'
  AND external_opportunity_id = '19UYA31581L000000' AND lead_id = 1001 AND role = 'Decision Maker';

-- Paging repeats the whole input with the token.
SELECT emu_do('config', '{"page_size": 1}');
SELECT emu_do('clear-calls');
SELECT lead_id FROM roles_test.opportunity_roles
WHERE (external_opportunity_id, lead_id, role) IN
      (('19UYA31581L000000', 1001, 'Decision Maker'), ('19UYA31581L000000', 1002, 'Influencer'))
ORDER BY 1;
SELECT n, body->'input' = lag(body->'input') OVER (ORDER BY n) AS same_input,
       body ? 'nextPageToken' AS has_token FROM emu_rest_calls();
SELECT emu_do('config', '{"page_size": 300}');

-- A join on all three key columns: a batched join, by one searchable field
-- of the key (the others checked as join conditions).
CREATE TEMP TABLE crm_roles (opp text, lead int, role text);
INSERT INTO crm_roles VALUES ('19UYA31581L000000', 1002, 'Influencer'), ('19UYA31581L000000', 1001, 'Nope');
ANALYZE crm_roles;
SELECT emu_do('clear-calls');
SELECT c.lead, r.marketo_guid FROM crm_roles c
JOIN roles_test.opportunity_roles r
  ON r.external_opportunity_id = c.opp AND r.lead_id = c.lead AND r.role = c.role
ORDER BY 1;
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();

-- More than 300 keys: 300 a call, and each role once.
CREATE FUNCTION roles_by_keys(nkeys int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  result bigint;
BEGIN
  EXECUTE 'SELECT count(*) FROM roles_test.opportunity_roles '
       || 'WHERE (external_opportunity_id, lead_id, role) IN ('
       || (SELECT string_agg(format('(%L, %s, %L)', '19UYA31581L000000', g, 'Influencer'), ', ')
           FROM generate_series(1000, 999 + nkeys) g)
       || ')' INTO result;
  RETURN result;
END $$;
SELECT emu_do('clear-calls');
SELECT roles_by_keys(302);
SELECT n, jsonb_array_length(body->'input') AS keys FROM emu_rest_calls();
