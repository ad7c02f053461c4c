// Types of eid-bridge.js, the browser library of the Belgian eID bridge.

export declare const VERSION: string;
/** The bridge API major version this library speaks. */
export declare const API_MAJOR: string;
export declare const DEFAULT_PORTS: number[];
/** Where users get the bridge (default `helpUrl` of BridgeUnavailableError). */
export declare const HELP_URL: string;

export type Language = "en" | "fr" | "nl";
export type HashFunction = "SHA-256" | "SHA-384" | "SHA-512";
export type Bytes = string | ArrayBuffer | ArrayBufferView;

export interface Options {
  /** Bridge address; overrides discovery (e.g. `http://127.0.0.1:24801`). */
  baseUrl?: string;
  /** Try only this port on 127.0.0.1. */
  port?: number;
  /** Ports tried, in order of preference. Default 24801, 24802, 24803. */
  ports?: number[];
  /** Language of error messages (`fr`, `nl` or `en`); default the browser's. */
  lang?: string;
  /** Client-side deadline of one call in ms (default 190000, after the bridge's own 180 s). */
  timeout?: number;
  /** web-eid.js's name for `timeout` (used when `timeout` is not given). */
  userInteractionTimeout?: number;
  /** Deadline of each discovery probe in ms (default 20000). */
  discoveryTimeout?: number;
  /** Ask the user (bridge dialog) to allow this site when it is not yet allowed. Default true. */
  requestAccess?: boolean;
  /** Where to send users who do not have the bridge. */
  helpUrl?: string;
  /** Abort the call (rejects with UserCancelledError, code REQUEST_CANCELLED). */
  signal?: AbortSignal;
}

export interface SignOptions extends Options {
  /** What is signed, shown in the bridge's PIN dialog (at most 200 characters). */
  label?: string;
}

export interface EventOptions extends Options {
  /** Called when the bridge cannot be reached (the subscription keeps retrying). */
  onError?: (error: BridgeError) => void;
  /** Upper bound of the reconnection back-off in ms (default 30000). */
  maxReconnectDelay?: number;
}

export interface Hello {
  name: "eid-bridge";
  version: string;
  apiVersion: string;
  tokenFormat: string;
  capabilities: string[];
  originAllowed: boolean;
}

export interface Bridge extends Hello {
  /** Where the bridge was found, e.g. `http://127.0.0.1:24801`. */
  baseUrl: string;
}

export interface Reader {
  name: string;
  cardPresent: boolean;
  card: "belpic-1.8" | "belpic-1.x" | "other" | null;
  pinpad: boolean | null;
}

export interface Status {
  library: string;
  bridge: string;
  apiVersion: string;
  baseUrl: string;
  capabilities: string[];
  service: "up" | "down";
  readers: Reader[];
  busy: boolean;
  waiting: number;
}

/** The Web eID `web-eid:1.0` authentication token (docs/token.md). */
export interface AuthToken {
  unverifiedCertificate: string;
  algorithm: "ES256" | "ES384" | "ES512" | "PS256" | "PS384" | "PS512" | "RS256" | "RS384" | "RS512";
  signature: string;
  format: string;
  appVersion: string;
}

export interface SignatureAlgorithm {
  cryptoAlgorithm: "ECC" | "RSA";
  hashFunction: HashFunction;
  paddingScheme: "NONE" | "PKCS1.5" | "PSS";
}

export interface SigningCertificate {
  /** base64 DER of the signature (non-repudiation) certificate. */
  certificate: string;
  /** base64 DER of the issuing CA and the root. */
  chain: string[];
  supportedSignatureAlgorithms: SignatureAlgorithm[];
}

export interface Signature {
  /** base64: PKCS#1 v1.5 for RSA, DER ECDSA for EC. */
  signature: string;
  signatureAlgorithm: SignatureAlgorithm;
}

export interface Identity {
  card: Record<string, string>;
  holder: Record<string, string | null>;
  address: { street: string; zip: string; municipality: string };
  /** base64 JPEG. */
  photo: string;
  photoType: string;
  integrity: "verified";
}

export interface Diagnostics {
  library: string;
  userAgent: string;
  origin: string;
  secureContext: boolean | null;
  localNetworkAccessDenied: boolean;
  candidates: string[];
  baseUrl?: string;
  bridge?: Record<string, unknown>;
  error?: { name: string; code: string; message: string };
}

export type CardEvent =
  | { type: "hello"; service: "up" | "down"; readers: Reader[] }
  | {
      type:
        | "reader-added"
        | "reader-removed"
        | "card-inserted"
        | "card-removed"
        | "service-down"
        | "service-up";
      reader: string | null;
    }
  | { type: "bridge-down" };

export interface ErrorDetails {
  triesLeft?: number;
  retryAfter?: number;
  limit?: number;
  origin?: string;
  certificateStatus?: string;
  [key: string]: unknown;
}

export interface ErrorInit {
  message?: string;
  messages?: Record<Language, string>;
  details?: ErrorDetails;
  status?: number;
  lang?: string;
  helpUrl?: string;
  cause?: unknown;
}

/** Every failure of this library; `code` is the bridge's stable code (bridge/messages.py)
 * or one of the library's own: BRIDGE_UNAVAILABLE, LOCAL_NETWORK_ACCESS_DENIED,
 * VERSION_MISMATCH, CLIENT_TIMEOUT. */
export declare class BridgeError extends Error {
  constructor(code: string, message?: string, init?: ErrorInit);
  readonly code: string;
  /** The explanation in French, Dutch and English, saying what to do next. */
  readonly messages: Record<Language, string>;
  readonly details: ErrorDetails;
  /** HTTP status of the bridge's answer; 0 when the error arose in the browser. */
  readonly status: number;
  /** The closest web-eid.js error code (`ERR_WEBEID_…`). */
  readonly webEidCode: string;
}
/** BRIDGE_UNAVAILABLE: not installed or not running. */
export declare class BridgeUnavailableError extends BridgeError {
  readonly helpUrl: string;
}
/** LOCAL_NETWORK_ACCESS_DENIED: the browser's Local Network Access permission is "Block". */
export declare class LocalNetworkAccessDeniedError extends BridgeUnavailableError {}
/** VERSION_MISMATCH: the bridge speaks another API major version. */
export declare class VersionMismatchError extends BridgeError {}
/** ORIGIN_NOT_ALLOWED, ORIGIN_REQUIRED, or USER_DENIED in the bridge's approval dialog. */
export declare class OriginNotAllowedError extends BridgeError {}
/** PIN_CANCELLED, USER_DENIED, REQUEST_CANCELLED. */
export declare class UserCancelledError extends BridgeError {}
/** REQUEST_TIMEOUT, PIN_TIMEOUT, CLIENT_TIMEOUT. */
export declare class BridgeTimeoutError extends BridgeError {}
/** PIN_FORMAT, PINS_DIFFER, PIN_REQUIRED and the two below. */
export declare class PinError extends BridgeError {}
/** PIN_INCORRECT. */
export declare class PinIncorrectError extends PinError {
  readonly triesLeft: number | undefined;
}
/** PIN_BLOCKED. */
export declare class PinBlockedError extends PinError {}
/** NO_READER, READER_GONE, NO_CARD, CARD_*, UNSUPPORTED_CARD, PCSC_UNAVAILABLE,
 * NO_CERTIFICATE, CERTIFICATE_NOT_ON_CARD. */
export declare class CardError extends BridgeError {}
/** CERTIFICATE_REJECTED (`details.certificateStatus`: REVOKED, EXPIRED...). */
export declare class CertificateRejectedError extends BridgeError {}
/** BUSY, RATE_LIMITED. */
export declare class BusyError extends BridgeError {
  readonly retryAfter: number | undefined;
}

export declare function errorFrom(
  code: string,
  init?: ErrorInit & { as?: typeof BridgeError },
): BridgeError;

export declare function configure(options: Options): void;
export declare function forget(): void;
export declare function discover(options?: Options): Promise<Bridge>;
export declare function requestAccess(options?: Options): Promise<true>;
export declare function status(options?: Options): Promise<Status>;
export declare function authenticate(challengeNonce: string, options?: Options): Promise<AuthToken>;
export declare function getSigningCertificate(options?: Options): Promise<SigningCertificate>;
export declare function sign(
  certificate: Bytes,
  hash: Bytes,
  hashFunction: HashFunction,
  label: string,
  options?: Options,
): Promise<Signature>;
export declare function sign(
  certificate: Bytes,
  hash: Bytes,
  hashFunction: HashFunction,
  options: SignOptions & { label: string },
): Promise<Signature>;
export declare function readIdentity(options?: Options): Promise<Identity>;
export declare function diagnostics(options?: Options): Promise<Diagnostics>;
export declare function onCardEvent(
  callback: (event: CardEvent) => void,
  options?: EventOptions,
): () => void;

declare const eidBridge: {
  VERSION: string;
  configure: typeof configure;
  discover: typeof discover;
  forget: typeof forget;
  requestAccess: typeof requestAccess;
  status: typeof status;
  authenticate: typeof authenticate;
  getSigningCertificate: typeof getSigningCertificate;
  sign: typeof sign;
  readIdentity: typeof readIdentity;
  diagnostics: typeof diagnostics;
  onCardEvent: typeof onCardEvent;
};
export default eidBridge;
