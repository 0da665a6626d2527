/**
 * @oscore-http/undici — an undici interceptor that sends requests to configured origins
 * as OSCORE messages (RFC 8613 §11) and verifies each response against its request.
 *
 * @example
 * ```ts
 * import { Agent, setGlobalDispatcher } from 'undici';
 * import { oscore } from '@oscore-http/undici';
 * setGlobalDispatcher(new Agent().compose(oscore({ contexts: 'contexts.json' })));
 * ```
 *
 * @packageDocumentation
 */

export { oscore, type ClientContexts, type OscoreInterceptorOptions } from './interceptor.js';
