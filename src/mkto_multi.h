/*-------------------------------------------------------------------------
 *
 * mkto_multi.h
 *		  Independent Marketo calls sent together, through one curl multi
 *		  handle.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MKTO_MULTI_H
#define MKTO_MULTI_H

#include "mkto_client.h"

/*
 * Sends the n requests together and returns their responses in out[i],
 * in request order whatever order the answers arrive in, palloc'd in
 * CurrentMemoryContext as mkto_call returns them.  Each sending is
 * admitted by the limiter (one ticket each), and each call is judged and
 * retried as mkto_call does.  Calls that find no room under the limiter
 * wait for one of the group's own to end.  When one call fails, the others
 * are abandoned and every ticket is released before its error is raised.
 */
extern void mkto_call_many(MktoClient *client, const MktoRequest *reqs, int n,
						   MktoResponse **out);

#endif							/* MKTO_MULTI_H */
