import { checkKeys, child, children, unsupported, type AstNode, type Ev, type Scope } from './ast.js';
import { createSequence, isFunctionValue, isNumeric, isSequence, sequenceOf, toBoolean, bail, type Env, type Seq } from './runtime.js';
import { compileGroup } from './constructors.js';

/** Paths (`a.b[0].c`), their steps and filters, as the interpreter's evaluatePath, evaluateStep and evaluateFilter. */

/** One step of a path: the node as `evaluate` runs it, and its filters (`stages`). */
interface Step {
  ev: Ev;
  stages: Array<(input: unknown, env: Env) => unknown>;
  consarray: boolean;
}

export function compilePath(n: AstNode, scope: Scope): Ev {
  const nodes = children(n, 'steps');
  if (nodes.length === 0) unsupported('an empty path');
  const steps: Step[] = nodes.map((s) => {
    checkKeys(s);
    if (s.type === 'sort') unsupported('sorting');
    return { ev: scope.compile(s, scope), stages: children(s, 'stages').map((f) => compileFilter(f, scope)), consarray: s['consarray'] === true };
  });
  const firstIsVariable = nodes[0]!.type === 'variable';
  const keepSingletonArray = n['keepSingletonArray'] === true;
  const group = n['group'] !== undefined ? compileGroup(n['group'], scope) : undefined;
  const last = steps.length - 1;

  const generic: Ev = (input, env) => {
    let inputSequence: unknown[] = Array.isArray(input) && !firstIsVariable ? input : sequenceOf(input);
    let resultSequence: unknown;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (i === 0 && step.consarray) resultSequence = step.ev(inputSequence, env);
      else resultSequence = evaluateStep(step, inputSequence, env, i === last);
      if (resultSequence === undefined || (resultSequence as unknown[]).length === 0) break;
      inputSequence = resultSequence as unknown[];
    }
    if (keepSingletonArray) {
      if (resultSequence === undefined) bail('[] on a path that ended in nothing');
      let r = resultSequence as Seq;
      if (Array.isArray(r) && r.cons && !r.sequence) r = sequenceOf(r);
      r.keepSingleton = true;
      resultSequence = r;
    }
    return group ? group(resultSequence, env) : resultSequence;
  };

  // The common case, `a.b.c` over objects: walk the fields while every value on the way is an object
  // that is not an array. The interpreter gives the last value itself then (a data array too, by its
  // last-step rule; a single value unwrapped from its sequence by `evaluate`), or nothing.
  const plainNames = nodes.every((s) => s.type === 'name' && typeof s.value === 'string' && s['stages'] === undefined && s['keepArray'] !== true && s['group'] === undefined);
  if (!plainNames || keepSingletonArray || group) return generic;
  const names = nodes.map((s) => s.value as string);
  const fieldOf = (v: unknown, key: string): unknown =>
    v !== null && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, key) && !isFunctionValue(v) ? (v as Record<string, unknown>)[key] : undefined;
  if (names.length === 1) {
    const key = names[0]!;
    return (input, env) => {
      if (Array.isArray(input)) return generic(input, env);
      const v = fieldOf(input, key);
      return isSequence(v) ? generic(input, env) : v;
    };
  }
  return (input, env) => {
    let v = input;
    for (let i = 0; i < names.length; i++) {
      if (Array.isArray(v)) return generic(input, env);
      v = fieldOf(v, names[i]!);
      if (v === undefined) return undefined;
    }
    return isSequence(v) ? generic(input, env) : v;
  };
}

/** The interpreter's evaluateStep: the step on each item, its filters, then one flattened sequence. */
function evaluateStep(step: Step, input: unknown[], env: Env, lastStep: boolean): unknown {
  const run = env.run;
  const result = createSequence();
  for (let i = 0; i < input.length; i++) {
    run.tick();
    let res = step.ev(input[i], env);
    for (const stage of step.stages) res = stage(res, env);
    if (res !== undefined) result.push(res);
  }
  run.checkLength(result.length);
  const first = result[0];
  if (lastStep && result.length === 1 && Array.isArray(first) && !isSequence(first)) return first;
  const flat = createSequence();
  for (const res of result) {
    if (!Array.isArray(res) || (res as Seq).cons) flat.push(res);
    else for (const v of res) flat.push(v);
  }
  run.checkLength(flat.length);
  return flat;
}

/** The interpreter's evaluateFilter: `[n]` picks by position, any other predicate keeps the items it holds for. */
export function compileFilter(f: AstNode, scope: Scope): (input: unknown, env: Env) => Seq | unknown[] {
  checkKeys(f);
  if (f.type !== 'filter') unsupported(`a ${f.type} stage`);
  const predicate = child(f, 'expr');
  if (predicate.type === 'number') {
    const at = Math.floor(predicate.value as number);
    return (input) => {
      const results = createSequence();
      const items: unknown[] = Array.isArray(input) ? input : sequenceOf(input);
      const index = at < 0 ? items.length + at : at;
      const item = items[index];
      if (item !== undefined) {
        if (Array.isArray(item)) return item;
        results.push(item);
      }
      return results;
    };
  }
  const test = scope.compile(predicate, scope);
  return (input, env) => {
    const results = createSequence();
    const items: unknown[] = Array.isArray(input) ? input : sequenceOf(input);
    for (let index = 0; index < items.length; index++) {
      env.run.tick();
      const item = items[index];
      let res = test(item, env);
      if (isNumeric(res)) res = [res];
      if (Array.isArray(res) && res.every((x) => isNumeric(x))) {
        for (const r of res as number[]) {
          let ii = Math.floor(r);
          if (ii < 0) ii = items.length + ii;
          if (ii === index) results.push(item);
        }
      } else if (toBoolean(res)) {
        results.push(item);
      }
    }
    env.run.checkLength(results.length);
    return results;
  };
}
