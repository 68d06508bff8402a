--
-- The local recheck of "column = ANY (array)" when the array is known only
-- at execution (ARRAY(SELECT ...), parameters): by hash, not by searching
-- the array for every row (issue 11, item 3).  Answers stay exactly SQL's.
--
SELECT emu_do('reset');
CREATE SCHEMA hr;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO hr;

-- EXPLAIN: the clause leaves Filter for the hashed recheck.
EXPLAIN (COSTS OFF)
SELECT id FROM hr.leads WHERE email = ANY (ARRAY(SELECT unnest('{abe@usa.gov}'::text[])));
-- a constant array stays in Filter: PostgreSQL hashes it itself
EXPLAIN (COSTS OFF)
SELECT id FROM hr.leads WHERE email = ANY ('{abe@usa.gov,george@usa.gov}'::text[]);

-- Marketo matches case variants and blanks loosely; the recheck is exact.
SELECT emu_do('clear-calls');
SELECT id, email FROM hr.leads
WHERE email = ANY (ARRAY(SELECT unnest('{ABE@usa.gov, george@usa.gov,george@usa.gov,NULL}'::text[])))
ORDER BY id;
SELECT count(*) AS calls FROM emu_rest_calls();
SELECT id, email FROM hr.leads
WHERE email = ANY (ARRAY(SELECT unnest('{abe@usa.gov,george@usa.gov}'::text[])))
ORDER BY id;
-- NULLs and an empty array match nothing
SELECT count(*) FROM hr.leads WHERE email = ANY (ARRAY(SELECT NULL::text));
SELECT count(*) FROM hr.leads WHERE email = ANY (ARRAY(SELECT 'x'::text WHERE false));

-- Integers, and a parameter of a prepared statement (generic plan too).
SELECT id FROM hr.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 1003))) ORDER BY id;
PREPARE by_ids(int[]) AS SELECT id FROM hr.leads WHERE id = ANY ($1) ORDER BY id;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_ids('{1001,1002}');
EXECUTE by_ids('{1001,1002,99999}');
EXECUTE by_ids('{1004}');
RESET plan_cache_mode;
DEALLOCATE by_ids;

-- Rescans under a nested loop: each outer row's array, not the first's.
CREATE TEMP TABLE wanted (k int, ids int[]);
INSERT INTO wanted VALUES (1, '{1001,1002}'), (2, '{1003}'), (3, '{}');
SELECT w.k, l.id FROM wanted w, LATERAL (SELECT id FROM hr.leads WHERE id = ANY (w.ids)) l
ORDER BY 1, 2;
DROP SCHEMA hr CASCADE;
