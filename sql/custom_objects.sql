--
-- Custom objects and sales persons.  IMPORT makes a table per custom object
-- type, from customobjects.json and each type's describe.json; the tables
-- are read and written by the standard lead-database pattern, a compound
-- dedupe key by POST ?_method=GET.  Sales persons are a standard object.
--
\set VERBOSITY default
SELECT emu_do('reset');

-- The custom object tables an IMPORT made, with their options.
CREATE FUNCTION custom_tables(schema_name text)
RETURNS TABLE (relname name, ftoptions text[]) LANGUAGE sql AS $$
  SELECT c.relname, t.ftoptions FROM pg_foreign_table t JOIN pg_class c ON c.oid = t.ftrelid
  WHERE c.relnamespace = schema_name::regnamespace
    AND EXISTS (SELECT FROM pg_options_to_table(t.ftoptions) WHERE option_name = 'custom_object')
  ORDER BY 1
$$;

-- An instance with no custom object types: the built-in tables only, and
-- one call more than they need.
SELECT emu_do('custom-object-types', '[]');
CREATE SCHEMA co_none;
IMPORT FOREIGN SCHEMA marketo FROM SERVER marketo INTO co_none;
SELECT * FROM custom_tables('co_none');
SELECT count(*) > 15 AS built_ins, bool_or(relname = 'salespersons') AS has_salespersons
FROM pg_class WHERE relnamespace = 'co_none'::regnamespace AND relkind = 'f';
SELECT n, method, path FROM emu_rest_calls() WHERE path LIKE '/rest/v1/customobjects%';
SET client_min_messages = warning;
DROP SCHEMA co_none CASCADE;
RESET client_min_messages;

-- The seeded instance has two types: a table each, after one list call
-- and a describe per type.
SELECT emu_do('reset');
CREATE SCHEMA co_two;
IMPORT FOREIGN SCHEMA marketo FROM SERVER marketo INTO co_two;
SELECT * FROM custom_tables('co_two');
SELECT n, method, path FROM emu_rest_calls() WHERE path LIKE '/rest/v1/customobjects%';
SET client_min_messages = warning;
DROP SCHEMA co_two CASCADE;
RESET client_min_messages;

-- EXCEPT and LIMIT TO take the custom tables' names; a type left out is
-- not described, and LIMIT TO of built-in tables only lists no types.
SELECT emu_do('clear-calls');
CREATE SCHEMA co_except;
IMPORT FOREIGN SCHEMA marketo EXCEPT (car_c) FROM SERVER marketo INTO co_except;
SELECT * FROM custom_tables('co_except');
SELECT n, method, path FROM emu_rest_calls() WHERE path LIKE '/rest/v1/customobjects%';
SET client_min_messages = warning;
DROP SCHEMA co_except CASCADE;
RESET client_min_messages;
SELECT emu_do('clear-calls');
CREATE SCHEMA co;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads, car_c, course_enrollment_c, salespersons)
  FROM SERVER marketo INTO co;
SELECT n, method, path FROM emu_rest_calls();
SELECT emu_do('clear-calls');
CREATE SCHEMA co_builtin;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (companies) FROM SERVER marketo INTO co_builtin;
SELECT n, method, path FROM emu_rest_calls();
SET client_min_messages = warning;
DROP SCHEMA co_builtin CASCADE;
RESET client_min_messages;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (boat_c) FROM SERVER marketo INTO public;

-- Columns from describe: searchable from searchableFields (a compound key
-- is not one filter), the dedupe fields writable for INSERT.
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('car_c', 'course_enrollment_c', 'salespersons')
  AND c.relnamespace = 'co'::regnamespace AND a.attnum > 0
ORDER BY c.relname, a.attnum;
SELECT relname, ftoptions FROM pg_foreign_table JOIN pg_class ON oid = ftrelid
WHERE relname IN ('car_c', 'course_enrollment_c', 'salespersons')
  AND relnamespace = 'co'::regnamespace ORDER BY 1;

-- A type whose name is a built-in table's gets the suffix _custom.
SELECT emu_do('custom-object-types', '["car_c", {"apiName": "companies", "dedupeFields": ["code"],
  "searchable": [["code"], ["marketoGUID"]],
  "fields": [{"name": "marketoGUID", "displayName": "Marketo GUID", "dataType": "string", "length": 36, "updateable": false},
             {"name": "code", "displayName": "Code", "dataType": "string", "length": 20, "updateable": false},
             {"name": "label", "displayName": "Label", "dataType": "string", "length": 255, "updateable": true}]}]');
CREATE SCHEMA co_clash;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (companies, companies_custom) FROM SERVER marketo INTO co_clash;
SELECT relname, ftoptions FROM pg_foreign_table JOIN pg_class ON oid = ftrelid
WHERE relnamespace = 'co_clash'::regnamespace ORDER BY 1;
-- The NOTICE is for a table that is imported.
IMPORT FOREIGN SCHEMA marketo LIMIT TO (car_c) FROM SERVER marketo INTO co_clash;
SET client_min_messages = warning;
DROP SCHEMA co_clash CASCADE;
RESET client_min_messages;

-- Marketo refusing the list (a subscription without custom objects):
-- without LIMIT TO, the built-in tables are imported with a WARNING.
SELECT emu_do('reset');
SELECT emu_do('fault', '{"path": "/rest/v1/customobjects.json", "kind": "error", "code": "603", "message": "Access denied"}');
CREATE SCHEMA co_refused;
IMPORT FOREIGN SCHEMA marketo FROM SERVER marketo INTO co_refused;
SELECT count(*) > 15 AS built_ins FROM pg_class WHERE relnamespace = 'co_refused'::regnamespace;
SET client_min_messages = warning;
DROP SCHEMA co_refused CASCADE;
RESET client_min_messages;

-- Reads: the link field and the dedupe field are filters.
SELECT emu_do('clear-calls');
SELECT vin, make, model, year, purchase_price FROM co.car_c WHERE lead_id = 1001 ORDER BY vin;
SELECT make FROM co.car_c WHERE vin IN ('39UYA31581L000000', '49UYA31581L000000') ORDER BY 1;
SELECT n, method, path, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values,
       query->>'fields' AS fields
FROM emu_rest_calls();
EXPLAIN (COSTS OFF, VERBOSE) SELECT make FROM co.car_c WHERE lead_id = 1001;
-- Without a filter REST has no way to list them: read_method 'rest'
-- refuses the read (by default a bulk extract reads it: custom_objects_bulk).
ALTER FOREIGN TABLE co.car_c OPTIONS (ADD read_method 'rest');
SELECT count(*) FROM co.car_c;
ALTER FOREIGN TABLE co.car_c OPTIONS (DROP read_method);

-- Paging: two records a page.
SELECT emu_do('config', '{"page_size": 2}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM co.car_c WHERE lead_id IN (1001, 1002, 1003);
SELECT n, query->>'filterValues' AS filter_values, query ? 'nextPageToken' AS with_token
FROM emu_rest_calls();
SELECT emu_do('config', '{"page_size": 300}');

-- The compound key: its tuples as the input of POST ?_method=GET.
SELECT emu_do('clear-calls');
SELECT status, score FROM co.course_enrollment_c WHERE course_id = 'SQL-101' AND lead_id = 1001;
SELECT lead_id, status FROM co.course_enrollment_c
WHERE (course_id, lead_id) IN (('SQL-101', 1002), ('PG-201', 1001), ('PG-201', 1002)) ORDER BY 1;
SELECT n, method, path, query, body->>'filterType' AS filter_type, body->'input' AS input
FROM emu_rest_calls();
EXPLAIN (COSTS OFF) SELECT status FROM co.course_enrollment_c
WHERE course_id = 'SQL-101' AND lead_id = 1001;
-- One field of the compound key alone is no filter, unless searchable on
-- its own: lead_id is, course_id is not (over REST).
ALTER FOREIGN TABLE co.course_enrollment_c OPTIONS (ADD read_method 'rest');
SELECT course_id FROM co.course_enrollment_c WHERE course_id = 'SQL-101';
ALTER FOREIGN TABLE co.course_enrollment_c OPTIONS (DROP read_method);
SELECT emu_do('clear-calls');
SELECT course_id FROM co.course_enrollment_c WHERE lead_id = 1001 ORDER BY 1;
SELECT n, query->>'filterType' AS filter_type FROM emu_rest_calls();

-- Marketo's errors: a transient one is retried, an access refusal is not.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/customobjects/car_c.json", "kind": "error", "code": "608", "message": "API Temporarily Unavailable"}');
SELECT count(*) FROM co.car_c WHERE lead_id = 1002;
SELECT emu_do('fault', '{"path": "/rest/v1/customobjects/car_c.json", "kind": "error", "code": "603", "message": "Access denied"}');
SELECT count(*) FROM co.car_c WHERE lead_id = 1002;
SELECT n, path, error_code FROM emu_rest_calls();

-- INSERT: createOnly by the dedupe key; RETURNING gives the new GUID.
SELECT emu_do('clear-calls');
INSERT INTO co.car_c (vin, lead_id, make, model, year)
VALUES ('59UYA31581L000000', 1003, 'Volvo', 'V70', 2008), ('69UYA31581L000000', 1002, 'Saab', '900', 1991)
RETURNING length(marketo_guid) AS guid_length, vin;
SELECT n, method, path, body->>'action' AS action, body ? 'dedupeBy' AS has_dedupe_by, body->'input' AS input
FROM emu_rest_calls();
-- Marketo's skips fail the statement, naming the record and the reason:
-- a key that exists, a lead that does not.
INSERT INTO co.car_c (vin, lead_id, make) VALUES ('19UYA31581L000000', 1001, 'BMW');
INSERT INTO co.car_c (vin, lead_id, make) VALUES ('79UYA31581L000000', 9999, 'Lada');
SELECT count(*) FROM co.car_c WHERE vin = '79UYA31581L000000';
-- The dedupe field is required.
INSERT INTO co.car_c (make) VALUES ('Nokey');
-- insert_action createOrUpdate updates the existing record.
ALTER FOREIGN TABLE co.car_c OPTIONS (ADD insert_action 'createOrUpdate');
SELECT emu_do('clear-calls');
INSERT INTO co.car_c (vin, lead_id, color) VALUES ('19UYA31581L000000', 1001, 'Silver');
SELECT n, body->>'action' AS action FROM emu_rest_calls() WHERE method = 'POST';
ALTER FOREIGN TABLE co.car_c OPTIONS (DROP insert_action);

-- UPDATE and DELETE: by the GUID the read found.
SELECT emu_do('clear-calls');
UPDATE co.car_c SET color = 'Green', year = 2009 WHERE vin = '59UYA31581L000000';
DELETE FROM co.car_c WHERE vin = '69UYA31581L000000';
SELECT vin, color, year FROM co.car_c WHERE vin IN ('19UYA31581L000000', '59UYA31581L000000', '69UYA31581L000000')
ORDER BY 1;
SELECT n, method, path, body->>'action' AS action, body->>'dedupeBy' AS dedupe_by,
       body->>'deleteBy' AS delete_by, body->'input'->0 ? 'marketoGUID' AS keyed_by_guid
FROM emu_rest_calls() WHERE method = 'POST' AND body ? 'input';
-- A record deleted meanwhile is Marketo's skip too.
SELECT emu_do('fault', '{"path": "/rest/v1/customobjects/car_c/delete.json", "kind": "record_skip", "code": "1013", "message": "Object not found"}');
DELETE FROM co.car_c WHERE vin = '59UYA31581L000000';

-- Marketo's limit of 300 records a call, and 300 filter values.
SELECT emu_do('clear-calls');
INSERT INTO co.car_c (vin, lead_id, make) SELECT 'BULK-' || g, 1004, 'Trabant' FROM generate_series(1, 301) g;
DELETE FROM co.car_c WHERE vin = ANY (ARRAY(SELECT 'BULK-' || g FROM generate_series(1, 301) g));
-- (the two reads go out together: their step is the first one's, in either order)
SELECT CASE WHEN method = 'GET' THEN min(n) FILTER (WHERE method = 'GET') OVER () ELSE n END AS step,
       method, path, array_length(string_to_array(query->>'filterValues', ','), 1) AS filter_values,
       json_array_length((body->'input')::json) AS records
FROM emu_rest_calls() ORDER BY step, filter_values DESC NULLS LAST, records DESC;

-- The compound key: an INSERT sets all of it; UPDATE and DELETE go by the
-- GUID of the record the compound read found.
SELECT emu_do('clear-calls');
INSERT INTO co.course_enrollment_c (course_id, lead_id, status) VALUES ('PG-201', 1002, 'Enrolled');
INSERT INTO co.course_enrollment_c (course_id, status) VALUES ('PG-201', 'Enrolled');
INSERT INTO co.course_enrollment_c (course_id, lead_id, status) VALUES ('PG-201', 1002, 'Again');
UPDATE co.course_enrollment_c SET score = 75, status = 'Completed', completed = true
WHERE course_id = 'PG-201' AND lead_id = 1002;
SELECT status, score, completed FROM co.course_enrollment_c WHERE course_id = 'PG-201' AND lead_id = 1002;
DELETE FROM co.course_enrollment_c WHERE course_id = 'PG-201' AND lead_id = 1002;
SELECT count(*) FROM co.course_enrollment_c WHERE course_id = 'PG-201' AND lead_id = 1002;
SELECT n, method, path, query->>'_method' AS as_method, body->>'action' AS action,
       body->>'dedupeBy' AS dedupe_by, body->>'deleteBy' AS delete_by, body->'input'->0 AS first_record,
       error_code
FROM emu_rest_calls();

-- Custom object records joined to their leads: the leads by email, then
-- their cars in one batched call by the link field.
SELECT emu_do('clear-calls');
SELECT l.email, c.vin, c.make
FROM co.leads l JOIN co.car_c c ON c.lead_id = l.id
WHERE l.email IN ('abe@usa.gov', 'george@usa.gov', 'marge.simpson@fox.com')
ORDER BY 1, 2;
SELECT n, path, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();
EXPLAIN (COSTS OFF)
SELECT l.email, c.vin FROM co.leads l JOIN co.car_c c ON c.lead_id = l.id
WHERE l.email IN ('abe@usa.gov', 'george@usa.gov', 'marge.simpson@fox.com');

-- The other way round: cars by their key, then their leads by id.
SELECT emu_do('clear-calls');
SELECT c.vin, l.email FROM co.car_c c JOIN co.leads l ON l.id = c.lead_id
WHERE c.vin IN ('19UYA31581L000000', '39UYA31581L000000') ORDER BY 1;
SELECT n, path, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();

-- A hand-written table names its type and key; a one-field key is a
-- filter without a searchable option.
CREATE FOREIGN TABLE public.my_cars (vin text, make text)
  SERVER marketo OPTIONS (custom_object 'car_c', dedupe_fields 'vin');
SELECT make FROM public.my_cars WHERE vin = '39UYA31581L000000';
DROP FOREIGN TABLE public.my_cars;
CREATE FOREIGN TABLE public.bad (vin text) SERVER marketo OPTIONS (custom_object 'car_c');
CREATE FOREIGN TABLE public.bad (vin text) SERVER marketo OPTIONS (custom_object 'car_c/../x', dedupe_fields 'vin');
CREATE FOREIGN TABLE public.bad (vin text) SERVER marketo OPTIONS (custom_object 'car_c', dedupe_fields 'vin,');
CREATE FOREIGN TABLE public.bad (vin text) SERVER marketo OPTIONS (dedupe_fields 'vin');
CREATE FOREIGN TABLE public.bad (vin text) SERVER marketo
  OPTIONS (object 'companies', custom_object 'car_c', dedupe_fields 'vin');
ALTER FOREIGN TABLE co.car_c OPTIONS (DROP dedupe_fields);

-- Sales persons: the standard pattern, integer ids, dedupe key
-- externalSalesPersonId.
SELECT emu_do('clear-calls');
SELECT id, email, first_name, last_name FROM co.salespersons
WHERE external_sales_person_id IN ('sam@test.com', 'david@test.com') ORDER BY id;
INSERT INTO co.salespersons (external_sales_person_id, email, first_name, last_name)
VALUES ('raj@test.com', 'raj@test.com', 'Raj', 'Patel') RETURNING id > 53454 AS new_id;
UPDATE co.salespersons SET phone = '555-0100' WHERE external_sales_person_id = 'raj@test.com';
SELECT first_name, phone FROM co.salespersons WHERE email = 'raj@test.com';
DELETE FROM co.salespersons WHERE external_sales_person_id = 'raj@test.com';
SELECT count(*) FROM co.salespersons WHERE external_sales_person_id = 'raj@test.com';
SELECT n, method, path, query->>'filterType' AS filter_type, body->>'action' AS action,
       body->>'dedupeBy' AS dedupe_by, body->>'deleteBy' AS delete_by, body->'input'->0 AS first_record
FROM emu_rest_calls();

DROP FUNCTION custom_tables(text);
DROP SCHEMA co CASCADE;
SELECT emu_do('reset');
