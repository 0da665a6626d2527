/**
 * The association between a request and its response (RFC 8613 §7.1, §8): the
 * security context, the request 'kid' and the request Partial IV. Both go into the
 * response AAD, and a response without its own Partial IV reuses the request nonce.
 *
 * A binding is single-use in the way the RFC requires: the server may protect only
 * one response with the request nonce (a second would reuse a nonce, §5.2), and the
 * client accepts only one response (§7.4).
 */

import { toHex } from '../bytes.js';
import type { SecurityContext } from '../context/security-context.js';
import { partialIVToSequenceNumber } from '../cose/partial-iv.js';
import type { PartialIV, SequenceNumber } from '../types.js';

interface BindingState {
  readonly kid: Uint8Array;
  readonly partialIV: PartialIV;
  /** Server: the request nonce has protected a response. Client: a response was verified. */
  used: boolean;
  /**
   * Server: the request was verified while the replay window was unknown and its freshness
   * is not yet proved, so it may be a replay and its nonce may already have protected a
   * response: only a response with a Partial IV of its own is allowed (Appendix B.1.2).
   */
  unproven: boolean;
}

let readState: (binding: RequestBinding) => BindingState;

/** For the processing modules of this package only. */
export function bindingState(binding: RequestBinding): BindingState {
  return readState(binding);
}

/** Which side of the exchange holds the binding. */
export type BindingRole = 'client' | 'server';

/** The request a response must be bound to. Obtained from `protectRequest` (client) or `verifyRequest` (server). */
export class RequestBinding {
  /** `client` on the side that protected the request, `server` on the side that verified it. */
  readonly role: BindingRole;
  /** The security context of the exchange. */
  readonly context: SecurityContext;
  readonly #state: BindingState;

  static {
    readState = (binding) => binding.#state;
  }

  /**
   * @internal Bindings come from `protectRequest` and `verifyRequest`, which pass arrays
   * nobody else holds (the context's own ID, a fresh or copied Partial IV).
   */
  constructor(role: BindingRole, context: SecurityContext, kid: Uint8Array, partialIV: PartialIV, unproven = false) {
    this.role = role;
    this.context = context;
    this.#state = { kid, partialIV, used: false, unproven };
    Object.freeze(this);
  }

  /** The request 'kid' (the client's Sender ID), a copy. */
  get kid(): Uint8Array {
    return this.#state.kid.slice();
  }

  /** The request Partial IV, a copy. */
  get partialIV(): PartialIV {
    return this.#state.partialIV.slice() as PartialIV;
  }

  /** The request's Sender Sequence Number. */
  get sequenceNumber(): SequenceNumber {
    return partialIVToSequenceNumber(this.#state.partialIV);
  }

  toString(): string {
    return `RequestBinding(${this.role}, kid=${toHex(this.#state.kid)}, piv=${toHex(this.#state.partialIV)})`;
  }

  toJSON(): { role: BindingRole; kid: string; partialIV: string } {
    return { role: this.role, kid: toHex(this.#state.kid), partialIV: toHex(this.#state.partialIV) };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * The client-side binding of a request that was captured rather than sent by this process,
 * so that its captured response can be verified against it (RFC 8613 §7.1, §8.4) — for audit
 * and inspection tools. Only a client binding: it can verify a response, never protect one
 * (a server binding made this way could reuse the request nonce).
 *
 * @param context the client's security context (the request's kid is its Sender ID).
 * @param kid the request's kid, as captured.
 * @param partialIV the request's Partial IV, as captured.
 */
export function bindingForCapturedRequest(context: SecurityContext, kid: Uint8Array, partialIV: PartialIV): RequestBinding {
  return new RequestBinding('client', context, Uint8Array.from(kid), Uint8Array.from(partialIV) as PartialIV);
}
