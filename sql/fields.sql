--
-- Field schemas: lead_fields, program_member_fields, opportunity_fields,
-- named_account_fields.  Browsed page by page; name = is a get-by-name
-- call; custom fields are created in batches and updated one per call.
--
\set VERBOSITY default
SELECT emu_do('reset');
IMPORT FOREIGN SCHEMA marketo
  LIMIT TO (lead_fields, program_member_fields, opportunity_fields, named_account_fields)
  FROM SERVER marketo INTO marketo;
SELECT attname, format_type(atttypid, atttypmod) AS type, attfdwoptions
FROM pg_attribute WHERE attrelid = 'marketo.lead_fields'::regclass AND attnum > 0
ORDER BY attnum;
-- No describe call is needed for these.
SELECT count(*) AS calls FROM emu_rest_calls();

-- Browse: every field, page by page, without a filter.
SELECT emu_do('config', '{"page_size": 10}');
SELECT emu_do('clear-calls');
SELECT count(*) AS lead_fields, count(*) FILTER (WHERE is_custom) AS custom
FROM marketo.lead_fields;
SELECT n, path, query ? 'nextPageToken' AS has_token, query ? 'fields' AS has_fields
FROM emu_rest_calls();
SELECT emu_do('config', '{"page_size": 300}');
SELECT name, data_type FROM marketo.opportunity_fields WHERE data_type = 'currency';

-- name = is one get-by-name call per value, URL-encoded into the path.
SELECT emu_do('clear-calls');
SELECT name, display_name, data_type, length, is_custom
FROM marketo.lead_fields WHERE name IN ('email', 'customerTier', 'noSuchField') ORDER BY name;
SELECT method, path FROM emu_rest_calls() ORDER BY path;
EXPLAIN (COSTS OFF) SELECT name FROM marketo.lead_fields WHERE name = 'email';
EXPLAIN (COSTS OFF) SELECT name FROM marketo.lead_fields;

-- Create custom fields: one call per batch; IMPORT again picks them up.
SELECT emu_do('clear-calls');
INSERT INTO marketo.lead_fields (name, display_name, data_type, description)
VALUES ('acmeMailDate', 'Acme Mail Date', 'date', 'Acme Direct Mail Integration'),
       ('acmeRegion', 'Acme Region', 'string', NULL);
SELECT n, method, path, body FROM emu_rest_calls();
SELECT name, display_name, data_type, is_custom, is_api_created
FROM marketo.lead_fields WHERE name IN ('acmeMailDate', 'acmeRegion') ORDER BY name;
DROP FOREIGN TABLE marketo.leads;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO marketo;
SELECT attname, attfdwoptions FROM pg_attribute
WHERE attrelid = 'marketo.leads'::regclass AND attname LIKE 'acme%' ORDER BY attname;
INSERT INTO marketo.lead_fields (name, display_name, data_type) VALUES ('acmeRegion', 'Again', 'string');
INSERT INTO marketo.lead_fields (name, display_name) VALUES ('noType', 'No Type');

-- Update: the updateable attributes only, one call per field.
SELECT emu_do('clear-calls');
UPDATE marketo.lead_fields SET display_name = 'Acme Region (EU)', is_hidden = true
WHERE name IN ('acmeRegion', 'acmeMailDate');
SELECT n, method, path, body FROM emu_rest_calls() WHERE method = 'POST' ORDER BY path;
SELECT name, display_name, is_hidden FROM marketo.lead_fields
WHERE name IN ('acmeRegion', 'acmeMailDate') ORDER BY name;
UPDATE marketo.lead_fields SET data_type = 'integer' WHERE name = 'acmeRegion';
UPDATE marketo.lead_fields SET is_custom = false WHERE name = 'acmeRegion';

-- Program member fields can be created too; opportunity fields only read.
INSERT INTO marketo.program_member_fields (name, display_name, data_type)
VALUES ('pMCFCustomField03', 'Custom Field 03', 'string');
SELECT name, is_custom FROM marketo.program_member_fields WHERE name = 'pMCFCustomField03';
INSERT INTO marketo.opportunity_fields (name, display_name, data_type) VALUES ('x', 'X', 'string');
DELETE FROM marketo.lead_fields WHERE name = 'acmeRegion';
