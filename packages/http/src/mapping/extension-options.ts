/**
 * The two inner options that carry what HTTP has and CoAP lacks (docs/wire-format.md).
 * Both come from the experimental-use range 65000–65535 (RFC 7252 §12.2), so they
 * never collide with registered options, and their numbers encode their class
 * (RFC 7252 §5.4.6: Critical = onum & 1, UnSafe = onum & 2):
 *
 * - **HTTP-Field, 65002** — elective, unsafe, repeatable: one HTTP field line per
 *   instance, `name ":" value`, the name in lower case. A peer that does not know it
 *   ignores it and still reads the standard options.
 * - **HTTP-Code, 65003** — critical, unsafe, not repeatable: the HTTP method token
 *   (requests) or the three-digit status (responses) when the CoAP code does not
 *   express it exactly. Critical, so a peer without this extension rejects the message
 *   (4.02 Bad Option) instead of acting on an approximate code.
 */

/** One HTTP field line per instance (elective). */
export const HTTP_FIELD_OPTION = 65002;
/** Exact HTTP method or status (critical). */
export const HTTP_CODE_OPTION = 65003;
/** Longest HTTP-Code value, in bytes: a method token of at most 16 characters (docs/wire-format.md §3). */
export const HTTP_CODE_MAX_LENGTH = 16;
