/**
 * Diagnostic preload for bench/http/gc-check.mjs (never used by the benchmark itself):
 * turns every per-request `Object.defineProperty(res, name, { get: () => … })` on a
 * ServerResponse (the response capture of @oscore-http/http defines `writableEnded`,
 * `finished`, `headersSent` this way) into an accessor whose getter is one shared
 * function per name; the per-request closure is kept in a symbol-keyed data property.
 * Same behaviour; only what V8 allocates differs. Load with
 * `node --import ./bench/http/shared-accessors-patch.mjs`.
 */

import { ServerResponse } from 'node:http';

const define = Object.defineProperty;
const GETTERS = Symbol('bench.captureGetters');
const shared = new Map(); // name → one getter for every response

function sharedGetter(key) {
  let get = shared.get(key);
  if (get === undefined) {
    get = function sharedAccessor() {
      return this[GETTERS][key].call(this);
    };
    shared.set(key, get);
  }
  return get;
}

Object.defineProperty = function defineProperty(target, key, descriptor) {
  if (target instanceof ServerResponse && typeof key === 'string' && typeof descriptor?.get === 'function' && descriptor.set === undefined) {
    (target[GETTERS] ??= {})[key] = descriptor.get;
    return define(target, key, { configurable: descriptor.configurable ?? false, enumerable: descriptor.enumerable ?? false, get: sharedGetter(key) });
  }
  return define(target, key, descriptor);
};
