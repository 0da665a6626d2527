/**
 * Shared helpers for the end-to-end tests: matching client/server security contexts,
 * undici agents with the OSCORE interceptor, loopback servers, and counters of what
 * actually reached a server. Nothing here is mocked: every helper works on real
 * sockets on 127.0.0.1.
 */

import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent, interceptors, type Dispatcher } from 'undici';
import { createContextSet, type ContextConfig, type ContextSet } from '@oscore-http/http';
import { oscore, type OscoreInterceptorOptions } from '@oscore-http/undici';

/** Master secrets of the two client identities the test servers know. */
export const SECRET_A = '0102030405060708090a0b0c0d0e0f10';
export const SECRET_B = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
export const SALT_B = '9e7ca92223786340';

type ContextOverrides = Partial<Omit<ContextConfig, 'masterSecret'>> & { masterSecret?: ContextConfig['masterSecret'] };

/** The server's view of client A: it receives kid 01 and sends with kid 02. */
export function serverContextA(overrides: ContextOverrides = {}): ContextConfig {
  return { name: 'client-a', masterSecret: { hex: SECRET_A }, senderId: '01', recipientId: '02', ...overrides } as ContextConfig;
}

/** Client A's view of the server at `origin`. */
export function clientContextA(origin: string, overrides: ContextOverrides = {}): ContextConfig {
  return { name: `server ${origin}`, peer: origin, masterSecret: { hex: SECRET_A }, senderId: '02', recipientId: '01', ...overrides } as ContextConfig;
}

/** The server's view of client B (different secret, salt, IDs and an ID context). */
export function serverContextB(overrides: ContextOverrides = {}): ContextConfig {
  return {
    name: 'client-b',
    masterSecret: { hex: SECRET_B },
    masterSalt: { hex: SALT_B },
    senderId: '0a',
    recipientId: '0b0c',
    idContext: '37cbf3210017a2d3',
    ...overrides,
  } as ContextConfig;
}

/** Client B's view of the server at `origin`. */
export function clientContextB(origin: string, overrides: ContextOverrides = {}): ContextConfig {
  return {
    name: `server ${origin}`,
    peer: origin,
    masterSecret: { hex: SECRET_B },
    masterSalt: { hex: SALT_B },
    senderId: '0b0c',
    recipientId: '0a',
    idContext: '37cbf3210017a2d3',
    ...overrides,
  } as ContextConfig;
}

/** Base URL (`http://127.0.0.1:PORT`) of a listening server. */
export function originOf(server: Server): string {
  const address = server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/** What reached a server, counted from its own events. */
export interface TrafficCounter {
  readonly requests: number;
  readonly connections: number;
  /** Outer targets and methods, in arrival order. */
  readonly seen: ReadonlyArray<{ method: string; url: string; contentType: string | undefined; oscore: string | undefined }>;
  reset(): void;
}

/**
 * Counts requests and connections on `server`. Attach it after the OSCORE layer is
 * installed (the fastify plugin replaces the `request` listeners it finds).
 */
export function countTraffic(server: Server): TrafficCounter {
  let requests = 0;
  let connections = 0;
  let seen: Array<{ method: string; url: string; contentType: string | undefined; oscore: string | undefined }> = [];
  server.on('request', (req) => {
    requests++;
    seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], oscore: req.headers.oscore as string | undefined });
  });
  server.on('connection', (_socket: Socket) => {
    connections++;
  });
  return {
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    get seen() {
      return seen;
    },
    reset() {
      requests = 0;
      connections = 0;
      seen = [];
    },
  };
}

/** Options of {@link oscoreAgent}. */
export interface OscoreAgentOptions {
  /** Client contexts; default client A for `origin`. */
  readonly contexts?: ContextSet | readonly ContextConfig[];
  /** Interceptor options other than the contexts. */
  readonly interceptor?: Omit<OscoreInterceptorOptions, 'contexts'>;
  /** Agent options (e.g. `connections`). */
  readonly agent?: Agent.Options;
  /** Compose undici's redirect interceptor outside the OSCORE interceptor, with this many redirections. */
  readonly followRedirects?: number;
  /** Extra interceptors composed inside (called after) the OSCORE one: they see the outer requests. */
  readonly inner?: Dispatcher.DispatcherComposeInterceptor[];
}

/** A client dispatcher with the OSCORE interceptor, and the agent to close. */
export interface OscoreClient {
  readonly dispatcher: Dispatcher;
  readonly agent: Agent;
  readonly contexts: ContextSet;
  close(): Promise<void>;
}

/**
 * An undici Agent composed with the OSCORE interceptor. `compose` calls the last
 * interceptor first, so `followRedirects` puts the redirect interceptor last: it sees
 * the verified inner response, and each followed request goes through OSCORE again.
 */
export function oscoreAgent(origin: string, options: OscoreAgentOptions = {}): OscoreClient {
  const contexts = options.contexts === undefined ? createContextSet([clientContextA(origin)]) : Array.isArray(options.contexts) ? createContextSet(options.contexts) : (options.contexts as ContextSet);
  const agent = new Agent({ keepAliveTimeout: 2_000, ...options.agent });
  const chain: Dispatcher.DispatcherComposeInterceptor[] = [...(options.inner ?? []), oscore({ contexts, ...options.interceptor })];
  if (options.followRedirects !== undefined) chain.push(interceptors.redirect({ maxRedirections: options.followRedirects }));
  const dispatcher = agent.compose(chain);
  return { dispatcher, agent, contexts, close: () => agent.close() };
}

/** Collects close callbacks and runs them all (servers, agents) in reverse order. */
export class Resources {
  readonly #closers: Array<() => Promise<unknown> | unknown> = [];
  add<T>(resource: T, close: (resource: T) => Promise<unknown> | unknown): T {
    this.#closers.push(() => close(resource));
    return resource;
  }
  async closeAll(): Promise<void> {
    const closers = this.#closers.splice(0).reverse();
    const results = await Promise.allSettled(closers.map((c) => c()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Closes a node:http server and its idle keep-alive connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** Listens on an ephemeral loopback port. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(originOf(server));
    });
  });
}

/** Every byte value 0…255, in order, `repeat` times. */
export function allByteValues(repeat = 1): Buffer {
  const out = Buffer.alloc(256 * repeat);
  for (let i = 0; i < out.length; i++) out[i] = i % 256;
  return out;
}

/** Deterministic pseudo-random bytes (so a mismatch is reproducible). */
export function patternBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Resolves with the error a promise rejects with; fails if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
