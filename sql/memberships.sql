--
-- A lead's memberships: lead_lists, lead_programs, lead_smart_campaigns.
-- lead_id is required and goes into the path; pages are followed.
--
\set VERBOSITY default
SELECT emu_do('reset');
IMPORT FOREIGN SCHEMA marketo LIMIT TO (lead_lists, lead_programs, lead_smart_campaigns)
  FROM SERVER marketo INTO marketo;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('lead_lists', 'lead_programs', 'lead_smart_campaigns')
  AND c.relnamespace = 'marketo'::regnamespace AND a.attnum > 0
ORDER BY c.relname, a.attnum;

SELECT emu_do('config', '{"page_size": 2}');
SELECT emu_do('clear-calls');
SELECT lead_id, list_id, created_at AT TIME ZONE 'UTC' AS created_utc
FROM marketo.lead_lists WHERE lead_id IN (1001, 1002, 1003) ORDER BY 1, 2;
SELECT path, query->>'batchSize' AS batch_size, query ? 'nextPageToken' AS has_token
FROM emu_rest_calls() ORDER BY path, has_token;
SELECT emu_do('config', '{"page_size": 300}');

SELECT lead_id, program_id, progression_status, is_exhausted, reached_success, membership_date
FROM marketo.lead_programs WHERE lead_id = 1001;
SELECT lead_id, smart_campaign_id FROM marketo.lead_smart_campaigns WHERE lead_id = 1001 ORDER BY 2;

-- Joined with leads: one membership call per lead.
EXPLAIN (COSTS OFF)
SELECT l.email, m.list_id FROM marketo.leads l JOIN marketo.lead_lists m ON m.lead_id = l.id
WHERE l.id IN (1001, 1002);
SELECT l.email, m.list_id FROM marketo.leads l JOIN marketo.lead_lists m ON m.lead_id = l.id
WHERE l.id IN (1001, 1002) ORDER BY 1, 2;

-- lead_id is required; the tables are read-only.
SELECT * FROM marketo.lead_lists;
SELECT * FROM marketo.lead_lists WHERE list_id = 42;
INSERT INTO marketo.lead_lists (lead_id, list_id) VALUES (1001, 7);
