import { jsonataBuiltin, type JsonataFunction } from '../guard.js';
import { bail, createSequence, toBoolean, toStringValue, type Run } from './runtime.js';

/**
 * The JSONata built-ins a compiled mapping can call, two ways:
 *
 * - the ones mappings use most are written out here (`FAST`): jsonata 2.x's
 *   implementation (functions.js) behind its signature's checks, with every
 *   argument the signature would refuse or convert in an unusual way left
 *   to the interpreter (`bail`). `min`/`max` are the argument counts such a
 *   call may have: the parameters a signature marks `-` (take the context
 *   when missing) count as required, so these never depend on the context;
 * - every other built-in that JSONata implements synchronously is called as
 *   the interpreter calls it: its own signature check (which may take the
 *   context), then its own implementation. Those that take functions or
 *   regular expressions are asynchronous there and are not compiled.
 *
 * Both run under guard.ts's limits: a string argument over the limit bails
 * (the interpreter's guard then refuses it), results are charged to the
 * evaluation's budget.
 */
interface Builtin {
  min: number;
  max: number;
  call(args: unknown[]): unknown;
}

/** A compiled call of a built-in: its arguments, the context, the evaluation. */
export type BuiltinCall = (args: unknown[], input: unknown, run: Run) => unknown;

/** As guard.ts's wrapper: a string over the limit (or $pad to a width over it) is refused before the call. */
function checkArgs(name: string, args: unknown[], run: Run): void {
  for (const a of args) if (typeof a === 'string' && a.length > run.maxString) bail('a built-in was given a string over the limit');
  if (name === 'pad' && typeof args[1] === 'number' && Math.abs(args[1]) > run.maxString) bail('$pad to a width over the limit');
}

/** `this` for a JSONata implementation, as the interpreter passes it. */
function focusFor(input: unknown, run: Run): object {
  return {
    // Dates without every part take the missing ones from the evaluation's start (toMillis with a picture).
    environment: { timestamp: new Date(run.timestamp) },
    input,
    options: { sequence: run.maxSequence },
    createSequence(...items: unknown[]) {
      const s = createSequence();
      if (items.length === 1) s.push(items[0]);
      return s;
    },
  };
}

function callJsonata(name: string, f: JsonataFunction, args: unknown[], input: unknown, run: Run, implementation = f.implementation): unknown {
  checkArgs(name, args, run);
  const validated = f.signature ? f.signature.validate(args, input) : args;
  const result = implementation.apply(focusFor(input, run), validated);
  if (result instanceof Promise) {
    result.catch(() => undefined);
    return bail(`$${name} is asynchronous`);
  }
  if (Array.isArray(result)) run.checkLength(result.length);
  run.charge(result);
  return result;
}

/** Taken by the interpreter's own implementation when not in FAST (or called with other argument counts). */
const NOT_COMPILED = new Set(['eval']);

/** How a call of `$name` with `argc` arguments runs compiled, or undefined when it stays with the interpreter. */
export function builtinCall(name: string, argc: number): BuiltinCall | undefined {
  const fast = FAST.get(name);
  if (fast && argc >= fast.min && argc <= fast.max) {
    return (args, _input, run) => {
      checkArgs(name, args, run);
      const result = fast.call(args);
      run.charge(result);
      return result;
    };
  }
  const f = jsonataBuiltin(name);
  if (!f || NOT_COMPILED.has(name) || f.implementation.constructor.name !== 'Function') return undefined;
  // $now and $millis read the clock the interpreter reads once per evaluation.
  if (name === 'millis') return (args, input, run) => callJsonata(name, f, args, input, run, () => run.timestamp);
  if (name === 'now') {
    const fromMillis = jsonataBuiltin('fromMillis');
    if (!fromMillis) return undefined;
    return (args, input, run) =>
      callJsonata(name, f, args, input, run, function (this: unknown, picture: unknown, timezone: unknown) {
        return fromMillis.implementation.call(this, run.timestamp, picture, timezone);
      } as (...a: unknown[]) => unknown);
  }
  return (args, input, run) => callJsonata(name, f, args, input, run);
}

function stringArg(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') bail('a built-in was given a non-string (T0410)');
  return v;
}

function numberArg(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') bail('a built-in was given a non-number (T0410)');
  return v;
}

/** An `a<n>` or `a<s>` argument: an array of that type (a single value becomes one), or undefined. */
function arrayArg(v: unknown, item: 'number' | 'string'): unknown[] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    for (const x of v) if (typeof x !== item) bail('a built-in was given an array of the wrong type (T0412)');
    return v;
  }
  if (typeof v !== item) bail('a built-in was given the wrong type (T0412)');
  return [v];
}

/** jsonata's `stringToArray`: a string's code points. */
function codePoints(s: string): string[] {
  const out: string[] = [];
  for (const c of s) out.push(c);
  return out;
}

/** jsonata's `$round`: half to even, at a number of decimal places. */
function round(arg: number, precision: number | undefined): number {
  let x = arg;
  if (precision) {
    const value = x.toString().split('e');
    x = +(value[0] + 'e' + (value[1] ? +value[1] + precision : precision));
  }
  let result = Math.round(x);
  const diff = result - x;
  if (Math.abs(diff) === 0.5 && Math.abs(result % 2) === 1) result = result - 1;
  if (precision) {
    const value = result.toString().split('e');
    result = +(value[0] + 'e' + (value[1] ? +value[1] - precision : -precision));
  }
  return Object.is(result, -0) ? 0 : result;
}

const NUMBER_TEXT = /^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$/;
const NUMBER_PREFIXED = /^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$/;

function toNumber(arg: unknown): number | undefined {
  if (arg === undefined) return undefined;
  if (typeof arg === 'number') return arg;
  if (typeof arg === 'string' && NUMBER_TEXT.test(arg) && !Number.isNaN(parseFloat(arg)) && Number.isFinite(Number(arg))) return parseFloat(arg);
  if (typeof arg === 'string' && NUMBER_PREFIXED.test(arg)) return Number(arg);
  if (arg === true) return 1;
  if (arg === false) return 0;
  // null, objects and arrays fail the signature (T0410); other strings fail the cast (D3030).
  return bail('$number of a value it cannot cast');
}

function aggregate(name: 'sum' | 'max' | 'min' | 'average'): Builtin {
  return {
    min: 1,
    max: 1,
    call([v]) {
      const nums = arrayArg(v, 'number') as number[] | undefined;
      if (nums === undefined) return undefined;
      if (name === 'sum') {
        let total = 0;
        for (const n of nums) total += n;
        return total;
      }
      if (nums.length === 0) return undefined;
      if (name === 'max') return Math.max(...nums);
      if (name === 'min') return Math.min(...nums);
      let total = 0;
      for (const n of nums) total += n;
      return total / nums.length;
    },
  };
}

/** A one-argument built-in whose argument must be of one type (or nothing, which gives nothing). */
function unary<T>(arg: (v: unknown) => T | undefined, f: (x: T) => unknown): Builtin {
  return {
    min: 1,
    max: 1,
    call([v]) {
      const x = arg(v);
      return x === undefined ? undefined : f(x);
    },
  };
}

/** jsonata's `$substringBefore` / `$substringAfter`: the text before or after the first separator, or all of it. */
function substringAround(side: 'before' | 'after'): Builtin {
  return {
    min: 2,
    max: 2,
    call([v, c]) {
      const str = stringArg(v);
      const chars = stringArg(c);
      if (str === undefined) return undefined;
      // The interpreter searches for the text "undefined" then (and fails after it): left to it.
      if (chars === undefined) bail('$substringBefore/$substringAfter without a separator');
      const pos = str.indexOf(chars);
      if (pos === -1) return str;
      return side === 'before' ? str.substring(0, pos) : str.substring(pos + chars.length);
    },
  };
}

/** jsonata's `$trim`: whitespace runs become one space, none at either end. */
function trim(str: string): string {
  let result = str.replace(/[ \t\n\r]+/gm, ' ');
  if (result.charAt(0) === ' ') result = result.substring(1);
  if (result.charAt(result.length - 1) === ' ') result = result.substring(0, result.length - 1);
  return result;
}

const FAST: ReadonlyMap<string, Builtin> = new Map<string, Builtin>([
  [
    'string',
    {
      min: 1,
      max: 2,
      call([v, prettify]) {
        if (prettify !== undefined && prettify !== false) bail('$string with prettify');
        return toStringValue(v);
      },
    },
  ],
  ['number', { min: 1, max: 1, call: ([v]) => toNumber(v) }],
  ['boolean', { min: 1, max: 1, call: ([v]) => toBoolean(v) }],
  ['not', { min: 1, max: 1, call: ([v]) => (v === undefined ? undefined : !toBoolean(v)) }],
  ['exists', { min: 1, max: 1, call: ([v]) => v !== undefined }],
  ['sum', aggregate('sum')],
  ['max', aggregate('max')],
  ['min', aggregate('min')],
  ['average', aggregate('average')],
  [
    'count',
    {
      min: 1,
      max: 1,
      call([v]) {
        if (v === undefined) return 0;
        return Array.isArray(v) ? v.length : 1;
      },
    },
  ],
  [
    'round',
    {
      min: 1,
      max: 2,
      call([v, p]) {
        const n = numberArg(v);
        const precision = numberArg(p);
        return n === undefined ? undefined : round(n, precision);
      },
    },
  ],
  ['floor', unary(numberArg, Math.floor)],
  ['ceil', unary(numberArg, Math.ceil)],
  ['abs', unary(numberArg, Math.abs)],
  ['uppercase', unary(stringArg, (s) => s.toUpperCase())],
  ['lowercase', unary(stringArg, (s) => s.toLowerCase())],
  ['trim', unary(stringArg, trim)],
  ['length', unary(stringArg, (s) => codePoints(s).length)],
  [
    'substring',
    {
      min: 2,
      max: 3,
      call([v, s, l]) {
        const str = stringArg(v);
        let start = numberArg(s) as number;
        const length = numberArg(l);
        if (str === undefined) return undefined;
        const chars = codePoints(str);
        if (chars.length + start < 0) start = 0;
        if (length !== undefined) {
          if (length <= 0) return '';
          const end = start >= 0 ? start + length : chars.length + start + length;
          return chars.slice(start, end).join('');
        }
        return chars.slice(start).join('');
      },
    },
  ],
  ['substringBefore', substringAround('before')],
  ['substringAfter', substringAround('after')],
  [
    'contains',
    {
      min: 2,
      max: 2,
      call([v, t]) {
        const str = stringArg(v);
        const token = stringArg(t);
        if (str === undefined || token === undefined) return undefined;
        return str.indexOf(token) !== -1;
      },
    },
  ],
  [
    'join',
    {
      min: 1,
      max: 2,
      call([v, sep]) {
        const strs = arrayArg(v, 'string') as string[] | undefined;
        const separator = stringArg(sep);
        if (strs === undefined) return undefined;
        return strs.join(separator ?? '');
      },
    },
  ],
]);
