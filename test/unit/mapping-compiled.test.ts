import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import jsonata from 'jsonata';
import { compileAst, NotCompiled, runCompiled } from '../../src/mapping/compiled/compile.js';
import { Bail, Run } from '../../src/mapping/compiled/runtime.js';
import { compileMapping } from '../../src/mapping/index.js';

/**
 * Compiled mappings (src/mapping/compiled/) must give exactly what JSONata's
 * interpreter gives. The compiled code may decline a case (Bail) — the hub
 * then runs the interpreter — but whatever it returns must equal the
 * interpreter's result, and the interpreter must not fail where it returned.
 * Checked on every mapping in the repository with its samples, on a list of
 * the language's corner cases, and on thousands of generated expressions
 * over generated documents (seeded: a failure prints what to replay).
 */

const LIMITS = { timeoutMs: 1000, maxSequence: 100_000, maxString: 8 * 1024 * 1024, budget: 64 * 1024 * 1024 };

type Outcome = { ok: true; value: string } | { ok: false; error: string };

/** A value as text that tells undefined, NaN, Infinity, sequences and arrays apart (JSON alone would not). */
function canon(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v);
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  if (Array.isArray(v)) {
    const flags = `${(v as { sequence?: boolean }).sequence === true ? 'seq' : ''}${(v as { keepSingleton?: boolean }).keepSingleton ? '+keep' : ''}`;
    return `${flags}[${v.map(canon).join(',')}]`;
  }
  return `{${Object.keys(v)
    .map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

async function interpreted(expression: string, input: unknown, bindings?: Record<string, unknown>): Promise<Outcome> {
  try {
    const e = (jsonata as unknown as (x: string, o: object) => jsonata.Expression)(expression, { timeout: LIMITS.timeoutMs, stack: 300, sequence: LIMITS.maxSequence });
    return { ok: true, value: canon(await e.evaluate(structuredClone(input), bindings)) };
  } catch (e) {
    return { ok: false, error: String((e as { code?: string }).code ?? e) };
  }
}

/** The compiled result, 'bail' when it leaves the case to the interpreter, 'not compiled' when it never compiles. */
function compiled(expression: string, input: unknown, bindings?: Record<string, unknown>): Outcome | 'bail' | 'not compiled' {
  let root;
  try {
    root = compileAst(jsonata(expression).ast() as never, { maxDepth: 300 });
  } catch (e) {
    if (e instanceof NotCompiled) return 'not compiled';
    throw e;
  }
  try {
    const run = new Run(Date.now(), LIMITS.timeoutMs, LIMITS.maxSequence, LIMITS.maxString, LIMITS.budget);
    return { ok: true, value: canon(runCompiled(root, structuredClone(input), bindings, run)) };
  } catch (e) {
    if (e instanceof Bail) return 'bail';
    return { ok: false, error: String((e as { code?: string }).code ?? e) };
  }
}

interface Tally {
  same: number;
  bailed: number;
  notCompiled: number;
}

async function agree(expression: string, input: unknown, tally: Tally, bindings?: Record<string, unknown>): Promise<void> {
  const c = compiled(expression, input, bindings);
  if (c === 'not compiled') {
    tally.notCompiled++;
    return;
  }
  if (c === 'bail') {
    tally.bailed++;
    return;
  }
  const i = await interpreted(expression, input, bindings);
  const where = `${expression}\n  on ${JSON.stringify(input)}${bindings ? ` with ${JSON.stringify(bindings)}` : ''}`;
  if (!c.ok) {
    // An error from a built-in's own signature check or implementation: the hub then runs the interpreter,
    // which must fail too (a compiled failure where the interpreter succeeds would be a bug here).
    assert.equal(i.ok, false, `compiled failed (${c.error}) where the interpreter gives ${i.ok ? i.value : ''}: ${where}`);
    tally.bailed++;
    return;
  }
  assert.deepEqual(c, i, where);
  tally.same++;
}

const tally = (): Tally => ({ same: 0, bailed: 0, notCompiled: 0 });

test('every mapping in the repository compiles and gives what the interpreter gives on its samples', async () => {
  const dirs = ['examples/mappings', 'examples/tryton/mappings'];
  const samples = readdirSync('examples/samples')
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join('examples/samples', f), 'utf8')) as unknown);
  const t = tally();
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.jsonata'))) {
      const expression = readFileSync(join(dir, f), 'utf8');
      const m = compileMapping(expression, f);
      assert.ok(m.compiled, `${dir}/${f} compiles (${m.notCompiledBecause ?? ''})`);
      for (const input of [...samples, {}, { record: {} }, []]) await agree(expression, input, t, { id: 'rec_1', version: 2, system: 'shop' });
    }
  }
  assert.ok(t.same > 100, `compared ${t.same}`);
});

/** Corner cases of the language, each compared on a few documents. */
const CORNERS = [
  'a', 'a.b', 'a.b.c', 'a[0]', 'a[-1]', 'a[1].b', 'a[]', 'a.b[]', 'a[0][0]', 'a[b > 1]', 'a[b = "x"].c', 'a[[0, 2]]', 'a[$ = 2]',
  '$', '$$', '$.a', '$$.a.b', 'a.$', 'a.b.$$.c', '[a]', '[a, b]', '[[a]]', '[a][0]', '[]', '{}', 'a.[b]', 'a.[b, c]', '[a, [b]]',
  '{"x": a}', '{"x": a, "y": b}', 'a.{"x": b}', '[a.{"x": b}]', 'a{b: c}', 'a{"k": b}', '{a: b}', '{"__proto__": a}', 'a.(b)', 'a.(b + 1)',
  'a + 1', 'a - b', 'a * 2', 'a / 4', 'a % 3', '-a', '-a.b', 'a = b', 'a != b', 'a < b', 'a <= 2', 'a > "x"', 'a >= b', 'a and b', 'a or b',
  'a in [1, 2]', 'a in b', '"x" & a', 'a & b & c', 'a ? b : c', 'a ? b', 'a.b ? a.c : 0', '($x := a; $x)', '($x := a; $y := $x.b; [$x, $y])',
  '(a; b)', '()', '$x', '$id', '$version & ":" & $id', '$string(a)', '$number(a)', '$boolean(a)', '$not(a)', '$exists(a)', '$sum(a)', '$sum(a.b)',
  '$count(a)', '$max(a)', '$min(a.b)', '$average(a)', '$round(a)', '$round(a, 2)', '$floor(a)', '$ceil(a)', '$abs(a)', '$uppercase(a)', '$lowercase(a)',
  '$trim(a)', '$length(a)', '$substring(a, 1)', '$substring(a, -2, 1)', '$substringBefore(a, "b")', '$substringAfter(a, " ")', '$contains(a, "x")',
  '$join(a, ",")', '$join(a)', 'a ~> $string()', 'a ~> $substring(1, 2)', '($f := function($v){ $v * 2 }; $f(a))', '($f := function($v){ $string($v) }; a.$f(b))',
  '($c := function($v){ $round($number($v) * 100) }; [$c(a), $c(b)])', 'a.b.c[0]', '$string(a.b)', '$string($)', '$count([])', '$sum([])', 'a[b][c]',
  '[1, 2, 3][$ > 1]', '[1, 2, 3][0]', '{"a": [1, 2]}.a', '"abc"[0]', 'a.b[0].c', 'a[0].b[0]', 'true', 'null', '1.5', '"s"', 'a.b.c.d', 'a.$string(b)',
  '$sum(a.(b * c))', '$string(1/3)', '$string(0.1 + 0.2)', '$string(1e21)', 'a{b: $count(c)}', '$sum(a.b) / $count(a)', '$lookup', '$sum',
];

const DOCUMENTS: unknown[] = [
  {},
  { a: 1, b: 2, c: 3 },
  { a: 'x', b: 'x', c: 'y' },
  { a: [1, 2, 3], b: [] },
  { a: { b: 1, c: 2 } },
  { a: [{ b: 1, c: 2 }, { b: 2, c: 3 }, { b: [4, 5] }] },
  { a: [[1, 2], [3]], b: 'x' },
  { a: { b: { c: [{ d: 1 }, { d: 2 }] } } },
  { a: [{ b: 'x', c: 'k1' }, { b: 'y', c: 'k1' }, { b: 'z', c: 'k2' }] },
  { a: ' two  words ', b: 'x-b-y', c: null },
  { a: '12.50', b: true, c: false },
  { a: [] },
  [1, 2],
  [{ a: 1 }, { a: 2 }],
  'text',
  42,
  null,
];

test('corner cases give what the interpreter gives', async (ctx) => {
  const t = tally();
  for (const expression of CORNERS) {
    for (const doc of DOCUMENTS) await agree(expression, doc, t, { id: 'rec_1', version: 3 });
  }
  ctx.diagnostic(`compared ${t.same}, bailed ${t.bailed}, not compiled ${t.notCompiled}`);
  assert.ok(t.same > CORNERS.length * 5, `compared ${t.same}, bailed ${t.bailed}, not compiled ${t.notCompiled}`);
});

/** A small seeded generator (mulberry32): the same seed gives the same cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generators(r: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const KEYS = ['a', 'b', 'c'];
  const SCALARS: unknown[] = [0, 1, 2, -1, 2.5, 0.1, 10, '', 'x', 'a b', '1', '10', 'k1', true, false, null];
  const doc = (depth: number): unknown => {
    const k = r();
    if (depth <= 0 || k < 0.35) return pick(SCALARS);
    if (k < 0.65) {
      const o: Record<string, unknown> = {};
      for (const key of KEYS) if (r() < 0.6) o[key] = doc(depth - 1);
      return o;
    }
    return Array.from({ length: Math.floor(r() * 4) }, () => doc(depth - 1));
  };
  const path = (): string => {
    const steps = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(KEYS) + (r() < 0.15 ? pick(['[0]', '[-1]', '[]', '[1]']) : ''));
    return steps.join('.');
  };
  const expr = (depth: number): string => {
    if (depth <= 0) return pick([path(), path(), pick(['1', '2', '"x"', '"k1"', 'true', 'null', '0.5']), '$', '$$.a', '$id']);
    switch (Math.floor(r() * 22)) {
      case 0:
        return `${expr(depth - 1)} ${pick(['+', '-', '*', '/', '%'])} ${expr(depth - 1)}`;
      case 1:
        return `${expr(depth - 1)} ${pick(['=', '!=', '<', '<=', '>', '>='])} ${expr(depth - 1)}`;
      case 2:
        return `${expr(depth - 1)} ${pick(['and', 'or', 'in'])} ${expr(depth - 1)}`;
      case 3:
        return `${expr(depth - 1)} & ${expr(depth - 1)}`;
      case 4:
        return `[${expr(depth - 1)}, ${expr(depth - 1)}]`;
      case 5:
        return `{"${pick(KEYS)}": ${expr(depth - 1)}, "k": ${expr(depth - 1)}}`;
      case 6:
        return `${path()}.{"x": ${expr(depth - 1)}}`;
      case 7:
        return `${path()}{${pick(KEYS)}: ${expr(depth - 1)}}`;
      case 8:
        return `(${expr(depth - 1)} ? ${expr(depth - 1)} : ${expr(depth - 1)})`;
      case 9:
        return `($v := ${expr(depth - 1)}; ${expr(depth - 1).replace(/\bb\b/, '$v')})`;
      case 10:
        return `$${pick(['string', 'number', 'boolean', 'not', 'exists', 'sum', 'count', 'max', 'min', 'average', 'round', 'floor', 'abs', 'uppercase', 'trim', 'length'])}(${expr(depth - 1)})`;
      case 11:
        return `$${pick(['substring', 'substringBefore', 'substringAfter', 'contains', 'join', 'round'])}(${expr(depth - 1)}, ${pick(['1', '-1', '"x"', '" "', '","', '2'])})`;
      case 12:
        return `${path()}[${expr(depth - 1)}]`;
      case 13:
        return `${path()}.(${expr(depth - 1)})`;
      case 14:
        return `($f := function($p){ ${pick(['$p * 2', '$string($p)', '$p & "!"', '$count($p)'])} }; $f(${expr(depth - 1)}))`;
      case 15:
        return `$${pick(['keys', 'reverse', 'distinct', 'type', 'string', 'number', 'uppercase', 'sum', 'count', 'base64encode', 'encodeUrlComponent', 'clone', 'spread'])}(${expr(depth - 1)})`;
      case 16:
        return `$${pick(['lookup', 'append', 'merge', 'pad', 'formatNumber', 'formatBase', 'power', 'toMillis', 'fromMillis', 'zip', 'substring'])}(${expr(depth - 1)}, ${pick(['"a"', '2', '-3', '"#,##0.00"', '[1, 2]', 'b', '"[Y0001]-[M01]"'])})`;
      case 17:
        return `${expr(depth - 1)} ~> $${pick(['string', 'uppercase', 'count', 'keys', 'substring'])}(${pick(['', '', '1'])})`;
      case 18:
        return `${path()}.$${pick(['string', 'uppercase', 'number', 'length', 'keys'])}()`;
      case 19:
        return `(${pick(KEYS)} := ${expr(depth - 1)}; $a := ${expr(depth - 1)}; [$a, ${expr(depth - 1)}])`.replace(/^\((\w) :=/, '($$$1 :=');
      case 20:
        return `($g := function($x, $y){ $x & $y }; $g(${expr(depth - 1)}, ${path()}))`;
      default:
        return `-(${expr(depth - 1)})`;
    }
  };
  return { doc, expr };
}

test('generated expressions over generated documents give what the interpreter gives', async (ctx) => {
  const seed = Number(process.env['MAPPING_FUZZ_SEED'] ?? 20261208);
  const cases = Number(process.env['MAPPING_FUZZ_CASES'] ?? 4000);
  const r = rng(seed);
  const { doc, expr } = generators(r);
  const t = tally();
  for (let i = 0; i < cases; i++) {
    const expression = expr(1 + Math.floor(r() * 3));
    try {
      jsonata(expression);
    } catch {
      continue; // the generator can make text that does not parse
    }
    for (let j = 0; j < 3; j++) await agree(expression, doc(3), t, { id: 'rec_1' });
  }
  ctx.diagnostic(`seed ${seed}: compared ${t.same}, bailed ${t.bailed}, not compiled ${t.notCompiled}`);
  // Most cases must take the compiled path, or this test would prove little.
  assert.ok(t.same > t.bailed, `seed ${seed}: compared ${t.same}, bailed ${t.bailed}, not compiled ${t.notCompiled}`);
});

test('through compileMapping a case the compiled code leaves to the interpreter gets the interpreter’s answer, errors included', async () => {
  const m = compileMapping('a + 1', 'test');
  assert.ok(m.compiled);
  assert.equal(await m.evaluate({ a: 1 }), 2);
  await assert.rejects(m.evaluate({ a: 'x' }), /T2001|must evaluate to a number/);
  const lambda = compileMapping('($f := function($v){ $v * 2 }; $f(a))', 'test');
  assert.ok(lambda.compiled);
  assert.equal(await lambda.evaluate({ a: 21 }), 42);
  const notCompiled = compileMapping('a.**.b', 'test');
  assert.equal(notCompiled.compiled, false);
  assert.match(notCompiled.notCompiledBecause ?? '', /descendant/);
});
