/**
 * @oscore-http/http — OSCORE over HTTP (RFC 8613 §11, RFC 8075).
 *
 * - The mapping between an HTTP request/response and the inner CoAP-coded message,
 *   with the HTTP-Field and HTTP-Code extension options (docs/wire-format.md).
 * - The `OSCORE` header field and outer framing (`POST`, `application/oscore`, `200 OK`).
 * - The header policy: which fields are protected, sent outside, or dropped.
 * - Context files, and a `node:http` handler wrapper for Express, Connect or a bare server.
 *
 * The fastify plugin (@oscore-http/fastify) and the undici interceptor (@oscore-http/undici)
 * are built on this package.
 *
 * @packageDocumentation
 */

export {
  CONTEXT_CONFIG_KEYS,
  contextSetFromOption,
  createContextSet,
  DEFAULT_HTTP_REPLAY_WINDOW,
  defaultStateStore,
  loadContextFile,
  MAX_CONTEXT_FILE_SIZE,
  type ContextConfig,
  type ContextFile,
  type ContextSetOptions,
} from './config/context-file.js';
export { readFileBounded } from './config/bounded-read.js';
export { choiceOption, integerOption, sizeOption } from './config/option-values.js';
export { ContextSet, httpOriginOf, normalizeOrigin } from './config/context-set.js';
export { jsonSyntaxDetail, withoutJsonExcerpt } from './config/json-syntax.js';
export { isShowableEnvName, resolveSecret, type SecretSource } from './config/secrets.js';
export {
  ApplicationFailedError,
  BodyTooLargeError,
  ContextConfigError,
  HeadersTooLargeError,
  HostMismatchError,
  httpStatusOf,
  InternalError,
  InvalidInnerMessageError,
  MalformedOscoreHeaderError,
  NoContextForOriginError,
  OscoreHttpError,
  OscoreRequiredError,
  OuterContentEncodingError,
  OuterMethodError,
  OuterPathError,
  ResponseTooLargeError,
  UnmappableMessageError,
  UnprotectedResponseError,
  UnsupportedMediaTypeError,
} from './errors.js';
export { HTTP_CODE_OPTION, HTTP_FIELD_OPTION } from './mapping/extension-options.js';
export { contentFormatToMediaType, mediaTypeToContentFormat } from './mapping/content-format.js';
export { firstValue, toHeaderList, toHeaderObject, type HeaderList } from './mapping/fields.js';
export { createHeaderPolicy, type HeaderDisposition, type HeaderPolicy, type HeaderPolicyOptions } from './mapping/header-policy.js';
export {
  DEFAULT_MAX_HEADER_SIZE,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type HttpRequestParts,
  type HttpResponseParts,
  type MappingLimits,
} from './mapping/messages.js';
export { codeToMethod, methodToCode } from './mapping/method.js';
export { codeToStatus, statusToCode } from './mapping/status.js';
export { composeTarget, decomposeTarget } from './mapping/target.js';
export { diagnosticOf } from './server/diagnostics.js';
export { ECHO_MAX_LENGTH, ECHO_OPTION, echoOptionOf, EchoIssuer } from './server/echo.js';
export {
  createOscoreHandler,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_OUTER_PATH,
  type OscoreRequestListener,
  type OscoreServerEvent,
  type OscoreServerOptions,
} from './server/handler.js';
export { oscoreInfoOf } from './server/inner-request.js';
export type { OscoreRequestInfo } from './server/request-info.js';
export { APPLICATION_OSCORE, decodeOscoreHeader, encodeOscoreHeader, isOscoreContentType } from './wire/oscore-header.js';
export { BodyBuffer } from './wire/body-buffer.js';
