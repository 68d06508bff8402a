#!/usr/bin/env bash
# The main job as a new user meets it: a throwaway cluster and the Marketo
# emulator seeded with sample leads, then example queries with their results.
set -euo pipefail
source "$(dirname "$0")/env.sh"

install_packages
build_and_install
start_services 500

run_psql() {
	"$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -v emu_url="http://127.0.0.1:$EMU_PORT" -d postgres --echo-queries "$@"
}

log "running the examples"
run_psql <<'SQL'
CREATE EXTENSION marketo_fdw;
CREATE SERVER marketo FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER marketo
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
CREATE SCHEMA marketo;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO marketo;
\d marketo.leads

-- A filtered read: the filter goes to Marketo as filterType/filterValues.
SELECT id, email, first_name, last_name FROM marketo.leads
WHERE email IN ('user1@example.com', 'user2@example.com', 'user3@example.com')
ORDER BY id;

EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, email FROM marketo.leads WHERE email = ANY (ARRAY['user1@example.com', 'user2@example.com']);

-- A join with a local CRM table: the contacts' emails, 300 per Marketo call
-- (a Marketo Batched Join; EXPLAIN shows it).
CREATE SCHEMA crm;
CREATE TABLE crm.contacts (contact_id int PRIMARY KEY, email text, first_name text, last_name text);
INSERT INTO crm.contacts VALUES
  (1, 'user10@example.com', 'Ada', 'Lovelace'),
  (2, 'user11@example.com', 'Grace', 'Hopper'),
  (3, 'nobody@example.org', 'Alan', 'Turing');
EXPLAIN (COSTS OFF)
SELECT c.contact_id, c.email, l.id AS marketo_id, l.lead_score
FROM crm.contacts c JOIN marketo.leads l ON l.email = c.email;
SELECT c.contact_id, c.email, l.id AS marketo_id, l.lead_score
FROM crm.contacts c JOIN marketo.leads l ON l.email = c.email
ORDER BY c.contact_id;

-- Load CRM contacts into Marketo: one sync call per 300 rows.
INSERT INTO crm.contacts
SELECT 100 + g, 'new' || g || '@example.net', 'New', 'Contact ' || g FROM generate_series(1, 5) g;
INSERT INTO marketo.leads (email, first_name, last_name)
SELECT email, first_name, last_name FROM crm.contacts WHERE contact_id > 100;
SELECT id, email, last_name FROM marketo.leads
WHERE email IN (SELECT email FROM crm.contacts WHERE contact_id > 100) ORDER BY id;

UPDATE marketo.leads SET first_name = 'Renamed' WHERE email = 'new1@example.net';
DELETE FROM marketo.leads WHERE email = 'new5@example.net';
SELECT email, first_name FROM marketo.leads WHERE email = ANY (ARRAY['new1@example.net', 'new5@example.net']);

SELECT marketo_fdw_backend_calls() AS calls_this_session;
SQL
log "done"
