import jsonata from 'jsonata';

/**
 * Memory limits for one mapping evaluation. JSONata's own guardrails bound
 * time, stack depth and sequence length; they do not bound how much one
 * built-in call allocates: `$pad("", 1e9)` or `$length` of a string doubled
 * thirty times would take the whole hub down with an out-of-memory crash.
 * So every built-in runs through a wrapper that refuses oversized string
 * arguments and widths before the call, and charges what it returns to a
 * per-evaluation budget. The result is checked once more at the end.
 */
export interface MemoryLimits {
  /** The longest string a built-in may take or return (characters). */
  maxString: number;
  /** Characters and array items all built-ins together may produce in one evaluation. */
  budget: number;
}

export const DEFAULT_MEMORY: MemoryLimits = { maxString: 8 * 1024 * 1024, budget: 64 * 1024 * 1024 };

/** Thrown (JSONata-style, with a code) when an evaluation goes over a memory limit. */
export interface MemoryLimitError {
  code: 'CW_MEMORY';
  message: string;
}

/**
 * What each evaluation has used so far, keyed by its JSONata environment:
 * a built-in is called with `this.environment.base`, the one frame JSONata
 * makes per `evaluate` (evaluations interleave at every await, so nothing
 * global would do). Gone with the evaluation.
 */
const used = new WeakMap<object, number>();

interface Focus {
  environment?: { base?: object };
}

function over(message: string): MemoryLimitError {
  return { code: 'CW_MEMORY', message };
}

function charge(focus: Focus | undefined, limits: MemoryLimits, value: unknown, name: string): void {
  const size = typeof value === 'string' ? value.length : Array.isArray(value) ? value.length : 0;
  if (typeof value === 'string' && size > limits.maxString) throw over(`$${name} produced a string of ${size} characters (the limit is ${limits.maxString})`);
  const base = focus?.environment?.base;
  if (base === undefined || size === 0) return;
  const total = (used.get(base) ?? 0) + size;
  used.set(base, total);
  if (total > limits.budget) throw over(`the mapping produced more than ${limits.budget} characters and items in built-in functions`);
}

export function checkArgs(args: unknown[], limits: MemoryLimits, name: string): void {
  for (const a of args) {
    if (typeof a === 'string' && a.length > limits.maxString) throw over(`$${name} was given a string of ${a.length} characters (the limit is ${limits.maxString})`);
  }
  // $pad allocates its width up front.
  if (name === 'pad' && typeof args[1] === 'number' && Math.abs(args[1]) > limits.maxString) {
    throw over(`$pad to ${args[1]} characters (the limit is ${limits.maxString})`);
  }
}

/** A JSONata built-in as the interpreter holds it. */
export interface JsonataFunction {
  _jsonata_function: true;
  implementation: (...args: unknown[]) => unknown;
  signature?: { validate(args: unknown[], context: unknown): unknown[] };
}

/**
 * Functions a declarative mapping has no use for and that widen what an
 * expression can do: `$eval` runs text (possibly from the payload) as a new
 * expression.
 */
const REFUSED = new Set(['eval']);

const BUILTINS = [
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase', 'uppercase', 'length',
  'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number',
  'boolean', 'not', 'map', 'zip', 'filter', 'single', 'reduce', 'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse',
  'each', 'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl',
  'fromMillis', 'toMillis', 'eval',
];

/** Built-ins that bound neither strings nor lists (numbers in, numbers out, or a fixed-size answer): not wrapped. */
const UNGUARDED = ['floor', 'ceil', 'round', 'abs', 'sqrt', 'power', 'random', 'error', 'assert', 'type', 'clone', 'now', 'millis'];

/** Every built-in, as JSONata defines it, read once from JSONata itself. */
const everyBuiltin = new Map<string, JsonataFunction>();
for (const name of [...BUILTINS, ...UNGUARDED]) {
  const f = (await jsonata(`$${name}`).evaluate({})) as JsonataFunction | undefined;
  if (f && f._jsonata_function) everyBuiltin.set(name, f);
}

/** The original built-ins that get a guard. */
const originals = new Map<string, JsonataFunction>([...everyBuiltin].filter(([name]) => BUILTINS.includes(name)));

/**
 * JSONata's own definition of a built-in (implementation and signature), for
 * the compiled mappings to call. `$now` and `$millis` read the evaluation's
 * clock, which the caller supplies through fromMillis.
 */
export function jsonataBuiltin(name: string): JsonataFunction | undefined {
  return everyBuiltin.get(name);
}

/** Replaces the built-ins of one compiled expression with guarded ones. */
export function guardBuiltins(expression: jsonata.Expression, limits: MemoryLimits): void {
  for (const [name, original] of originals) {
    const implementation = REFUSED.has(name)
      ? () => {
          throw { code: 'CW_REFUSED', message: `$${name} is not available in mappings` };
        }
      : function (this: Focus | undefined, ...args: unknown[]): unknown {
          checkArgs(args, limits, name);
          const result = original.implementation.apply(this, args);
          if (result instanceof Promise) return result.then((r: unknown) => (charge(this, limits, r, name), r));
          charge(this, limits, result, name);
          return result;
        };
    expression.assign(name, { ...original, implementation });
  }
}

/** Refuses a result that holds a string longer than the limit (before anything serializes it). */
export function checkResultSize(value: unknown, limits: MemoryLimits): void {
  let budget = limits.budget;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.length > limits.maxString) throw over(`the result holds a string of ${v.length} characters (the limit is ${limits.maxString})`);
      budget -= v.length;
    } else if (Array.isArray(v)) {
      budget -= v.length;
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === 'object') {
      // for…in without allocating an entries array: this runs on every mapping result.
      const o = v as Record<string, unknown>;
      for (const k in o) {
        if (!Object.hasOwn(o, k)) continue;
        budget -= k.length;
        stack.push(o[k]);
      }
    }
    if (budget < 0) throw over(`the result is larger than ${limits.budget} characters and items`);
  }
}
