import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { egressRefusal, type Egress } from '../net/egress.js';

/**
 * The connector contract. A connector is a plain object: a manifest that says
 * what it is as data, and a few functions that do the work. The built-in
 * connectors are registered in `registry.ts` exactly the way a user's own
 * would be. See docs/connectors.md.
 */
export interface ActionManifest {
  description: string;
  /** The shape the flow's mapping must produce (validated before `act`). */
  input: TSchema;
  /** Per-flow options under `do.with` in causeway.yaml (validated at load). */
  options?: TSchema;
  /** The shape `act` returns; what a flow's `writeback` mapping sees as `output`. */
  output: TSchema;
  /** True when repeating the call with the same idempotency key has no further effect. */
  idempotent: boolean;
}

/**
 * How a source receives: `poll` is called on a schedule with the last
 * committed cursor; `subscribe` holds a connection to a broker and hands
 * messages over as they come. (`push` sources are plain inbound webhooks:
 * POST /v1/inbound/{system}/{topic}, no connector code needed.)
 */
export type SourceMode = 'poll' | 'subscribe';

export interface SourceManifest {
  description: string;
  mode: SourceMode;
  /** The shape of `systems.<name>.sources.<source>.options` (validated at load). */
  options?: TSchema;
  /** What the cursor holds (poll sources), for the docs. */
  cursor?: string;
}

export interface ConnectorManifest {
  kind: string;
  description: string;
  /** The shape of `systems.<name>.config` for systems of this kind (validated at load). */
  config: TSchema;
  /** Names of config keys whose values are secrets: never logged, never returned by the API. */
  secrets: readonly string[];
  actions: Readonly<Record<string, ActionManifest>>;
  sources?: Readonly<Record<string, SourceManifest>>;
}

/** One message a source received; it goes through the normal intake (dedupe, inbox, mapping of its topic). */
export interface SourceMessage {
  /** The system topic whose mapping turns it into canonical records (default: the source's configured topic). */
  topic?: string;
  /** The source's own id for it, so a repeat is taken once (e.g. table + primary key + updated_at, a broker message id). */
  eventId?: string;
  /** The payload: any JSON value (a row, a CSV line as an object, a decoded broker message). */
  body: unknown;
}

export interface SourceContext {
  system: string;
  /** The source's name in the project. */
  source: string;
  config: Record<string, unknown>;
  /** `systems.<name>.sources.<source>.options`, validated. */
  options: Record<string, unknown>;
  signal: AbortSignal;
  log: Logger;
  /** Where the connector may open connections: every socket goes through it (see src/net/egress.ts). */
  egress: Egress;
}

export interface PollResult {
  messages: SourceMessage[];
  /** Committed in the same transaction as the messages; passed back to the next poll. */
  cursor: unknown;
  /** True when the source has more right now (poll again without waiting). */
  more: boolean;
}

export interface SubscribeContext extends SourceContext {
  /**
   * Hands messages to the hub. Resolves once they are committed to the inbox:
   * only then may the connector acknowledge them upstream. Rejects when they
   * could not be committed (do not acknowledge: the broker redelivers). Slows
   * down (resolves later) while the hub is behind: that is the backpressure.
   */
  deliver(messages: SourceMessage[]): Promise<void>;
}

export interface Subscription {
  /** Stops receiving; unacknowledged messages stay with the broker. */
  close(): Promise<void>;
}

/** What one summarizes of a call, for the attempt log (no secrets: headers are not included). */
export interface CallSummary {
  /** e.g. `POST http://127.0.0.1:9000/orders` */
  request: string;
  /** Protocol status when there was an answer (HTTP status). */
  status?: number;
  /** The start of the answer, at most 2 KiB. */
  response?: string;
}

/**
 * Encrypted storage, scoped to one system, for credentials a connector
 * obtains itself (OAuth access and refresh tokens). Values are encrypted with
 * the hub's master key (src/secrets/).
 */
export interface CredentialStore {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
}

export interface ActionContext {
  /** The system's name in the project. */
  system: string;
  /** The system's validated config (`systems.<name>.config`), secrets resolved. */
  config: Record<string, unknown>;
  /** The flow's `do.with` options, validated against the action's `options` schema. */
  options: Record<string, unknown>;
  /**
   * Stable for (flow, record, version): send it to the destination so a
   * repeated attempt is recognised there (`Idempotency-Key`, `webhook-id`).
   */
  idempotencyKey: string;
  traceId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the flow's timeout elapses. */
  signal: AbortSignal;
  log: Logger;
  /** Where the connector may open connections: every socket goes through it (see src/net/egress.ts). */
  egress: Egress;
  /** Where to keep tokens the connector obtains; absent when the hub has no master key (keep them in memory). */
  credentials?: CredentialStore;
  /** Queues an operator alert about this system (a revoked refresh token); absent outside the hub. */
  alert?: (message: string) => Promise<void>;
}

export interface ActionResult {
  output: unknown;
  summary: CallSummary;
}

/** Why a call failed, for the retry policy. */
export type FailureKind = 'retryable' | 'permanent';

/**
 * An action failed. `kind` steers the retry policy: `retryable` is tried
 * again with backoff (or after `retryAfterMs` when the destination said so),
 * `permanent` is dead-lettered at once.
 */
export class ActionError extends Error {
  readonly kind: FailureKind;
  readonly retryAfterMs: number | undefined;
  readonly summary: CallSummary | undefined;
  constructor(kind: FailureKind, message: string, options: { retryAfterMs?: number; summary?: CallSummary; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ActionError';
    this.kind = kind;
    this.retryAfterMs = options.retryAfterMs;
    this.summary = options.summary;
  }
}

export class RetryableError extends ActionError {
  constructor(message: string, options: { retryAfterMs?: number; summary?: CallSummary; cause?: unknown } = {}) {
    super('retryable', message, options);
    this.name = 'RetryableError';
  }
}

export class PermanentError extends ActionError {
  constructor(message: string, options: { summary?: CallSummary; cause?: unknown } = {}) {
    super('permanent', message, options);
    this.name = 'PermanentError';
  }
}

/**
 * How a failed action is retried: its ActionError's kind, `retryable` for
 * anything else (a library's socket error) — except an egress refusal, which
 * is permanent however a library wrapped it: no retry gets another verdict.
 * The one rule for deliveries and erasure actions alike.
 */
export function failureKindOf(e: unknown): FailureKind {
  if (egressRefusal(e)) return 'permanent';
  return e instanceof ActionError ? e.kind : 'retryable';
}

export type CheckResult =
  | { ok: true; message: string }
  | { ok: false; problem: 'unreachable' | 'wrong_credentials' | 'missing_permission' | 'misconfigured'; message: string };

export interface CheckContext {
  system: string;
  config: Record<string, unknown>;
  signal: AbortSignal;
  log: Logger;
  /** Where the connector may open connections: every socket goes through it (see src/net/egress.ts). */
  egress: Egress;
  credentials?: CredentialStore;
  alert?: (message: string) => Promise<void>;
}

export interface Connector {
  manifest: ConnectorManifest;
  /** Fetches what is new since `cursor` (undefined on the first poll) for a `poll` source. */
  poll?(source: string, cursor: unknown, ctx: SourceContext): Promise<PollResult>;
  /** Starts receiving from a `subscribe` source. */
  subscribe?(source: string, ctx: SubscribeContext): Promise<Subscription>;
  /** Runs one action. Throws ActionError (or anything: treated as retryable) on failure. */
  act?(action: string, input: unknown, ctx: ActionContext): Promise<ActionResult>;
  /** Tries the system's reachability and credentials. */
  check?(ctx: CheckContext): Promise<CheckResult>;
  /** Releases pooled connections when the hub stops. */
  close?(): Promise<void>;
}
