--
-- IMPORT FOREIGN SCHEMA without LIMIT TO on an instance that refuses some
-- describe calls (a native CRM sync disables opportunities, roles and
-- companies), and field names that collide once cut to 63 bytes.
--
SELECT emu_do('reset');

-- Marketo refuses two describes; everything else is imported, with one
-- WARNING naming what was skipped and why.
SELECT emu_do('fault', '{"path": "/rest/v1/opportunities/describe.json", "kind": "error", "code": "603", "message": "Access denied"}');
SELECT emu_do('fault', '{"path": "/rest/v1/companies/describe.json", "kind": "error", "code": "603", "message": "Access denied"}');
CREATE SCHEMA crm_synced;
IMPORT FOREIGN SCHEMA marketo FROM SERVER marketo INTO crm_synced;
SELECT relname FROM pg_class WHERE relnamespace = 'crm_synced'::regnamespace AND relkind = 'f'
ORDER BY relname;
SELECT path, error_code FROM emu_rest_calls() WHERE error_code IS NOT NULL ORDER BY n;
DROP SCHEMA crm_synced CASCADE;

-- EXCEPT behaves the same.
SELECT emu_do('fault', '{"path": "/rest/v1/opportunities/describe.json", "kind": "error", "code": "603", "message": "Access denied"}');
CREATE SCHEMA crm_except;
IMPORT FOREIGN SCHEMA marketo EXCEPT (leads, companies) FROM SERVER marketo INTO crm_except;
SELECT count(*) AS tables, bool_or(relname = 'opportunities') AS has_opportunities
FROM pg_class WHERE relnamespace = 'crm_except'::regnamespace AND relkind = 'f';
DROP SCHEMA crm_except CASCADE;

-- An object named in LIMIT TO is what the user asked for: its refusal fails.
SELECT emu_do('fault', '{"path": "/rest/v1/opportunities/describe.json", "kind": "error", "code": "603", "message": "Access denied"}');
CREATE SCHEMA crm_limit;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads, opportunities) FROM SERVER marketo INTO crm_limit;
SELECT count(*) AS tables FROM pg_class WHERE relnamespace = 'crm_limit'::regnamespace;
DROP SCHEMA crm_limit;

-- Failures that are not a refusal of the object still fail the whole IMPORT:
-- the daily quota, and an HTTP error in front of Marketo.
SELECT emu_do('fault', '{"path": "/rest/v1/opportunities/describe.json", "kind": "error", "code": "607", "message": "Daily quota reached"}');
CREATE SCHEMA crm_quota;
-- terse: the hint's reset time is the next midnight US Central (tested in bulk_faults)
\set VERBOSITY terse
IMPORT FOREIGN SCHEMA marketo FROM SERVER marketo INTO crm_quota;
\set VERBOSITY default
SELECT count(*) AS tables FROM pg_class WHERE relnamespace = 'crm_quota'::regnamespace;
SELECT emu_do('fault', '{"path": "/rest/v1/opportunities/describe.json", "kind": "http", "status": 404}');
IMPORT FOREIGN SCHEMA marketo FROM SERVER marketo INTO crm_quota;
SELECT count(*) AS tables FROM pg_class WHERE relnamespace = 'crm_quota'::regnamespace;
DROP SCHEMA crm_quota;
SELECT emu_do('clear-faults');

-- Two custom fields whose snake_case names share their first 63 bytes.
CREATE SCHEMA fieldadmin;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (lead_fields) FROM SERVER marketo INTO fieldadmin;
INSERT INTO fieldadmin.lead_fields (name, display_name, data_type) VALUES
  ('acmeCampaignAttributionSourceForTheSecondQuarterOfTheFiscalYearEast', 'East', 'string'),
  ('acmeCampaignAttributionSourceForTheSecondQuarterOfTheFiscalYearWest', 'West', 'string');
CREATE SCHEMA longnames;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO longnames;
SELECT attname, octet_length(attname::text) AS bytes,
       (SELECT option_value FROM pg_options_to_table(attfdwoptions) WHERE option_name = 'field') AS field
FROM pg_attribute
WHERE attrelid = 'longnames.leads'::regclass AND attname::text LIKE 'acme_campaign%'
ORDER BY attnum;
DROP SCHEMA longnames CASCADE;
DROP SCHEMA fieldadmin CASCADE;
SELECT emu_do('reset');
