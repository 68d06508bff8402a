/*-------------------------------------------------------------------------
 *
 * mkto_json.h
 *		  Includes json-c next to PostgreSQL's headers, and parses JSON
 *		  with exact numbers.
 *
 * PostgreSQL's fmgrprotos.h declares the SQL function json_object(), which
 * collides with json-c's json_object type.  Including fmgrprotos.h here
 * with that one name moved aside settles it for the whole translation
 * unit, so every .c file includes this right after postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MKTO_JSON_H
#define MKTO_JSON_H

#ifdef FMGRPROTOS_H
#error "include mkto_json.h before utils/builtins.h or utils/fmgrprotos.h"
#endif

#define json_object pg_sql_json_object
#include "utils/fmgrprotos.h"
#undef json_object

#include <json-c/json.h>

#include <stddef.h>

/*
 * Parses UTF-8 JSON text strictly, keeping every number's exact text
 * (json-c alone saturates integers outside 64 bits).  NULL when invalid;
 * else tracked by CurrentMemoryContext.  Defined in mkto_json.c.
 */
extern json_object *mkto_json_parse(const char *text, size_t len);

#endif							/* MKTO_JSON_H */
