/*-------------------------------------------------------------------------
 *
 * mkto_json.c
 *		  JSON parsing that keeps every number exactly as written.
 *
 * json-c 0.16 keeps the text of a number with a fraction or exponent
 * (json_object_new_double_s), but stores integers as int64 or uint64 and
 * saturates the rest without an error: 123456789012345678901234567890
 * becomes 18446744073709551615, and "-0" loses its sign.  Such literals
 * are spelled here with an exponent ("E+0") before json-c sees them, which
 * makes json-c keep their text as a double's; the exponent is then taken
 * off that text again.  Every number thus reads back, through
 * json_object_get_string() and serialization, as the text it came as.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "mkto_client.h"

/* What the rewritten literals get appended: exact, and valid JSON. */
#define EXACT_SUFFIX		"E+0"
#define EXACT_SUFFIX_LEN	3

/* The largest magnitudes json-c 0.16 stores exactly. */
#define MAX_NEGATIVE_DIGITS "9223372036854775808"	/* -INT64_MIN */
#define MAX_POSITIVE_DIGITS "18446744073709551615"	/* UINT64_MAX */

static bool
is_json_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* digits (no sign, no leading zero) greater than limit, as numbers? */
static bool
digits_exceed(const char *digits, size_t len, const char *limit)
{
	size_t		limit_len = strlen(limit);

	if (len != limit_len)
		return len > limit_len;
	return memcmp(digits, limit, len) > 0;
}

/*
 * Would json-c store the integer literal text[0..len) other than exactly?
 * The literal is -?(0|[1-9][0-9]*), already checked.
 */
static bool
integer_needs_text(const char *text, size_t len)
{
	bool		negative = text[0] == '-';
	const char *digits = text + (negative ? 1 : 0);
	size_t		ndigits = len - (negative ? 1 : 0);

	if (negative)
		return (ndigits == 1 && digits[0] == '0') ||
			digits_exceed(digits, ndigits, MAX_NEGATIVE_DIGITS);
	return digits_exceed(digits, ndigits, MAX_POSITIVE_DIGITS);
}

/*
 * Length of the integer literal at text[pos] (a '-' or digit outside a
 * string) when json-c would not keep it exactly, else 0.  Only a literal
 * valid as JSON is rewritten, so that the rewriting never turns invalid
 * text into valid text or back.
 */
static size_t
inexact_integer_at(const char *text, size_t len, size_t pos)
{
	size_t		end = pos;

	if (text[end] == '-')
		end++;
	if (end >= len || !isdigit((unsigned char) text[end]))
		return 0;
	if (text[end] == '0' && end + 1 < len && isdigit((unsigned char) text[end + 1]))
		return 0;				/* a leading zero: invalid anyway */
	while (end < len && isdigit((unsigned char) text[end]))
		end++;
	/* a fraction or exponent: json-c keeps the text itself */
	if (end < len && (text[end] == '.' || text[end] == 'e' || text[end] == 'E'))
		return 0;
	if (!integer_needs_text(text + pos, end - pos))
		return 0;
	return end - pos;
}

/*
 * A copy of text with EXACT_SUFFIX after every integer literal json-c would
 * not keep, or NULL when there is none.
 */
static char *
spell_inexact_integers(const char *text, size_t len, size_t *newlen)
{
	StringInfoData buf;
	bool		in_string = false;
	size_t		copied = 0;
	size_t		pos = 0;

	buf.data = NULL;
	while (pos < len)
	{
		char		c = text[pos];
		size_t		literal;

		if (in_string)
		{
			if (c == '\\')
				pos++;			/* the escaped character */
			else if (c == '"')
				in_string = false;
			pos++;
			continue;
		}
		if (c == '"')
		{
			in_string = true;
			pos++;
			continue;
		}
		if (c != '-' && !isdigit((unsigned char) c))
		{
			pos++;
			continue;
		}
		literal = inexact_integer_at(text, len, pos);
		if (literal > 0)
		{
			if (buf.data == NULL)
				initStringInfo(&buf);
			appendBinaryStringInfo(&buf, text + copied, pos + literal - copied);
			appendBinaryStringInfo(&buf, EXACT_SUFFIX, EXACT_SUFFIX_LEN);
			copied = pos + literal;
		}
		/* the rest of this number, whatever it is */
		pos++;
		while (pos < len && (isdigit((unsigned char) text[pos]) || text[pos] == '.' ||
							 text[pos] == 'e' || text[pos] == 'E' ||
							 text[pos] == '+' || text[pos] == '-'))
			pos++;
	}
	if (buf.data == NULL)
		return NULL;
	appendBinaryStringInfo(&buf, text + copied, len - copied);
	*newlen = buf.len;
	return buf.data;
}

/*
 * Takes EXACT_SUFFIX off the text of the numbers it was added to.  A
 * number that came spelled that way already reads back without it: the
 * same value.
 */
static void
restore_number_text(json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_object:
			{
				json_object_object_foreach(obj, key, member)
				{
					(void) key;
					if (member)
						restore_number_text(member);
				}
				break;
			}
		case json_type_array:
			{
				size_t		n = json_object_array_length(obj);

				for (size_t i = 0; i < n; i++)
				{
					json_object *elem = json_object_array_get_idx(obj, i);

					if (elem)
						restore_number_text(elem);
				}
				break;
			}
		case json_type_double:
			{
				const char *text = json_object_get_string(obj);
				size_t		len = strlen(text);
				char	   *exact;

				if (len <= EXACT_SUFFIX_LEN ||
					strcmp(text + len - EXACT_SUFFIX_LEN, EXACT_SUFFIX) != 0 ||
					inexact_integer_at(text, len - EXACT_SUFFIX_LEN, 0) !=
					len - EXACT_SUFFIX_LEN)
					break;
				/* json-c frees it with the object (json_object_free_userdata) */
				exact = strndup(text, len - EXACT_SUFFIX_LEN);
				if (exact == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
							 errmsg("out of memory")));
				json_object_set_serializer(obj, json_object_userdata_to_json_string,
										   exact, json_object_free_userdata);
				break;
			}
		default:
			break;
	}
}

/*
 * Parses len bytes of UTF-8 JSON text strictly (RFC 8259, nothing but
 * blanks after the value), keeping the exact text of every number.
 * Returns NULL when the text is not valid JSON; else the value, tracked
 * by CurrentMemoryContext (mkto_track_json).
 */
json_object *
mkto_json_parse(const char *text, size_t len)
{
	size_t		spelled_len = 0;
	char	   *spelled;
	const char *input;
	size_t		input_len;
	json_tokener *tok;
	json_object *root;
	size_t		end;

	if (len == 0 || len > (size_t) PG_INT32_MAX || memchr(text, '\0', len) != NULL)
		return NULL;
	spelled = spell_inexact_integers(text, len, &spelled_len);
	input = spelled ? spelled : text;
	input_len = spelled ? spelled_len : len;
	if (input_len > (size_t) PG_INT32_MAX)
		return NULL;

	tok = json_tokener_new();
	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, input, (int) input_len);
	if (json_tokener_get_error(tok) != json_tokener_success)
	{
		if (root != NULL)
			json_object_put(root);
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < input_len; end++)
	{
		if (!is_json_blank(input[end]))
		{
			json_object_put(root);
			return NULL;
		}
	}
	root = mkto_track_json(root);
	if (spelled)
	{
		if (root)
			restore_number_text(root);
		/* the body may be a token response: leave no copy behind */
		explicit_bzero(spelled, spelled_len);
		pfree(spelled);
	}
	return root;
}
