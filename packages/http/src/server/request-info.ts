/**
 * What the application learns about a verified request: which peer sent it.
 */

import type { SecurityContext } from '@oscore-http/core';

/** Attached to every verified request (fastify: `request.oscore`; node:http: `oscoreInfoOf(req)`). */
export interface OscoreRequestInfo {
  /** The context that verified the request; `context.name` names the peer. */
  readonly context: SecurityContext;
  /** The configured name of the peer's context, if any. */
  readonly peer: string | undefined;
  /** The request 'kid' (the peer's Sender ID), in hex. */
  readonly kid: string;
  /** The request 'kid context', in hex, if present. */
  readonly kidContext: string | undefined;
  /** The request's Sender Sequence Number. */
  readonly sequenceNumber: number;
}
