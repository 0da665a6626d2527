/**
 * Heap measurements for tests that bound what hostile input may cost in memory.
 */

import v8 from 'node:v8';
import vm from 'node:vm';

/** `gc()`, made available in this process (as packages/core/test/fuzz.test.ts does). */
function exposeGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  v8.setFlagsFromString('--expose-gc');
  const fn = vm.runInNewContext('gc') as unknown;
  if (typeof fn !== 'function') throw new Error('no gc() to call: run node with --expose-gc');
  return fn as () => void;
}

/** Memory in use once garbage is collected: what is still held. */
function held(): NodeJS.MemoryUsage {
  const gc = exposeGc();
  gc();
  gc();
  return process.memoryUsage();
}

/** The JavaScript heap still held. */
export function heapHeld(): number {
  return held().heapUsed;
}

/** The memory of ArrayBuffers (Buffers) still held. */
export function arrayBuffersHeld(): number {
  return held().arrayBuffers;
}
