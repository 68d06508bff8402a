/* marketo_fdw--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION marketo_fdw UPDATE TO '1.1'" to load this file. \quit

-- Smart campaigns.  Each takes the foreign server's name and uses the
-- current user's mapping for it.

-- Requests a trigger campaign for the leads (POST campaigns/{id}/trigger.json),
-- 100 leads a call; tokens is {"{{my.token}}": "value", ...} or Marketo's
-- [{"name": ..., "value": ...}] array.  Returns the number of leads sent.
CREATE FUNCTION marketo_trigger_campaign(server text, campaign_id integer,
                                         lead_ids integer[], tokens jsonb DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME'
LANGUAGE C;

-- Schedules a batch campaign (POST campaigns/{id}/schedule.json) at run_at,
-- or in five minutes without it; tokens as for marketo_trigger_campaign.
CREATE FUNCTION marketo_schedule_campaign(server text, campaign_id integer,
                                          run_at timestamptz DEFAULT NULL,
                                          tokens jsonb DEFAULT NULL,
                                          clone_to_program_name text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C;
