--
-- Static list members: list_id is required and goes into the path; INSERT
-- adds and DELETE removes leads, one call per list.
--
\set VERBOSITY default
SELECT emu_do('reset');
IMPORT FOREIGN SCHEMA marketo LIMIT TO (list_members) FROM SERVER marketo INTO marketo;
SELECT attname, format_type(atttypid, atttypmod) AS type, attfdwoptions
FROM pg_attribute WHERE attrelid = 'marketo.list_members'::regclass AND attnum > 0
ORDER BY attnum;

SELECT emu_do('config', '{"page_size": 2}');
SELECT emu_do('clear-calls');
SELECT list_id, id, email FROM marketo.list_members WHERE list_id IN (1001, 1002) ORDER BY 1, 2;
SELECT method, path, query->>'fields' AS fields, query ? 'nextPageToken' AS has_token
FROM emu_rest_calls() ORDER BY path, has_token;
SELECT emu_do('config', '{"page_size": 300}');

-- INSERT adds: one POST per list with that list's leads.
SELECT emu_do('clear-calls');
INSERT INTO marketo.list_members (list_id, id)
VALUES (1002, 1004), (3379, 1005), (1002, 1005);
SELECT n, method, path, body FROM emu_rest_calls() ORDER BY path;
SELECT list_id, id FROM marketo.list_members WHERE list_id IN (1002, 3379) ORDER BY 1, 2;

-- DELETE removes: HTTP DELETE per list, keyed by the lead id.
SELECT emu_do('clear-calls');
DELETE FROM marketo.list_members WHERE list_id IN (1001, 1002) AND id IN (1001, 1005);
SELECT n, method, path, body FROM emu_rest_calls() WHERE method = 'DELETE' ORDER BY path;
SELECT list_id, id FROM marketo.list_members WHERE list_id IN (1001, 1002) ORDER BY 1, 2;

-- Mistakes.
INSERT INTO marketo.list_members (list_id, id) VALUES (1002, 999999);
INSERT INTO marketo.list_members (id) VALUES (1001);
INSERT INTO marketo.list_members (list_id, id, email) VALUES (1002, 1001, 'x@example.com');
SELECT id FROM marketo.list_members WHERE list_id = 4242;
SELECT id FROM marketo.list_members WHERE id = 1001;
