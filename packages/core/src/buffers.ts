/**
 * Where the engine puts the bytes of one message. A new ArrayBuffer costs far more than
 * copying a kilobyte (allocation outside the JS heap, then sweeping by the garbage
 * collector), and so does handing node:crypto a small `new Uint8Array(n)`: V8 keeps
 * those inside the heap and must move them out the first time native code asks for their
 * buffer. So per-message buffers are carved from shared slabs, as Node's Buffer pool does,
 * in two pools that never mix:
 *
 *  - {@link privateBuffer}: plaintexts, nonces and AADs on their way into the AEAD. Never
 *    leaves the engine (only the crypto backend sees views of it, and copies what it
 *    needs); plaintext regions are wiped once encrypted.
 *  - {@link wireBuffer}: ciphertexts and OSCORE option values, the bytes that travel as
 *    they are. Whatever a returned value's `.buffer` exposes is such public bytes (or
 *    zeroes), never another message's plaintext as in Node's pool.
 *
 * Slabs start zero-filled and a region is never handed out twice: a full slab is dropped
 * (and freed once its last view is), so concurrent protect calls never share bytes.
 */

/** Returns a buffer of exactly `size` bytes: a view into a slab when small, else its own. */
export type SlabAllocator = (size: number) => Uint8Array;

const SLAB_SIZE = 16 * 1024;
/** Larger buffers get memory of their own (a quarter of a slab, as Node's pool). */
const MAX_CARVED = SLAB_SIZE / 4;

/** A new zero-filled array of its own: the allocator of the public encoders. */
export function newBuffer(size: number): Uint8Array {
  return new Uint8Array(size);
}

/**
 * A new allocator with slabs of its own; `large` makes buffers above 4 KiB. Exported for
 * crypto backends, whose ciphertexts are public: one allocator per kind of public output
 * (a backend's own ciphertexts, say), so that a value's `.buffer` shows only bytes of that
 * kind. Never for plaintext or keys.
 *
 * @example
 * ```ts
 * const ciphertexts = createSlabAllocator();
 * const out = ciphertexts(plaintext.length + tagLength); // a zero-filled view, never handed out twice
 * ```
 */
export function createSlabAllocator(large: (size: number) => Uint8Array = newBuffer): SlabAllocator {
  let slab = new Uint8Array(0);
  let used = 0;
  return (size) => {
    if (size > MAX_CARVED) return large(size);
    if (used + size > slab.length) {
      slab = new Uint8Array(SLAB_SIZE);
      used = 0;
    }
    const out = slab.subarray(used, used + size);
    used += (size + 7) & ~7; // 8-byte aligned, as Node's pool
    return out;
  };
}

/** Engine-private memory: plaintexts, nonces, AADs. See the module comment. */
export const privateBuffer: SlabAllocator = createSlabAllocator();

/** Public memory: ciphertexts and OSCORE option values. See the module comment. */
export const wireBuffer: SlabAllocator = createSlabAllocator();

/** Overwrites a plaintext once it is encrypted or no longer needed. */
export function wipe(bytes: Uint8Array | undefined): void {
  bytes?.fill(0);
}
