--
-- Lead actions that are not CRUD: merge, associate, push leads, submit form.
--
\set VERBOSITY default
SELECT emu_do('reset');
SELECT emu_do('add-leads', '[
 {"id": 9301, "email": "win@example.com", "firstName": "Win", "lastName": null},
 {"id": 9302, "email": "lose1@example.com", "firstName": "Lose", "lastName": "One"},
 {"id": 9303, "email": "lose2@example.com", "firstName": "Lose", "lastName": "Two"}
]');
SELECT emu_do('clear-calls');

-- Merge: the losers go into the winner.
SELECT marketo_merge_leads('marketo', 9301, ARRAY[9302, 9303], merge_in_crm => true);
SELECT method, path, query FROM emu_rest_calls();
SELECT id, email, last_name FROM marketo.leads WHERE id IN (9301, 9302, 9303);
SELECT marketo_merge_leads('marketo', 9301, ARRAY[9301]);
SELECT marketo_merge_leads('marketo', 9301, ARRAY[]::int[]);
SELECT marketo_merge_leads('marketo', 9999, ARRAY[9301]);

-- Associate web activity.
SELECT emu_do('clear-calls');
SELECT marketo_associate_lead('marketo', 9301, 'id:287-GTJ-838&token:_mch-marketo.com-1396310362214-46169');
SELECT method, path, query->>'cookie' AS cookie FROM emu_rest_calls();

-- Push leads: one row per lead, in input order, with Marketo's status.
SELECT emu_do('clear-calls');
SELECT * FROM marketo_push_leads('marketo', 'Big Blue Thing Product Launch',
  '[{"email": "win@example.com", "firstName": "Winner"},
    {"email": "pushed@example.com", "firstName": "Pushed", "leadScore": 45},
    {"email": "bad@example.com", "noSuchField": 1}]',
  source => 'Cool Sales Site', reason => 'Downloaded pricing sheet');
SELECT method, path, body->>'programName' AS program, body->>'source' AS source,
       body->>'reason' AS reason, body ? 'lookupField' AS has_lookup,
       jsonb_array_length(body->'input') AS records
FROM emu_rest_calls();
SELECT * FROM marketo_push_leads('marketo', 'P', '{"email": "not-an-array@example.com"}');

-- Submit form.
SELECT emu_do('clear-calls');
SELECT * FROM marketo_submit_form('marketo', 1029,
  '{"firstName": "Marge", "lastName": "Simpson", "email": "marge@example.com"}',
  program_id => 1044,
  visitor_data => '{"pageURL": "https://example.com/lp", "queryString": "Unsubscribed=yes"}',
  cookie => 'id:063-GJP-217&token:_mch-marketo.com-1594662481190-60776');
SELECT method, path, body->>'formId' AS form_id, body->>'programId' AS program_id,
       body->'input'->0->'leadFormFields' AS fields,
       body->'input'->0->'visitorData'->>'pageURL' AS page_url,
       body->'input'->0 ? 'cookie' AS has_cookie
FROM emu_rest_calls();
SELECT * FROM marketo_submit_form('marketo', 1029, '{"firstName": "No Email"}');

-- Only marketo_fdw servers, and only with USAGE on them.
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other FOREIGN DATA WRAPPER other_fdw;
SELECT marketo_associate_lead('other', 1, 'x');
SELECT marketo_associate_lead('nonexistent', 1, 'x');
CREATE ROLE mkto_nobody;
SET ROLE mkto_nobody;
SELECT marketo_associate_lead('marketo', 9301, 'x');
RESET ROLE;
DROP ROLE mkto_nobody;
DROP SERVER other;
DROP FOREIGN DATA WRAPPER other_fdw;
