--
-- The standard lead-database objects: opportunities, named accounts and
-- companies.  One descriptor each drives the same scan and modify code:
-- describe with idField and dedupeFields, sync with dedupeBy, delete with
-- deleteBy.
--
SELECT emu_do('reset');
IMPORT FOREIGN SCHEMA marketo LIMIT TO (opportunities, named_accounts, companies)
  FROM SERVER marketo INTO marketo;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('opportunities', 'named_accounts', 'companies')
  AND c.relnamespace = 'marketo'::regnamespace AND a.attnum > 0
ORDER BY c.relname, a.attnum;
SELECT method, path FROM emu_calls() WHERE path LIKE '/rest/%' ORDER BY seq;

-- Reads by the dedupe field and by the id field (a GUID).
SELECT emu_do('clear-calls');
SELECT external_opportunity_id, name, amount FROM marketo.opportunities
WHERE external_opportunity_id IN ('19UYA31581L000000', '29UYA31581L000000') ORDER BY 1;
SELECT name FROM marketo.opportunities WHERE marketo_guid = 'dff23271-f996-47d7-984f-f2676861b5fa';
SELECT name FROM marketo.named_accounts WHERE name = ANY (ARRAY['Google', 'Yahoo']) ORDER BY 1;
SELECT n, path, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values,
       query->>'fields' AS fields
FROM emu_rest_calls();
SELECT name FROM marketo.opportunities WHERE description = 'Chairs';

-- INSERT: createOnly by the dedupe field; RETURNING gives the new GUID.
SELECT emu_do('clear-calls');
INSERT INTO marketo.opportunities (external_opportunity_id, name, amount, stage)
VALUES ('39UYA31581L000000', 'Desks', 250.5, 'Prospecting')
RETURNING length(marketo_guid) AS guid_length, name;
INSERT INTO marketo.opportunities (external_opportunity_id, name)
SELECT 'BULK-' || g, 'Bulk ' || g FROM generate_series(1, 301) g;
SELECT n, path, body->>'action' AS action, body ? 'dedupeBy' AS has_dedupe_by,
       json_array_length((body->'input')::json) AS records
FROM emu_rest_calls();
-- A duplicate is skipped by Marketo and fails the statement.
INSERT INTO marketo.opportunities (external_opportunity_id, name) VALUES ('19UYA31581L000000', 'Again');
-- The dedupe field is required.
INSERT INTO marketo.opportunities (name) VALUES ('No key');
-- lookup_field belongs to leads only.
ALTER FOREIGN TABLE marketo.opportunities OPTIONS (ADD lookup_field 'name');
INSERT INTO marketo.opportunities (external_opportunity_id, name) VALUES ('X', 'Y');
ALTER FOREIGN TABLE marketo.opportunities OPTIONS (DROP lookup_field);

-- UPDATE: updateOnly with dedupeBy idField, keyed by the GUID.
SELECT emu_do('clear-calls');
UPDATE marketo.opportunities SET stage = 'Closed Won', amount = 1700
WHERE external_opportunity_id IN ('19UYA31581L000000', '29UYA31581L000000');
SELECT n, method, path, body->>'action' AS action, body->>'dedupeBy' AS dedupe_by,
       body->'input' AS input
FROM emu_rest_calls() WHERE method = 'POST';
SELECT external_opportunity_id, stage, amount FROM marketo.opportunities
WHERE external_opportunity_id IN ('19UYA31581L000000', '29UYA31581L000000') ORDER BY 1;

-- DELETE: deleteBy idField.
SELECT emu_do('clear-calls');
DELETE FROM marketo.opportunities WHERE external_opportunity_id LIKE 'BULK-%'
  AND external_opportunity_id = ANY (ARRAY(SELECT 'BULK-' || g FROM generate_series(1, 301) g));
SELECT n, path, body->>'deleteBy' AS delete_by, json_array_length((body->'input')::json) AS records
FROM emu_rest_calls() WHERE method = 'POST';
SELECT count(*) FROM marketo.opportunities
WHERE external_opportunity_id = ANY (ARRAY(SELECT 'BULK-' || g FROM generate_series(1, 301) g));

-- Named accounts: the dedupe field is name.
SELECT emu_do('clear-calls');
INSERT INTO marketo.named_accounts (name, city, annual_revenue) VALUES ('Initech', 'Austin', 1000000);
UPDATE marketo.named_accounts SET city = 'Dallas' WHERE name = 'Initech';
SELECT name, city, annual_revenue FROM marketo.named_accounts WHERE name = 'Initech';
DELETE FROM marketo.named_accounts WHERE name = 'Initech';
SELECT count(*) FROM marketo.named_accounts WHERE name = 'Initech';
SELECT n, method, path, body->>'action' AS action, body->>'dedupeBy' AS dedupe_by,
       body->>'deleteBy' AS delete_by
FROM emu_rest_calls() WHERE method = 'POST';

-- Companies: integer ids, dedupe field externalCompanyId.
SELECT emu_do('clear-calls');
INSERT INTO marketo.companies (external_company_id, company, number_of_employees)
VALUES ('ACME-1', 'Acme Corp', 42) RETURNING id > 0 AS got_id;
UPDATE marketo.companies SET number_of_employees = 43 WHERE external_company_id = 'ACME-1';
SELECT external_company_id, company, number_of_employees FROM marketo.companies
WHERE external_company_id = 'ACME-1';
DELETE FROM marketo.companies WHERE external_company_id = 'ACME-1';
SELECT n, method, path, body->>'action' AS action, body->>'dedupeBy' AS dedupe_by,
       body->>'deleteBy' AS delete_by, body->'input' -> 0 ? 'id' AS keyed_by_id
FROM emu_rest_calls() WHERE method = 'POST';

-- Opportunity roles: the dedupe key is compound, and an INSERT sets all of it.
IMPORT FOREIGN SCHEMA marketo LIMIT TO (opportunity_roles) FROM SERVER marketo INTO marketo;
SELECT attname, format_type(atttypid, atttypmod) AS type, attfdwoptions
FROM pg_attribute WHERE attrelid = 'marketo.opportunity_roles'::regclass AND attnum > 0
ORDER BY attnum;
SELECT emu_do('clear-calls');
SELECT lead_id, role, is_primary FROM marketo.opportunity_roles
WHERE external_opportunity_id = '19UYA31581L000000' ORDER BY lead_id;
INSERT INTO marketo.opportunity_roles (external_opportunity_id, role) VALUES ('19UYA31581L000000', 'Champion');
INSERT INTO marketo.opportunity_roles (external_opportunity_id, lead_id, role)
VALUES ('19UYA31581L000000', 1003, 'Champion') RETURNING length(marketo_guid) AS guid_length;
INSERT INTO marketo.opportunity_roles (external_opportunity_id, lead_id, role)
VALUES ('19UYA31581L000000', 1003, 'Champion');
UPDATE marketo.opportunity_roles SET is_primary = true WHERE lead_id = 1003;
SELECT lead_id, role, is_primary FROM marketo.opportunity_roles WHERE lead_id = 1003;
DELETE FROM marketo.opportunity_roles WHERE lead_id = 1003;
SELECT count(*) FROM marketo.opportunity_roles WHERE lead_id = 1003;
SELECT n, method, path, query->>'filterType' AS filter_type, body->>'action' AS action,
       body->>'dedupeBy' AS dedupe_by, body->>'deleteBy' AS delete_by,
       body->'input'->0 AS first_record
FROM emu_rest_calls() WHERE method = 'POST' OR query ? 'filterType';

-- With CRM sync on, Marketo refuses writes: its error surfaces as is.
SELECT emu_do('crm-managed', '{"object": "opportunities", "flag": true}');
\set VERBOSITY default
INSERT INTO marketo.opportunities (external_opportunity_id, name) VALUES ('CRM-1', 'Synced');
SELECT emu_do('crm-managed', '{"object": "opportunities", "flag": false}');
