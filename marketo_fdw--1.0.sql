/* marketo_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION marketo_fdw" to load this file. \quit

CREATE FUNCTION marketo_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION marketo_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER marketo_fdw
  HANDLER marketo_fdw_handler
  VALIDATOR marketo_fdw_validator;

-- Calls this backend has sent to Marketo since it started, for monitoring and tests.
CREATE FUNCTION marketo_fdw_backend_calls()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;
