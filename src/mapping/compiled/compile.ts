import { checkKeys, child, children, isNode, NotCompiled, unsupported, type AstNode, type Ev, type Scope } from './ast.js';
import { compileGroup } from './constructors.js';
import { compileBind, compileBlock, compileCall, compileVariable } from './functions.js';
import { compileBinary, compileUnary } from './operators.js';
import { compileFilter, compilePath } from './paths.js';
import { Env, isSequence, lookup, sequenceOf, toBoolean, unwrap, type Run } from './runtime.js';

/**
 * Compiles a JSONata expression's syntax tree (as jsonata 2.x parses it)
 * into plain synchronous JavaScript closures, one per node.
 *
 * Why: the interpreter awaits at every node of every evaluation. A typical
 * order mapping took ~50 µs and most of the hub's garbage per message; the
 * same mapping compiled takes a few µs. Every mapping of a message and of a
 * delivery runs on the hot path, so this is most of what the hub does per
 * message beyond storing it.
 *
 * What compiles: paths of names with predicates (filters and indexes) and
 * `[]`, literals, `[…]` and `{…}` constructors (also per item, `a.{…}`, and
 * grouping, `a{…}`), arithmetic, comparison, `=`/`!=`, `and`/`or`, `in`, `&`,
 * `?:`, blocks with `:=` bindings, variables, `$` and `$$`, `~>` into a
 * function call, the pure built-ins in builtins.ts, and lambdas bound to a
 * name and called by it (their bodies call only built-ins, so nothing
 * recurses). Anything else — `*`, `**`, `%`, `@`, `#`, `^(…)`, `..`, regexes,
 * transforms, partial application, higher-order functions, signatures,
 * other built-ins — leaves the whole expression to the interpreter.
 *
 * Each closure follows the interpreter function it replaces (evaluate,
 * evaluatePath, evaluateStep, evaluateFilter, evaluateGroupExpression,
 * evaluateBinary, …), including the details of sequences: when a list is
 * flattened, when one item stands for itself, which arrays are kept. Where
 * the interpreter would fail, the compiled code throws `Bail` and the caller
 * runs the interpreter on the same input for its exact error. Equivalence is
 * tested against the interpreter on generated expressions and inputs
 * (test/unit/mapping-compiled.test.ts).
 */

export { NotCompiled };

export interface CompileLimits {
  maxDepth: number;
}

/** The deepest nesting of nodes: the interpreter's stack guard counts nested evaluations. */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) {
    let d = 0;
    for (const x of v) d = Math.max(d, depthOf(x));
    return d;
  }
  if (typeof v !== 'object' || v === null) return 0;
  let d = 0;
  for (const x of Object.values(v)) if (typeof x === 'object' && x !== null) d = Math.max(d, depthOf(x));
  return isNode(v) ? d + 1 : d;
}

/** Walks the tree for the binding rules that keep compiled code simple and bounded. */
function collectBindings(root: AstNode): Set<string> {
  const lambdas = new Set<string>();
  const values = new Set<string>();
  const visit = (v: unknown, parent: AstNode | undefined, last: boolean): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => visit(x, parent, parent?.type === 'block' ? i === v.length - 1 : last));
      return;
    }
    if (!isNode(v)) {
      if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) visit(x, parent, last);
      return;
    }
    if (v.type === 'bind') {
      // A binding inside an operand would depend on the interpreter's evaluation order (it runs operands concurrently).
      if (parent !== undefined && parent.type !== 'block') unsupported('a binding outside a block');
      const name = child(v, 'lhs').value;
      if (typeof name !== 'string') unsupported('a binding without a name');
      const isLambda = child(v, 'rhs').type === 'lambda';
      // A lambda as a block's result would hand a function value on.
      if (isLambda && (parent === undefined || last)) unsupported('a lambda as a result');
      (isLambda ? lambdas : values).add(name);
    } else if (v.type === 'lambda' && parent?.type !== 'bind' && !(v['thunk'] === true && parent?.type === 'lambda')) {
      unsupported('a lambda that is not bound to a name');
    }
    for (const [k, x] of Object.entries(v)) if (k !== 'type' && typeof x === 'object' && x !== null) visit(x, v, false);
  };
  visit(root, undefined, false);
  for (const name of lambdas) if (values.has(name)) unsupported(`$${name} bound to a lambda and to a value`);
  return lambdas;
}

/** Compiles an expression tree, or throws NotCompiled. */
export function compileAst(ast: AstNode, limits: CompileLimits): (input: unknown, env: Env) => unknown {
  // The interpreter nests about two evaluations per level; a tree near its stack limit stays with it.
  if (depthOf(ast) * 2 > limits.maxDepth) unsupported('an expression nested near the stack limit');
  const scope: Scope = { lambdas: collectBindings(ast), inLambda: false, compile: compileNode };
  return compileNode(ast, scope);
}

/**
 * Evaluates a compiled expression as jsonata's `evaluate` does: the caller's
 * bindings and `$$` in the outermost frame, an input array wrapped so that
 * it is taken as one value.
 */
export function runCompiled(root: (input: unknown, env: Env) => unknown, input: unknown, bindings: Record<string, unknown> | undefined, run: Run): unknown {
  const env = new Env(null, run);
  if (bindings) for (const k of Object.keys(bindings)) env.bind(k, bindings[k]);
  env.bind('$', input);
  let context = input;
  if (Array.isArray(input) && !isSequence(input)) {
    const wrapped = sequenceOf(input);
    wrapped.outerWrapper = true;
    context = wrapped;
  }
  return root(context, env);
}

/** Results of these never are sequences: the interpreter's unwrapping does nothing to them. */
const NEVER_SEQUENCE = new Set(['string', 'number', 'value', 'binary']);

/** A node with the interpreter's `evaluate` around it: predicates, grouping, unwrapping. */
function compileNode(n: AstNode, scope: Scope): Ev {
  checkKeys(n);
  const core = compileCore(n, scope);
  const predicates = children(n, 'predicate').map((p) => compileFilter(p, scope));
  const group = n.type !== 'path' && n['group'] !== undefined ? compileGroup(n['group'], scope) : undefined;
  const keepArray = n['keepArray'] === true;
  if (predicates.length === 0 && group === undefined) {
    if (NEVER_SEQUENCE.has(n.type) || (n.type === 'unary' && n.value !== '-')) return core;
    return (input, env) => unwrap(core(input, env), keepArray);
  }
  return (input, env) => {
    let result = core(input, env);
    for (const p of predicates) result = p(result, env);
    if (group) result = group(result, env);
    return unwrap(result, keepArray);
  };
}

function compileCore(n: AstNode, scope: Scope): Ev {
  switch (n.type) {
    case 'string':
    case 'number':
    case 'value': {
      const value = n.value;
      return () => value;
    }
    case 'name': {
      const key = n.value;
      if (typeof key !== 'string') unsupported('a name that is not a string');
      return (input, env) => lookup(input, key, env.run);
    }
    case 'variable':
      return compileVariable(n);
    case 'path':
      return compilePath(n, scope);
    case 'binary':
      return compileBinary(n, scope);
    case 'unary':
      return compileUnary(n, scope);
    case 'condition': {
      const condition = compileNode(child(n, 'condition'), scope);
      const then = compileNode(child(n, 'then'), scope);
      const otherwise = n['else'] === undefined ? undefined : compileNode(child(n, 'else'), scope);
      return (input, env) => (toBoolean(condition(input, env)) ? then(input, env) : otherwise?.(input, env));
    }
    case 'block':
      return compileBlock(n, scope);
    case 'bind':
      return compileBind(n, scope);
    case 'function':
      return compileCall(n, scope, undefined);
    case 'apply': {
      const rhs = child(n, 'rhs');
      if (rhs.type !== 'function') unsupported('~> into something other than a function call');
      checkKeys(rhs);
      const lhs = compileNode(child(n, 'lhs'), scope);
      // The interpreter calls evaluateFunction for the right side directly (not through evaluate).
      return compileCall(rhs, scope, lhs);
    }
    default:
      return unsupported(`${n.type} expressions`);
  }
}
