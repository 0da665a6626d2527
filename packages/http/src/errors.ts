/**
 * Typed errors of the HTTP layer. They extend the engine's `OscoreError`, so callers
 * branch on one family; each carries the HTTP status a server answers with.
 */

import { OscoreError, type OscoreOutcome } from '@oscore-http/core';
import { isFixedDiagnostic } from './server/diagnostics.js';

/** The HTTP status for an OSCORE error (RFC 8613 §8 outcome through RFC 8075 §7, with the deviations documented in docs/wire-format.md). */
export function httpStatusOf(err: OscoreError): number {
  if (err instanceof OscoreHttpError) return err.httpStatus;
  switch (err.outcome) {
    case '4.00':
    case '4.02': // RFC 8075 §7 note 6: a Bad Option due to the client's request is 400.
      return 400;
    case '4.01': // 401, not RFC 8075's 403: the response carries `WWW-Authenticate: OSCORE`.
      return 401;
    case '4.05':
      return 405;
    case '4.13':
      return 413;
    case '5.03':
      return 503;
    case '5.05':
      return 502;
    default:
      return 500;
  }
}

/** Base of the HTTP-layer errors. */
export abstract class OscoreHttpError extends OscoreError {
  /** Status a server answers with when this error stops a request. */
  abstract readonly httpStatus: number;
}

/** The `OSCORE` header field is missing or not base64url (RFC 8613 §11.1). */
export class MalformedOscoreHeaderError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_MALFORMED_HEADER';
  readonly outcome: OscoreOutcome = '4.02';
  readonly httpStatus = 400;
  constructor(detail: string) {
    super(`The OSCORE header field is malformed (${detail}); it must carry the OSCORE option value in base64url without padding (RFC 8613 Section 11.1).`);
  }
}

/** An OSCORE message whose Content-Type is not `application/oscore` (RFC 8613 §11.1). */
export class UnsupportedMediaTypeError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_CONTENT_TYPE';
  readonly outcome = undefined;
  readonly httpStatus = 415;
  constructor() {
    super('An OSCORE message must have Content-Type: application/oscore (RFC 8613 Section 11.1); send the ciphertext with that media type.');
  }
}

/** An OSCORE request that is not a POST (RFC 8613 §11.1: "only used in POST requests"). */
export class OuterMethodError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_OUTER_METHOD';
  readonly outcome = undefined;
  readonly httpStatus = 405;
  constructor() {
    super('OSCORE requests travel as POST (RFC 8613 Section 11.1); the client must send the protected request with the POST method.');
  }
}

/** An OSCORE message at a path that is not the server's outer path (RFC 8613 §11.1 leaves the target to the deployment). */
export class OuterPathError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_OUTER_PATH';
  readonly outcome = undefined;
  readonly httpStatus = 404;
  constructor() {
    super('No OSCORE endpoint at this path; send OSCORE requests to an outer path the server serves (outerPath; by default /oscore and /).');
  }
}

/** A defect in the OSCORE layer: the request was not processed and nothing was revealed. */
export class InternalError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_INTERNAL';
  readonly outcome = undefined;
  readonly httpStatus = 500;
  constructor() {
    super('The OSCORE layer failed unexpectedly; the request was not processed. Report this with the server log.');
  }
}

/** A request without OSCORE protection to a route that requires it. */
export class OscoreRequiredError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_UNPROTECTED_REQUEST';
  readonly outcome: OscoreOutcome = '4.01';
  readonly httpStatus = 401;
  constructor() {
    super('This route accepts only OSCORE-protected requests; send the request through the oscore-http client interceptor, or allow-list the route on the server.');
  }
}

/**
 * The request listener threw before it ended its response (a bare `node:http` listener;
 * frameworks catch their handlers' errors). The verified request gets a protected 500 with
 * nothing the listener wrote (RFC 8613 §8.3); the thrown value is the `cause`.
 */
export class ApplicationFailedError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_APPLICATION_FAILED';
  readonly outcome = undefined;
  readonly httpStatus = 500;
  constructor(cause: unknown) {
    super('The request listener threw before it answered; the client got a protected 500. Fix the listener, or catch its errors and answer them.', { cause });
  }
}

/** A body larger than the configured limit. */
export class BodyTooLargeError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_BODY_TOO_LARGE';
  readonly outcome: OscoreOutcome = '4.13';
  readonly httpStatus = 413;
  /** The limit in bytes. */
  readonly limit: number;
  constructor(limit: number, what = 'body') {
    const option = what.startsWith('response') ? 'maxResponseSize on the client' : 'maxBodySize on both peers';
    super(`The ${what} exceeds the configured limit of ${limit} bytes; send less, or raise ${option} (and use A128GCM/A256GCM/ChaCha20-Poly1305 beyond 64 KiB).`);
    this.limit = limit;
  }
}

/** The protected header fields (a request's target included) exceed the configured limit. */
export class HeadersTooLargeError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_HEADERS_TOO_LARGE';
  readonly outcome: OscoreOutcome = '4.13';
  readonly httpStatus = 431;
  readonly limit: number;
  constructor(limit: number) {
    super(`The protected header fields (a request's target included) exceed the configured limit of ${limit} bytes; send fewer or shorter headers or a shorter target, or raise maxHeaderSize on both peers.`);
    this.limit = limit;
  }
}

/** HTTP status of each outcome an inner message can have (RFC 8075 §7; 4.02 is 400 by its note 6). */
const INNER_MESSAGE_STATUS = { '4.00': 400, '4.02': 400, '4.05': 405, '5.05': 502 } as const;

/** A verified inner message that cannot be expressed as HTTP (bad method token, header name or value, unknown critical option, a forward-proxy request). */
export class InvalidInnerMessageError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE';
  readonly outcome: OscoreOutcome;
  readonly httpStatus: number;
  constructor(detail: string, outcome: keyof typeof INNER_MESSAGE_STATUS = '4.00') {
    super(`The protected message cannot be mapped to HTTP: ${detail}.`);
    this.outcome = outcome;
    this.httpStatus = INNER_MESSAGE_STATUS[outcome];
  }
}

/** An HTTP message the sender cannot map into an inner message (e.g. a header value too long for one CoAP option). */
export class UnmappableMessageError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_UNMAPPABLE';
  readonly outcome = undefined;
  readonly httpStatus = 500;
  constructor(detail: string) {
    super(`The HTTP message cannot be protected: ${detail}.`);
  }
}

/** The server answered an OSCORE request without OSCORE protection, so the answer cannot be trusted. */
export class UnprotectedResponseError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE';
  readonly outcome = undefined;
  readonly httpStatus = 502;
  /** Outer status of the unprotected response. */
  readonly status: number;
  /**
   * The server's diagnostic text, if any: unauthenticated, printable ASCII, at most 120
   * characters. The message quotes it only when it is one of the fixed reasons an OSCORE
   * server sends (such as "Replay detected"), so text chosen on the path never reaches logs
   * through the message.
   */
  readonly diagnostic: string | undefined;
  constructor(status: number, diagnostic: string | undefined) {
    const quoted = diagnostic !== undefined && isFixedDiagnostic(diagnostic) ? ` ("${diagnostic}")` : '';
    super(
      `The server answered with an unprotected ${status} response${quoted}, which cannot be verified; check that both sides share the security context and that nothing between them answers for the server.`,
    );
    this.status = status;
    this.diagnostic = diagnostic;
  }
}

/**
 * An OSCORE response whose outer body carries a Content-Encoding, or a Transfer-Encoding
 * other than chunked: its server sends the ciphertext as it is, so a hop on the path coded
 * it (a compressing proxy or mesh).
 */
export class OuterContentEncodingError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_OUTER_CONTENT_ENCODING';
  readonly outcome = undefined;
  readonly httpStatus = 502;
  constructor() {
    super('The OSCORE response arrived coded (Content-Encoding, or a Transfer-Encoding other than chunked), so a proxy or mesh between the peers compressed it; it was not decrypted. Configure that hop not to compress application/oscore.');
  }
}

/** The application's response exceeds what can be protected. */
export class ResponseTooLargeError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_RESPONSE_TOO_LARGE';
  readonly outcome = undefined;
  readonly httpStatus = 500;
  readonly limit: number;
  constructor(limit: number) {
    super(`The response body exceeds ${limit} bytes, the most this server protects per response; raise maxResponseSize or use an AEAD without the 64 KiB AES-CCM bound.`);
    this.limit = limit;
  }
}

/** A request to an origin that has no security context, while the client requires one. */
export class NoContextForOriginError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_NO_CONTEXT';
  readonly outcome = undefined;
  readonly httpStatus = 500;
  constructor(origin: string) {
    super(`No OSCORE security context is configured for ${origin}; add one with "peer": "${origin}" to the context file, or allow unprotected origins.`);
  }
}

/**
 * A request whose Host field names a configured peer while it is addressed elsewhere: not
 * to an address of that host on the same scheme and port (what undici's dns interceptor
 * produces). Sent as it is, a protected request would reach a server of the caller's
 * choosing, which could relay it to the peer.
 */
export class HostMismatchError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_HOST_MISMATCH';
  readonly outcome = undefined;
  readonly httpStatus = 500;
  constructor(peer: string, origin: string) {
    super(`The request's Host field names ${peer}, which has a security context, but the request is addressed to ${origin}, which is not an address of that host; nothing was sent. Send it to ${peer}, or remove the Host field.`);
  }
}

/** A context file or context object that cannot be used. */
export class ContextConfigError extends OscoreHttpError {
  readonly code = 'ERR_OSCORE_HTTP_CONTEXT_CONFIG';
  readonly outcome = undefined;
  readonly httpStatus = 500;
  /** Where in the configuration, e.g. `contexts[1].masterSecret`. */
  readonly path: string;
  /** What is wrong there, without the file and place. */
  readonly detail: string;
  constructor(path: string, detail: string, source?: string) {
    super(`${source ? `${source}: ` : ''}${path}: ${detail}.`);
    this.path = path;
    this.detail = detail;
  }
}
