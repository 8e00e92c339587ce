/**
 * What compiled mappings share at run time: the values JSONata works with
 * (sequences and their flags), its rules for looking up, appending,
 * truthiness, equality and turning a value into a string, the variable
 * frames, and the state of one evaluation (its deadline and budgets).
 *
 * Each helper is a synchronous copy of the function of the same name in
 * jsonata 2.x (jsonata.js: `lookup`, `append`, `boolean`, `string`,
 * `isDeepEqual`, `isNumeric`, `createSequence`), so a compiled mapping gives
 * what the interpreter gives. Where the interpreter would throw (a type
 * error, a number out of range, a limit), these throw `Bail` instead and the
 * caller runs the interpreter, which then fails with its own error code and
 * message: the compiled path never has to reproduce an error, only success.
 */

/** Thrown where the compiled path leaves a case to the interpreter; carries why, for tests. */
export class Bail {
  constructor(readonly reason: string) {}
}

export function bail(reason: string): never {
  throw new Bail(reason);
}

/** JSONata's own error for an evaluation past its time limit (code D1012), thrown as the interpreter does. */
export interface TimeoutError {
  code: 'D1012';
  value: number;
  message: string;
}

/**
 * An array with JSONata's flags. A *sequence* is the interpreter's working
 * list (flattened into paths, unwrapped when it holds one item); `cons`
 * marks an array built by `[…]`; `keepSingleton` comes from `path[]`;
 * `outerWrapper` wraps an input document that is itself an array.
 */
export type Seq = unknown[] & { sequence?: boolean; keepSingleton?: boolean; cons?: boolean; outerWrapper?: boolean };

export function createSequence(): Seq {
  const s: Seq = [];
  s.sequence = true;
  return s;
}

export function sequenceOf(item: unknown): Seq {
  const s: Seq = [item];
  s.sequence = true;
  return s;
}

export function isSequence(v: unknown): v is Seq {
  return Array.isArray(v) && (v as Seq).sequence === true;
}

/** A built-in or lambda function value; the compiled path never hands one on. */
export function isFunctionValue(v: unknown): boolean {
  if (typeof v === 'function') return true;
  if (v === null || typeof v !== 'object') return false;
  const o = v as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return o._jsonata_function === true || o._jsonata_lambda === true;
}

/**
 * jsonata's `isNumeric`: a number that is not NaN. Infinity makes the
 * interpreter throw D1001 wherever it asks, so here it bails.
 */
export function isNumeric(v: unknown): v is number {
  if (typeof v !== 'number' || Number.isNaN(v)) return false;
  if (!Number.isFinite(v)) bail('a number out of range (D1001)');
  return true;
}

/** Per evaluation: the clock, the sequence limit and the built-ins' memory budget. */
export class Run {
  /** Loop iterations since the clock was last read. */
  private ticks = 0;
  /** Characters and items built-ins produced so far (guard.ts charges the same). */
  private produced = 0;
  readonly timestamp: number;

  constructor(
    private readonly startedAt: number,
    private readonly timeoutMs: number,
    readonly maxSequence: number,
    readonly maxString: number,
    private readonly budget: number,
  ) {
    this.timestamp = startedAt;
  }

  /**
   * Called once per item in every loop. The interpreter reads the clock at
   * every node it evaluates; reading it every 1024 items bounds a compiled
   * mapping just as well (its loops are the only way it can run long).
   */
  tick(): void {
    if ((++this.ticks & 1023) !== 0 || this.timeoutMs <= 0) return;
    if (Date.now() - this.startedAt > this.timeoutMs) {
      const e: TimeoutError = { code: 'D1012', value: this.timeoutMs, message: 'Expression evaluation timeout: Check for infinite loop' };
      throw e;
    }
  }

  /** A sequence past the limit: the interpreter throws D2015. */
  checkLength(n: number): void {
    if (n > this.maxSequence) bail('a sequence over the limit (D2015)');
  }

  /** What a built-in produced, against guard.ts's limits. */
  charge(v: unknown): void {
    const size = typeof v === 'string' ? v.length : Array.isArray(v) ? v.length : 0;
    if (size === 0) return;
    if (typeof v === 'string' && size > this.maxString) bail('a built-in produced a string over the limit');
    this.produced += size;
    if (this.produced > this.budget) bail('built-ins produced more than the budget');
  }
}

/** Marks a variable that no frame binds (a name of a built-in, or nothing). */
export const UNBOUND: unique symbol = Symbol('unbound');

/** A frame of variables: a block with bindings, a lambda's parameters, or the evaluation's own. */
export class Env {
  private readonly vars = new Map<string, unknown>();

  constructor(
    readonly parent: Env | null,
    readonly run: Run,
  ) {}

  bind(name: string, value: unknown): void {
    this.vars.set(name, value);
  }

  lookup(name: string): unknown {
    for (let e: Env | null = this; e !== null; e = e.parent) {
      const v = e.vars.get(name);
      if (v !== undefined || e.vars.has(name)) return v;
    }
    return UNBOUND;
  }
}

/** jsonata's `lookup`: a field of an object, or of every object in an array, flattened. */
export function lookup(input: unknown, key: string, run: Run): unknown {
  if (Array.isArray(input)) {
    const result = createSequence();
    for (let i = 0; i < input.length; i++) {
      run.tick();
      const res = lookup(input[i], key, run);
      if (res !== undefined) {
        if (Array.isArray(res)) for (let j = 0; j < res.length; j++) result.push(res[j]);
        else result.push(res);
      }
    }
    run.checkLength(result.length);
    return result;
  }
  if (input !== null && typeof input === 'object' && Object.prototype.hasOwnProperty.call(input, key) && !isFunctionValue(input)) {
    return (input as Record<string, unknown>)[key];
  }
  return undefined;
}

/** jsonata's `append`. */
export function append(arg1: unknown, arg2: unknown, run: Run): unknown {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  const a: unknown[] = Array.isArray(arg1) ? arg1 : sequenceOf(arg1);
  const b: unknown[] = Array.isArray(arg2) ? arg2 : [arg2];
  run.checkLength(a.length + b.length);
  return a.concat(b);
}

/** jsonata's `boolean`: a value's effective truth (undefined stays undefined). */
export function toBoolean(arg: unknown): boolean | undefined {
  if (arg === undefined) return undefined;
  if (Array.isArray(arg)) {
    if (arg.length === 1) return toBoolean(arg[0]);
    if (arg.length > 1) {
      for (const v of arg) if (toBoolean(v)) return true;
    }
    return false;
  }
  if (typeof arg === 'string') return arg.length > 0;
  if (isNumeric(arg)) return arg !== 0;
  if (arg !== null && typeof arg === 'object' && !isFunctionValue(arg)) return Object.keys(arg).length > 0;
  return arg === true;
}

/** The interpreter's `boolize`: undefined is false. */
export function truthy(arg: unknown): boolean {
  return toBoolean(arg) === true;
}

/** Non-integers print with 15 significant digits, as in the interpreter. */
function numberForString(v: number): number {
  return Number.isInteger(v) ? v : Number(v.toPrecision(15));
}

function stringReplacer(_key: string, val: unknown): unknown {
  if (val !== undefined && val !== null && isNumeric(val)) return numberForString(val);
  return val && isFunctionValue(val) ? '' : val;
}

/** jsonata's `$string` (without prettify), used by `&` too. */
export function toStringValue(arg: unknown): string | undefined {
  if (arg === undefined) return undefined;
  if (typeof arg === 'string') return arg;
  if (isFunctionValue(arg)) return '';
  if (typeof arg === 'number') {
    // NaN too: the interpreter asks isFinite.
    if (!Number.isFinite(arg)) bail('$string of a number out of range (D3001)');
    // JSON.stringify of the number through the replacer: the same text, without the replacer call.
    return String(numberForString(arg));
  }
  if (typeof arg === 'boolean') return arg ? 'true' : 'false';
  if (arg === null) return 'null';
  const v = Array.isArray(arg) && (arg as Seq).outerWrapper ? arg[0] : arg;
  return JSON.stringify(v, stringReplacer) as string | undefined;
}

/** jsonata's `isDeepEqual`. */
export function isDeepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false;
      return true;
    }
    const lkeys = Object.getOwnPropertyNames(lhs);
    const rkeys = Object.getOwnPropertyNames(rhs);
    if (lkeys.length !== rkeys.length) return false;
    lkeys.sort();
    rkeys.sort();
    for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
    for (const k of lkeys) if (!isDeepEqual((lhs as Record<string, unknown>)[k], (rhs as Record<string, unknown>)[k])) return false;
    return true;
  }
  return false;
}

/**
 * The interpreter's unwrapping of every node's result: an empty sequence is
 * nothing, a sequence of one is its item (unless it must stay an array).
 */
export function unwrap(result: unknown, keepArray: boolean): unknown {
  if (result && isSequence(result)) {
    if (keepArray) result.keepSingleton = true;
    if (result.length === 0) return undefined;
    if (result.length === 1) return result.keepSingleton ? result : result[0];
  }
  return result;
}

/** Sets a key on a built object; `__proto__` becomes an own key, as on the interpreter's prototype-less objects. */
export function setKey(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}
