/**
 * TypeScript view of the vector file format, `oscore-vectors/1`. The normative
 * definition is the JSON Schema `vectors/oscore-vectors.schema.json`; files are
 * validated against it before they are run. Byte strings are hex.
 */

export type Hex = string;

export interface VectorContext {
  readonly masterSecret: Hex;
  readonly masterSalt?: Hex;
  readonly idContext?: Hex | null;
  readonly aeadAlgorithm?: number;
  readonly hkdfAlgorithm?: 'HKDF-SHA-256' | 'HKDF-SHA-512';
  /** The client's Sender ID. */
  readonly clientId: Hex;
  /** The server's Sender ID. */
  readonly serverId: Hex;
  readonly sendKidContext?: boolean;
}

export interface VectorMessage {
  readonly code: number;
  readonly options: readonly { readonly number: number; readonly value: Hex }[];
  readonly payload: Hex;
}

export interface VectorProtected {
  readonly option: Hex;
  readonly payload: Hex;
}

export interface VectorIntermediates {
  readonly plaintext?: Hex;
  readonly partialIv?: Hex;
  readonly aadArray?: Hex;
  readonly aad?: Hex;
  readonly nonce?: Hex;
}

export interface VectorRequest {
  readonly sequenceNumber: number;
  readonly message: VectorMessage;
}

export interface VectorError {
  readonly error: string;
  readonly outcome?: string;
}

interface Common {
  readonly id: string;
  readonly reference: string;
  readonly description?: string;
}

export interface DerivationVector extends Common {
  readonly kind: 'derivation';
  readonly input: {
    readonly masterSecret: Hex;
    readonly masterSalt?: Hex;
    readonly senderId: Hex;
    readonly recipientId: Hex;
    readonly idContext?: Hex | null;
    readonly aeadAlgorithm?: number;
    readonly hkdfAlgorithm?: 'HKDF-SHA-256' | 'HKDF-SHA-512';
  };
  readonly expect:
    | {
        readonly senderKeyInfo?: Hex;
        readonly recipientKeyInfo?: Hex;
        readonly commonIvInfo?: Hex;
        readonly senderKey: Hex;
        readonly recipientKey: Hex;
        readonly commonIv: Hex;
        readonly nonces?: { readonly partialIv: Hex; readonly sender: Hex; readonly recipient: Hex };
      }
    | VectorError;
}

export interface RequestVector extends Common {
  readonly kind: 'request';
  readonly context: VectorContext;
  readonly request: VectorRequest;
  readonly expect: VectorIntermediates & VectorProtected;
}

export interface ResponseVector extends Common {
  readonly kind: 'response';
  readonly context: VectorContext;
  readonly request: VectorRequest;
  readonly response: { readonly sequenceNumber?: number; readonly message: VectorMessage };
  readonly expect: VectorIntermediates & VectorProtected;
}

export interface RequestRejectionVector extends Common {
  readonly kind: 'request-rejection';
  readonly context: VectorContext;
  readonly replayWindowSize?: number;
  readonly received: readonly VectorProtected[];
  readonly expect: VectorError;
}

export interface ResponseRejectionVector extends Common {
  readonly kind: 'response-rejection';
  readonly context: VectorContext;
  readonly request: VectorRequest;
  readonly received: VectorProtected;
  readonly expect: VectorError;
}

export type Vector = DerivationVector | RequestVector | ResponseVector | RequestRejectionVector | ResponseRejectionVector;

export interface VectorFile {
  readonly format: 'oscore-vectors/1';
  readonly title: string;
  readonly description?: string;
  readonly source?: string;
  readonly vectors: readonly Vector[];
}
