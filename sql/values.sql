--
-- Bad values: refused before sending when writing, a clear error naming the
-- column, the Marketo field and the value when reading.  Nothing is ever
-- silently truncated, mangled or blanked.
--
\set VERBOSITY default
SELECT emu_do('reset');
SELECT emu_do('add-leads', '[{"id": 9301, "email": "ana@example.com", "firstName": "Ana", "leadScore": 7, "unsubscribed": false}]');
CREATE SCHEMA vals;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO vals;

-- IMPORT records each text field's length and marks email fields.
SELECT attname, array_to_string(attfdwoptions, ', ') AS options
FROM pg_attribute
WHERE attrelid = 'vals.leads'::regclass AND attname IN ('email', 'first_name', 'notes', 'lead_score')
ORDER BY attnum;

-- A non-ASCII email address is refused, and nothing is sent.
SELECT emu_do('clear-calls');
INSERT INTO vals.leads (email, first_name) VALUES ('zoë@example.com', 'Zoë');
UPDATE vals.leads SET email = 'ana@exämple.com' WHERE id = 9301;
SELECT count(*) AS writes FROM emu_rest_calls() WHERE method = 'POST';

-- Text longer than the field is refused before sending, not truncated.
INSERT INTO vals.leads (email, first_name) VALUES ('long@example.com', repeat('x', 256));
UPDATE vals.leads SET first_name = repeat('y', 300) WHERE id = 9301;
SELECT count(*) AS writes FROM emu_rest_calls() WHERE method = 'POST';
-- The length is in characters, not bytes: 255 two-byte characters fit.
INSERT INTO vals.leads (email, first_name) VALUES ('long@example.com', repeat('é', 255));
SELECT length(first_name) AS chars FROM vals.leads WHERE email = 'long@example.com';

-- A NULL is left out of an INSERT (createOrUpdate must not blank the field),
-- and sent as null by an UPDATE that sets it.
ALTER FOREIGN TABLE vals.leads OPTIONS (ADD insert_action 'createOrUpdate');
SELECT emu_do('clear-calls');
INSERT INTO vals.leads (email, first_name, last_name) VALUES ('ana@example.com', NULL, 'Silva');
SELECT body->'input'->0 AS sent FROM emu_rest_calls() WHERE method = 'POST';
SELECT first_name, last_name FROM vals.leads WHERE id = 9301;
SELECT emu_do('clear-calls');
UPDATE vals.leads SET first_name = NULL WHERE id = 9301;
SELECT body->'input'->0 AS sent FROM emu_rest_calls() WHERE method = 'POST';
SELECT first_name IS NULL AS cleared FROM vals.leads WHERE id = 9301;

-- Reading: a NUL byte in a string.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "firstName", "value": "a\u0000b"}');
SELECT id, first_name FROM vals.leads WHERE id = 9301;

-- Invalid UTF-8 in a body (the byte 0xff).
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "raw", "body": "{\"requestId\":\"1#1\",\"success\":true,\"result\":[{\"id\":9301,\"firstName\":\"An\u00ffa\"}]}"}');
SELECT id, first_name FROM vals.leads WHERE id = 9301;

-- Out of range for the column, and not a boolean.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "leadScore", "value": 99999999999}');
SELECT id, lead_score FROM vals.leads WHERE id = 9301;
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "unsubscribed", "value": "perhaps"}');
SELECT id, unsubscribed FROM vals.leads WHERE id = 9301;
-- An array where the column holds one value.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "firstName", "value": ["A", "B"]}');
SELECT id, first_name FROM vals.leads WHERE id = 9301;

-- A field the table has no column for is ignored.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "brandNewField", "value": {"nested": true}}');
SELECT id, first_name FROM vals.leads WHERE id = 9301;

-- A truncated body is an error, never an empty or partial result.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "raw", "body": "{\"requestId\":\"1#1\",\"success\":true,\"result\":[{\"id\":9301,\"firstNa"}');
SELECT id, first_name FROM vals.leads WHERE id = 9301;
-- A body with the wrong shape: result is not an array.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "raw", "body": "{\"requestId\":\"1#1\",\"success\":true,\"result\":{\"id\":9301}}"}');
SELECT id, first_name FROM vals.leads WHERE id = 9301;
-- A body over marketo_fdw.max_response_size fails at once, without retry.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', json_build_object('path', '/rest/v1/leads.json', 'kind', 'wrong_type',
                                         'field', 'notes', 'value', repeat('n', 70000), 'count', 2)::text);
SET marketo_fdw.max_response_size = '64kB';
SELECT id, notes FROM vals.leads WHERE id = 9301;
SELECT count(*) AS calls FROM emu_rest_calls();
RESET marketo_fdw.max_response_size;
SELECT id, length(notes) FROM vals.leads WHERE id = 9301;
SELECT emu_do('clear-faults');
SELECT id, first_name FROM vals.leads WHERE id = 9301;

-- Bad column option values.
CREATE FOREIGN TABLE bad_len (first_name text OPTIONS (field 'firstName', max_length 'ten'))
  SERVER marketo OPTIONS (object 'leads');
CREATE FOREIGN TABLE bad_len (first_name text OPTIONS (field 'firstName', max_length '0'))
  SERVER marketo OPTIONS (object 'leads');
CREATE FOREIGN TABLE bad_email (email text OPTIONS (email 'sometimes'))
  SERVER marketo OPTIONS (object 'leads');
-- A shorter max_length than Marketo's is a way to enforce one's own.
CREATE FOREIGN TABLE short_leads (id int OPTIONS (read_only 'true'), email text OPTIONS (email 'true'),
  first_name text OPTIONS (field 'firstName', max_length '3'))
  SERVER marketo OPTIONS (object 'leads');
INSERT INTO short_leads (email, first_name) VALUES ('bo@example.com', 'Bo');
INSERT INTO short_leads (email, first_name) VALUES ('bob@example.com', 'Bobby');
DROP FOREIGN TABLE short_leads;
DROP SCHEMA vals CASCADE;
