/**
 * One error type for the whole hub. Every error a client can see carries a
 * closed `code` from the catalogue below, an HTTP status, and optional details
 * (for validation errors: the JSON path of each problem). The HTTP layer turns
 * it into `{ error: { code, message, details } }` in one place.
 *
 * The catalogue is documented in docs/errors.md; a test fails when a code is
 * missing there.
 */
export const ERROR_CODES = {
  bad_request: 400,
  invalid_json: 400,
  invalid_utf8: 400,
  too_deeply_nested: 400,
  forbidden_key: 400,
  validation_failed: 400,
  unauthorized: 401,
  bad_signature: 401,
  stale_signature: 401,
  forbidden: 403,
  not_found: 404,
  unknown_system: 404,
  unknown_topic: 404,
  ownership_refused: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  config_invalid: 500,
  mapping_failed: 422,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetail {
  /** JSON pointer-ish path of the offending value, e.g. `/lines/0/sku`. */
  path?: string;
  message: string;
}

export class CausewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetail[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CausewayError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.details = options.details;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: ErrorDetail[] } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

export function isCausewayError(e: unknown): e is CausewayError {
  return e instanceof CausewayError;
}

/** A readable message from anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
