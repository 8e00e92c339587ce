import jsonata from 'jsonata';
import { compileAst, NotCompiled, runCompiled } from './compiled/compile.js';
import { Run } from './compiled/runtime.js';
import { checkResultSize, DEFAULT_MEMORY, guardBuiltins, type MemoryLimits } from './guard.js';

/**
 * Mappings are JSONata expressions. They are declarative and run sandboxed:
 * JSONata has no access to the process, environment, files or network (no
 * built-in reaches them, `$eval` is refused, and property lookups see only
 * a value's own keys, so `$.constructor` is nothing), and every evaluation
 * is bounded in time, stack depth, sequence length and memory (guard.ts) so
 * a runaway expression fails that one message or delivery, not the hub.
 */
export interface MappingLimits {
  timeoutMs: number;
  maxDepth: number;
  maxSequence: number;
  /** Default DEFAULT_MEMORY (guard.ts). */
  memory?: MemoryLimits;
}

export const DEFAULT_LIMITS: MappingLimits = { timeoutMs: 1000, maxDepth: 300, maxSequence: 100_000, memory: DEFAULT_MEMORY };

export interface Mapping {
  /** Where it came from, for error messages: a file path or `inline`. */
  readonly source: string;
  readonly expression: string;
  /**
   * Whether the expression runs compiled to JavaScript (src/mapping/compiled/);
   * otherwise, or when a compiled evaluation meets a case it leaves to the
   * interpreter, JSONata's interpreter runs it. The result is the same.
   */
  readonly compiled: boolean;
  /** Why it is not compiled: the first feature the compiler leaves to the interpreter. */
  readonly notCompiledBecause: string | undefined;
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
}

export class MappingError extends Error {
  readonly source: string;
  readonly line: number | undefined;
  readonly jsonataCode: string | undefined;
  constructor(message: string, source: string, options: { line?: number; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MappingError';
    this.source = source;
    this.line = options.line;
    this.jsonataCode = options.code;
  }
}

interface JsonataFailure {
  code?: string;
  message?: string;
  position?: number;
  token?: string;
}

function lineOf(text: string, position: number | undefined): number | undefined {
  if (position === undefined || position < 0) return undefined;
  let line = 1;
  for (let i = 0; i < Math.min(position, text.length); i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function describe(e: unknown): JsonataFailure {
  if (typeof e === 'object' && e !== null) return e as JsonataFailure;
  return { message: String(e) };
}

/** Compiles an expression; a syntax error names the source and line. */
export function compileMapping(expression: string, source: string, limits: MappingLimits = DEFAULT_LIMITS): Mapping {
  let compiled: jsonata.Expression;
  try {
    // The options argument carries jsonata 2.x's guardrails (not in its typings).
    const withOptions = jsonata as unknown as (
      e: string,
      o: { timeout: number; stack: number; sequence: number },
    ) => jsonata.Expression;
    compiled = withOptions(expression, { timeout: limits.timeoutMs, stack: limits.maxDepth, sequence: limits.maxSequence });
    guardBuiltins(compiled, limits.memory ?? DEFAULT_MEMORY);
  } catch (e) {
    const f = describe(e);
    const line = lineOf(expression, f.position);
    throw new MappingError(
      `${source}${line ? `:${line}` : ''}: JSONata syntax error: ${f.message ?? 'invalid expression'}`,
      source,
      { ...(line ? { line } : {}), ...(f.code ? { code: f.code } : {}), cause: e },
    );
  }
  let fast: ReturnType<typeof compileAst> | undefined;
  let notCompiledBecause: string | undefined;
  try {
    fast = compileAst(compiled.ast() as unknown as Parameters<typeof compileAst>[0], { maxDepth: limits.maxDepth });
  } catch (e) {
    if (!(e instanceof NotCompiled)) throw e;
    notCompiledBecause = e.message;
  }
  const memory = limits.memory ?? DEFAULT_MEMORY;
  const fail = (e: unknown): MappingError => {
    const f = describe(e);
    const line = lineOf(expression, f.position);
    const why =
      f.code === 'D1012'
        ? `ran longer than ${limits.timeoutMs} ms and was stopped`
        : f.code === 'D1011'
          ? `nested deeper than ${limits.maxDepth} and was stopped`
          : f.code === 'D2015'
            ? `produced more than ${limits.maxSequence} items and was stopped`
            : f.code === 'CW_MEMORY'
              ? `${f.message ?? 'used too much memory'} and was stopped`
              : e instanceof RangeError
                ? `${e.message} (a string or list grew too large) and was stopped`
                : (f.message ?? String(e));
    return new MappingError(`${source}${line ? `:${line}` : ''}: ${why}`, source, {
      ...(line ? { line } : {}),
      ...(f.code ? { code: f.code } : {}),
      cause: e,
    });
  };
  return {
    source,
    expression,
    compiled: fast !== undefined,
    notCompiledBecause,
    async evaluate(input, bindings) {
      if (fast) {
        let result: unknown;
        try {
          result = runCompiled(fast, input, bindings, new Run(Date.now(), limits.timeoutMs, limits.maxSequence, memory.maxString, memory.budget));
        } catch (e) {
          // Past the time limit: the interpreter would only run as long again to say the same.
          if (describe(e).code === 'D1012') throw fail(e);
          // A case left to the interpreter (a Bail), or anything unexpected: the interpreter evaluates it
          // again and gives its own result or error, whatever the compiled code would have said.
          result = NOT_COMPILED;
        }
        if (result !== NOT_COMPILED) {
          try {
            checkResultSize(result, memory);
          } catch (e) {
            throw fail(e);
          }
          return result;
        }
      }
      try {
        const result = await compiled.evaluate(input, bindings);
        checkResultSize(result, memory);
        return result;
      } catch (e) {
        throw fail(e);
      }
    },
  };
}

/** Marks a compiled evaluation that handed over to the interpreter. */
const NOT_COMPILED = Symbol('not compiled');
