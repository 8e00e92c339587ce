import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileMapping, MappingError } from '../../src/mapping/index.js';

/**
 * Mappings are declarative: no way out to the process, the environment,
 * files or the network, and every evaluation is bounded in time, depth,
 * sequence length and memory. Each runaway here fails with a clear error in
 * well under the heap the hub has, and the next evaluation runs normally.
 */
const limits = { timeoutMs: 300, maxDepth: 200, maxSequence: 10_000, memory: { maxString: 1024 * 1024, budget: 4 * 1024 * 1024 } };

/** JSONata's results as the hub stores them (its sequences carry extra properties). */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

async function failure(expression: string, input: unknown = { a: 'x' }, within = limits): Promise<MappingError> {
  const m = compileMapping(expression, 'test.jsonata', within);
  try {
    const r = await m.evaluate(input);
    assert.fail(`expected ${expression} to fail, got ${JSON.stringify(r)?.slice(0, 80)}`);
  } catch (e) {
    assert.ok(e instanceof MappingError, `a MappingError, not ${String(e)}`);
    return e;
  }
}

test('runaway expressions stop with a clear error', async () => {
  assert.match((await failure('($f := function($n){ $f($n + 1) }; $f(0))')).message, /ran longer than 300 ms and was stopped/);
  assert.match((await failure('($f := function($n){ $n + $f($n) }; $f(1))')).message, /nested deeper than 200 and was stopped/);
  assert.match((await failure('$count([1..9999999])')).message, /produced more than 10000 items and was stopped/);
  assert.match((await failure('[1..100000000]')).message, /range operator/);
  assert.match((await failure('$pad("", 200000000)')).message, /\$pad to 200000000 characters \(the limit is 1048576\)/);
  // A string doubled until it is huge: refused by the first built-in that would copy it, or in the result.
  const doubling = (n: number, then: string) => `($s := function($x, $n){ $n = 0 ? $x : $s($x & $x, $n - 1) }; ${then.replace('X', `$s("x", ${n})`)})`;
  assert.match((await failure(doubling(28, '$length(X)'))).message, /\$length was given a string of 268435456 characters/);
  assert.match((await failure(doubling(24, 'X'))).message, /the result holds a string of 16777216 characters/);
  assert.match((await failure(doubling(40, 'X'))).message, /grew too large|longer than/);
  // The budget, not the clock, stops this one (a generous time limit: a loaded machine pads slowly).
  const budgetOnly = { ...limits, timeoutMs: 60_000 };
  assert.match((await failure('$join($map([1..6], function($v){ $pad("", 1000000, "x") }))', {}, budgetOnly)).message, /more than 4194304 characters and items in built-in functions/);
});

test('no way out: $eval, prototypes, constructors and globals give nothing', async () => {
  assert.match((await failure('$eval("1 + 1")')).message, /\$eval is not available in mappings/);
  const nothing = [
    '$.constructor',
    '$.constructor.constructor("return process")()',
    'a.constructor.constructor("return process.env")()',
    '$.__proto__',
    '$lookup($, "constructor")',
    '$lookup($, "__proto__")',
    '$string.constructor',
    'process',
    '$process',
    '$require',
    '$globalThis',
  ];
  for (const expression of nothing) {
    let value: unknown;
    try {
      value = await compileMapping(expression, 'test.jsonata', limits).evaluate({ a: 'x' });
    } catch (e) {
      // Calling what is not a function is an error: just as good.
      assert.ok(e instanceof MappingError, expression);
      continue;
    }
    assert.equal(value, undefined, `${expression} must be nothing`);
  }
  // A payload carrying an expression is data, never code.
  const m = compileMapping('{ "x": expr }', 'test.jsonata', limits);
  assert.deepEqual(plain(await m.evaluate({ expr: '$eval("1+1")' })), { x: '$eval("1+1")' });
});

test('ordinary mappings are untouched by the guards', async () => {
  const m = compileMapping(
    '{ "name": $uppercase(a), "n": $count([1..10]), "s": $string({"x": [1, 2]}), "m": $map([1, 2], function($v){ $v * 2 }), "j": $join(["a", "b"], "-"), "p": $pad("7", -3, "0"), "r": $reduce([1, 2, 3], function($x, $y){ $x + $y }) }',
    'test.jsonata',
    limits,
  );
  assert.deepEqual(plain(await m.evaluate({ a: 'x' })), { name: 'X', n: 10, s: '{"x":[1,2]}', m: [2, 4], j: 'a-b', p: '007', r: 6 });
  // Budgets are per evaluation: many evaluations, concurrently, each well within its own.
  // 800,000 characters each, under a budget of 1,000,000: together they would be over it.
  const roomy = { ...limits, timeoutMs: 10_000, memory: { maxString: 1024 * 1024, budget: 1_000_000 } };
  const big = compileMapping('$map([1..8], function($v){ $pad("", 100000, "x") })', 'test.jsonata', roomy);
  const results = await Promise.all([big.evaluate({}), big.evaluate({}), big.evaluate({})]);
  for (const r of results) assert.equal((r as string[]).join('').length, 800_000);
});
