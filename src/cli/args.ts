import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Exit codes every command keeps, so scripts and CI can tell "the hub said
 * no" from "you typed it wrong" from "there is no hub".
 */
export const EXIT = {
  ok: 0,
  /** A problem was found, nothing matched, or a test failed. */
  problem: 1,
  /** The command line is wrong (unknown option, missing argument, bad value). */
  usage: 2,
  /** The hub cannot be reached (or refused the token). */
  unreachable: 3,
  /** Interrupted with Ctrl-C (128 + SIGINT), after cleaning up. */
  interrupted: 130,
} as const;

/** A failure that ends the command with its exit code and a message on stderr. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(EXIT.usage, message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command that talks to a running hub takes. */
export const HUB_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const satisfies Options;

export const HUB_HELP = `  --url URL       the hub (env CAUSEWAY_URL, default http://127.0.0.1:8080)
  --token TOKEN   the management API token (env CAUSEWAY_TOKEN), sent as Bearer`;

/**
 * `parseArgs` with `--help` added, strict checking, and its errors turned
 * into usage errors (exit 2) that end with a pointer to the help.
 */
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

type ParseConfig<O extends Options> = { args: string[]; options: O & typeof HELP_OPTION; allowPositionals: true; strict: true };
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<ParseConfig<O>>>;

export function parseCommand<const O extends Options>(command: string, argv: string[], options: O, positionals: { min?: number; max?: number } = {}): Parsed<O> {
  const config: ParseConfig<O> = { args: argv, options: { ...options, ...HELP_OPTION }, allowPositionals: true, strict: true };
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    throw new UsageError(`${e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, '') : String(e)}\nRun "causeway ${command} --help" for its options.`);
  }
  if (!(parsed.values as { help?: boolean }).help) {
    const n = parsed.positionals.length;
    if (positionals.min !== undefined && n < positionals.min) throw new UsageError(`causeway ${command}: missing argument\nRun "causeway ${command} --help" for its usage.`);
    if (n > (positionals.max ?? 0)) throw new UsageError(`causeway ${command}: unexpected argument "${parsed.positionals[positionals.max ?? 0]}"\nRun "causeway ${command} --help" for its usage.`);
  }
  return parsed;
}

/** A whole number option (seconds, limits), or a usage error naming it. */
export function intOption(value: string | undefined, name: string, range: { min: number; max: number }): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < range.min || n > range.max) throw new UsageError(`--${name} must be a whole number from ${range.min} to ${range.max}`);
  return n;
}

/**
 * A time for `--since` / `--until`: ISO 8601, or a duration back from now
 * (`30m`, `2h`, `7d`), returned as ISO 8601 for the API.
 */
export function timeOption(value: string | undefined, name: string, now = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  const ago = /^(\d+)(s|m|h|d)$/.exec(value.trim());
  if (ago) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(ago[1]) * unit).toISOString();
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`--${name} must be an ISO 8601 time (2026-11-24T09:30:00Z) or a duration back from now (30m, 2h, 7d)`);
  return new Date(t).toISOString();
}
