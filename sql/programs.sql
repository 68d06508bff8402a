--
-- A program's costs and tags through the asset API: the REST replacement
-- for SOAP syncMObjects' Program cost and tag updates.
--
\set VERBOSITY default
SELECT emu_do('reset');
IMPORT FOREIGN SCHEMA marketo LIMIT TO (program_costs, program_tags)
  FROM SERVER marketo INTO marketo;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('program_costs', 'program_tags')
  AND c.relnamespace = 'marketo'::regnamespace AND a.attnum > 0
ORDER BY c.relname, a.attnum;

SELECT emu_do('clear-calls');
SELECT program_id, start_date, cost, note FROM marketo.program_costs WHERE program_id IN (1044, 1045, 9999);
SELECT program_id, tag_type, tag_value FROM marketo.program_tags WHERE program_id = 1044;
SELECT method, path FROM emu_rest_calls() ORDER BY path;

-- INSERT appends: one form POST per program, all its rows at once.
SELECT emu_do('clear-calls');
INSERT INTO marketo.program_costs (program_id, start_date, cost, note)
VALUES (1044, '2024-02-01', 750, 'Catering'),
       (1045, '2024-03-01', 100, NULL),
       (1044, '2024-02-15', 250, 'Swag');
SELECT n, method, path, form FROM emu_rest_calls() ORDER BY path;
SELECT program_id, start_date, cost, note FROM marketo.program_costs
WHERE program_id IN (1044, 1045) ORDER BY program_id, start_date;
INSERT INTO marketo.program_tags (program_id, tag_type, tag_value) VALUES (1045, 'Region', 'AMER');
SELECT program_id, tag_type, tag_value FROM marketo.program_tags WHERE program_id = 1045;

-- Required columns, NULL keys, and what Marketo refuses.
INSERT INTO marketo.program_costs (program_id, cost) VALUES (1044, 1);
INSERT INTO marketo.program_costs (program_id, start_date, cost) VALUES (NULL, '2024-01-01', 1);
INSERT INTO marketo.program_costs (program_id, start_date, cost) VALUES (9999, '2024-01-01', 1);
SELECT * FROM marketo.program_costs;
DELETE FROM marketo.program_costs WHERE program_id = 1044;
