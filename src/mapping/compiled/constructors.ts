import { isNode, unsupported, type AstNode, type Ev, type Scope } from './ast.js';
import { append, bail, sequenceOf, setKey, type Env } from './runtime.js';

/** `{…}` and `[…]`, and grouping (`a{key: value}`), as the interpreter's evaluateGroupExpression and evaluateUnary. */

/** Key expressions and value expressions of an object constructor or a grouping. */
function compilePairs(raw: unknown, scope: Scope): Array<[AstNode, Ev, Ev]> {
  if (!Array.isArray(raw)) unsupported('an object constructor without pairs');
  return raw.map((pair: unknown) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !isNode(pair[0]) || !isNode(pair[1])) unsupported('an unusual object constructor');
    return [pair[0], scope.compile(pair[0], scope), scope.compile(pair[1], scope)] as [AstNode, Ev, Ev];
  });
}

/** The interpreter's evaluateGroupExpression (without tuple streams). */
function groupOver(pairs: Array<[AstNode, Ev, Ev]>, input: unknown, env: Env): Record<string, unknown> {
  // The interpreter pushes `undefined` onto an empty array it is given (so that `{…}` still makes an
  // object), changing that array for whatever else reads it, in an order only its scheduling decides.
  if (Array.isArray(input) && input.length === 0) bail('an object constructor over an empty array');
  const items: unknown[] = Array.isArray(input) ? input : sequenceOf(input);
  const groups: Record<string, { data: unknown; exprIndex: number }> = Object.create(null);
  for (let i = 0; i < items.length; i++) {
    env.run.tick();
    const item = items[i];
    for (let p = 0; p < pairs.length; p++) {
      const key = pairs[p]![1](item, env);
      if (key === undefined) continue;
      if (typeof key !== 'string') bail('an object key that is not a string (T1003)');
      if (key === '_jsonata_lambda' || key === '_jsonata_function') bail('a reserved object key (D1013)');
      const entry = groups[key];
      if (entry) {
        if (entry.exprIndex !== p) bail('two key expressions made the same key (D1009)');
        entry.data = append(entry.data, item, env.run);
      } else {
        groups[key] = { data: item, exprIndex: p };
      }
    }
  }
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(groups)) {
    const entry = groups[key]!;
    const value = pairs[entry.exprIndex]![2](entry.data, env);
    if (value !== undefined) setKey(result, key, value);
  }
  return result;
}

export function compileGroup(raw: unknown, scope: Scope): (input: unknown, env: Env) => unknown {
  if (typeof raw !== 'object' || raw === null) unsupported('an unusual grouping');
  const pairs = compilePairs((raw as { lhs?: unknown }).lhs, scope);
  return (input, env) => groupOver(pairs, input, env);
}

export function compileObject(n: AstNode, scope: Scope): Ev {
  const pairs = compilePairs(n['lhs'], scope);
  const generic: Ev = (input, env) => groupOver(pairs, input, env);
  // `{ "literal": value, … }` on one value (not an array): each value once, on the input, in the order
  // the interpreter's groups would list the keys (the object's own key order gives the same).
  const keys = pairs.map(([k]) => (k.type === 'string' && k['predicate'] === undefined && k['group'] === undefined ? k.value : undefined));
  if (!keys.every((k): k is string => typeof k === 'string') || new Set(keys).size !== keys.length) return generic;
  if (keys.some((k) => k === '_jsonata_lambda' || k === '_jsonata_function')) return generic;
  const values = pairs.map(([, , v]) => v);
  return (input, env) => {
    if (Array.isArray(input)) return generic(input, env);
    const result: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]!(input, env);
      if (value !== undefined) setKey(result, keys[i]!, value);
    }
    return result;
  };
}
