/**
 * Finding the Recipient Context of a received request by its 'kid' and, when present,
 * 'kid context' (RFC 8613 §8.2 step 2, §3.3, §5.1).
 *
 * Recipient IDs SHOULD be unique per endpoint (§3.3); when several contexts share one
 * (with different ID Contexts, or derived from different Common Contexts: another Master
 * Secret) and the request does not tell them apart, each candidate is tried in turn, as
 * §3.3 allows ("the endpoint may need to try multiple times").
 */

import { bytesEqual, toHex } from '../bytes.js';
import { InvalidContextError } from '../errors.js';
import { internalsOf, SecurityContext } from './security-context.js';

/** Where the server looks up Recipient Contexts. Implement it to fetch contexts from a secret manager. */
export interface RecipientContextLookup {
  /**
   * Contexts whose Recipient ID equals `kid` and, if `kidContext` is given, whose ID
   * Context equals it. An empty result means "security context not found".
   */
  findRecipientContexts(kid: Uint8Array, kidContext: Uint8Array | undefined): readonly SecurityContext[] | Promise<readonly SecurityContext[]>;
}

/** Whether `ctx` is a candidate for a request with this kid and kid context. */
export function matchesRecipient(ctx: SecurityContext, kid: Uint8Array, kidContext: Uint8Array | undefined): boolean {
  if (!bytesEqual(internalsOf(ctx).recipientId, kid)) return false;
  if (kidContext === undefined) return true;
  const idContext = internalsOf(ctx).idContext;
  return idContext !== undefined && bytesEqual(idContext, kidContext);
}

/** An in-memory set of security contexts, indexed by Recipient ID. */
export class ContextRegistry implements RecipientContextLookup {
  readonly #byRecipientId = new Map<string, SecurityContext[]>();

  /** @param contexts initial contexts; see {@link ContextRegistry.add}. */
  constructor(contexts: Iterable<SecurityContext> = []) {
    for (const ctx of contexts) this.add(ctx);
  }

  /**
   * Adds a context. Another with the same Recipient ID is allowed (§3.3: IDs "SHOULD be
   * unique"; requests are then tried against each), the same context twice is not.
   * @throws {InvalidContextError} if the same Recipient Context (same Common Context and Recipient ID) is already present.
   */
  add(ctx: SecurityContext): this {
    const key = toHex(internalsOf(ctx).recipientId);
    const list = this.#byRecipientId.get(key) ?? [];
    // The state id is derived from the Master Secret and Salt, the ID Context, the algorithm and the ID.
    if (list.some((other) => other.recipientStateId === ctx.recipientStateId)) {
      throw new InvalidContextError(`the same Recipient Context (Recipient ID ${key || '(empty)'}, same Master Secret, Salt and ID Context) is given twice; remove the duplicate`);
    }
    list.push(ctx);
    this.#byRecipientId.set(key, list);
    return this;
  }

  /** Number of contexts held. */
  get size(): number {
    let n = 0;
    for (const list of this.#byRecipientId.values()) n += list.length;
    return n;
  }

  /** Every context held. */
  *[Symbol.iterator](): IterableIterator<SecurityContext> {
    for (const list of this.#byRecipientId.values()) yield* list;
  }

  findRecipientContexts(kid: Uint8Array, kidContext: Uint8Array | undefined): readonly SecurityContext[] {
    const list = this.#byRecipientId.get(toHex(kid));
    if (list === undefined) return [];
    if (kidContext === undefined) return list;
    return list.filter((ctx) => matchesRecipient(ctx, kid, kidContext));
  }
}

/** Resolves the candidates for a request from a single context or a lookup (synchronously when the lookup is). */
export function resolveRecipientContexts(
  source: SecurityContext | RecipientContextLookup,
  kid: Uint8Array,
  kidContext: Uint8Array | undefined,
): readonly SecurityContext[] | Promise<readonly SecurityContext[]> {
  if (source instanceof SecurityContext) return matchesRecipient(source, kid, kidContext) ? [source] : [];
  // A registry matches by construction (a subclass may not); any other lookup's answer is checked.
  if (Object.getPrototypeOf(source) === ContextRegistry.prototype) return source.findRecipientContexts(kid, kidContext);
  const found = source.findRecipientContexts(kid, kidContext);
  return Array.isArray(found) ? onlyMatching(found as readonly SecurityContext[], kid, kidContext) : Promise.resolve(found).then((list) => onlyMatching(list, kid, kidContext));
}

/**
 * A lookup's answer, held to what it must be: the AAD and nonce are built from the
 * context's own Recipient ID, and 'kid context' is in neither, so a lookup that matched
 * loosely (on kid alone, say) would let a request whose kid or kid context was rewritten
 * on the path verify. §5: "If 'kid context' is present in the request, then the server
 * SHALL use a security context with that ID Context when verifying the request." A list
 * that matches is returned as it is. (Any iterable is taken, as the verification loop took it.)
 */
function onlyMatching(found: Iterable<SecurityContext>, kid: Uint8Array, kidContext: Uint8Array | undefined): readonly SecurityContext[] {
  const list: readonly SecurityContext[] = Array.isArray(found) ? found : found !== null && typeof found === 'object' && Symbol.iterator in found ? [...found] : [];
  let i = 0;
  while (i < list.length && isMatch(list[i], kid, kidContext)) i++;
  return i === list.length ? list : list.filter((ctx) => isMatch(ctx, kid, kidContext));
}

function isMatch(ctx: unknown, kid: Uint8Array, kidContext: Uint8Array | undefined): boolean {
  return ctx instanceof SecurityContext && matchesRecipient(ctx, kid, kidContext);
}
