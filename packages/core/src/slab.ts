/**
 * Small buffers carved from shared slabs. A new ArrayBuffer costs far more than copying a
 * kilobyte (allocation outside the JS heap, then sweeping by the garbage collector), so
 * buffers that live only as long as one message are carved, as Node's Buffer pool does.
 * Each allocator has slabs of its own, so callers decide what may share memory (the
 * engine keeps plaintexts and ciphertexts apart). Slabs start zero-filled and a region is
 * never handed out twice: a full slab is dropped and freed once its last view is.
 */

/** Returns a buffer of exactly `size` bytes: a view into a slab when small, else its own. */
export type SlabAllocator = (size: number) => Uint8Array;

const SLAB_SIZE = 16 * 1024;
/** Larger buffers get memory of their own (a quarter of a slab, like Node's pool). */
const MAX_CARVED = SLAB_SIZE / 4;

/** A new allocator with its own slabs; `large` makes buffers above 4 KiB. */
export function createSlabAllocator(large: (size: number) => Uint8Array = (size) => new Uint8Array(size)): SlabAllocator {
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
