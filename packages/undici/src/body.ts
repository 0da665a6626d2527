/**
 * Reads a request body of any shape undici accepts into one buffer, within a limit:
 * OSCORE protects the body as a whole, so it must be complete before encryption.
 */

import { errors, FormData as UndiciFormData, Response } from 'undici';
import { BodyTooLargeError } from '@oscore-http/http';

/** The bytes of a body and, for FormData/Blob, the media type the body implies. */
export interface CollectedBody {
  readonly bytes: Uint8Array;
  readonly contentType: string | undefined;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof (value as Iterable<unknown>)?.[Symbol.iterator] === 'function';
}

function isFormDataLike(value: unknown): boolean {
  return (value as { [Symbol.toStringTag]?: string })?.[Symbol.toStringTag] === 'FormData';
}

function isBlobLike(value: unknown): value is Blob {
  const tag = (value as { [Symbol.toStringTag]?: string })?.[Symbol.toStringTag];
  return (tag === 'Blob' || tag === 'File') && typeof (value as Blob).arrayBuffer === 'function';
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  // undici's own error for a body it cannot send (code UND_ERR_INVALID_ARG): a caller that
  // branches on the code gets the same one with or without this interceptor.
  throw new errors.InvalidArgumentError('request body chunks must be strings or bytes; yield Buffers, Uint8Arrays or strings from the body iterable');
}

/** Whether `body` is already all in memory (nothing to wait for while collecting it). */
export function isInMemory(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || ArrayBuffer.isView(body) || body instanceof ArrayBuffer;
}

function checked(bytes: Uint8Array, limit: number): Uint8Array {
  if (bytes.length > limit) throw new BodyTooLargeError(limit, 'request body');
  return bytes;
}

/**
 * Reads an (async) iterable body. Stepped by hand rather than with `for await`: leaving that
 * loop by a throw awaits the iterator's `return()`, and fetch's request-body generator never
 * settles it (its stream waits for the request this read is part of), so a body over the
 * limit would leave the caller's promise pending forever. The source is closed (`return()`,
 * whose `finally` runs, and `destroy()` for streams) without waiting for it.
 */
async function collectIterable(body: AsyncIterable<unknown> | Iterable<unknown>, limit: number, aborted: () => boolean): Promise<CollectedBody> {
  const iterator = isAsyncIterable(body) ? body[Symbol.asyncIterator]() : (body as Iterable<unknown>)[Symbol.iterator]();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) break;
      if (aborted()) throw new Error('aborted'); // the caller already has the abort's reason
      // A sync iterable may yield promises, which `for await` would have awaited.
      const bytes = toBytes(await step.value);
      size += bytes.length;
      if (size > limit) throw new BodyTooLargeError(limit, 'request body');
      chunks.push(bytes);
    }
  } catch (err) {
    Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => {});
    (body as { destroy?: () => void }).destroy?.();
    throw err;
  }
  return { bytes: Buffer.concat(chunks, size), contentType: undefined };
}

/**
 * Collects a body for which {@link isInMemory} holds, synchronously: the interceptor's hot
 * path (a string or bytes) needs no promise.
 * @throws {BodyTooLargeError} if it is larger than `limit`.
 */
export function collectInMemory(body: unknown, limit: number): CollectedBody {
  if (body === undefined || body === null) return { bytes: new Uint8Array(0), contentType: undefined };
  return { bytes: checked(toBytes(body), limit), contentType: undefined };
}

/**
 * Collects `body` (string, bytes, ArrayBuffer, Blob, FormData, stream, or (async) iterable).
 * @param aborted polled before each chunk of an iterable: once it says so, reading stops and
 * the iterator is closed (its `finally` runs), as undici stops reading when aborted.
 * @throws {BodyTooLargeError} as soon as more than `limit` bytes arrive.
 */
export async function collectBody(body: unknown, limit: number, aborted: () => boolean = () => false): Promise<CollectedBody> {
  if (isInMemory(body)) return collectInMemory(body, limit);
  if (isFormDataLike(body)) {
    // Serialise as fetch would: multipart/form-data with its boundary. undici's Response knows
    // only its own FormData class, so a FormData from elsewhere (Node's global) is copied first.
    let form = body as UndiciFormData;
    // The entries' own bytes, before any is read: a form with a large file is refused without
    // reading it (the multipart encoding only adds to this).
    let size = 0;
    for (const [name, value] of body as Iterable<[string, string | Blob]>) size += Buffer.byteLength(name) + (typeof value === 'string' ? Buffer.byteLength(value) : value.size);
    if (size > limit) throw new BodyTooLargeError(limit, 'request body');
    if (!(body instanceof UndiciFormData)) {
      form = new UndiciFormData();
      for (const [name, value] of body as Iterable<[string, string | Blob]>) {
        if (typeof value === 'string') form.append(name, value);
        else form.append(name, value, (value as { name?: string }).name);
      }
    }
    const response = new Response(form);
    return { bytes: checked(new Uint8Array(await response.arrayBuffer()), limit), contentType: response.headers.get('content-type') ?? undefined };
  }
  if (isBlobLike(body)) {
    if (body.size > limit) throw new BodyTooLargeError(limit, 'request body');
    return { bytes: new Uint8Array(await body.arrayBuffer()), contentType: body.type === '' ? undefined : body.type };
  }
  if (isAsyncIterable(body) || isIterable(body)) return collectIterable(body, limit, aborted);
  throw new errors.InvalidArgumentError('body must be a string, a Buffer, a Readable stream, an iterable, or an async iterable (or a Blob or FormData); convert the value, e.g. JSON.stringify an object');
}
