--
-- IMPORT FOREIGN SCHEMA marketo: one column per REST field of describe,
-- searchable flags from describe2, snake_case names carrying the REST name.
--
SELECT emu_do('reset');

CREATE SCHEMA marketo;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO marketo;

SELECT attname, format_type(atttypid, atttypmod) AS type, attfdwoptions
FROM pg_attribute
WHERE attrelid = 'marketo.leads'::regclass AND attnum > 0
ORDER BY attnum;

SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'marketo.leads'::regclass;

-- describe2 for the searchable fields, describe for the columns.
SELECT method, path, auth FROM emu_calls() ORDER BY seq;

-- EXCEPT leaves nothing to import, and nothing is asked of Marketo.
SELECT emu_do('clear-calls');
CREATE SCHEMA nothing;
IMPORT FOREIGN SCHEMA marketo EXCEPT (leads, opportunities, opportunity_roles, named_accounts, companies,
                                      lead_fields, program_member_fields, opportunity_fields, named_account_fields,
                                      lead_lists, lead_programs, lead_smart_campaigns,
                                      program_costs, program_tags, list_members, program_members,
                                      programs, static_lists,
                                      activity_types, activities, deleted_leads, lead_changes)
  FROM SERVER marketo INTO nothing;
SELECT count(*) AS tables FROM pg_class WHERE relnamespace = 'nothing'::regnamespace;
SELECT count(*) AS calls FROM emu_calls();
DROP SCHEMA nothing;

-- Mistakes.
IMPORT FOREIGN SCHEMA marketo LIMIT TO (widgets) FROM SERVER marketo INTO public;
IMPORT FOREIGN SCHEMA crm FROM SERVER marketo INTO public;
IMPORT FOREIGN SCHEMA marketo FROM SERVER marketo INTO public OPTIONS (import_default 'true');
