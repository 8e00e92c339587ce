import { child, children, checkKeys, unsupported, type AstNode, type Ev, type Scope } from './ast.js';
import { builtinCall } from './builtins.js';
import { bail, Env, UNBOUND, type Seq } from './runtime.js';

/** Variables, blocks and bindings, lambdas and calls, as the interpreter's evaluateVariable, evaluateBlock, evaluateBindExpression, evaluateLambda and evaluateFunction. */

/** A lambda value: its parameters, body, and the context and frame it was made in. */
export class Lambda {
  constructor(
    readonly params: readonly string[],
    readonly body: Ev,
    readonly input: unknown,
    readonly env: Env,
  ) {}
}

export function compileVariable(n: AstNode): Ev {
  const name = n.value;
  if (typeof name !== 'string') unsupported('a variable without a name');
  if (name === '') return (input) => (Array.isArray(input) && (input as Seq).outerWrapper ? input[0] : input);
  return (_input, env) => {
    const v = env.lookup(name);
    // Unbound: a built-in's function value, or nothing at all; the interpreter knows which.
    if (v === UNBOUND || v instanceof Lambda) bail(`$${name} as a value`);
    return v;
  };
}

export function compileBlock(n: AstNode, scope: Scope): Ev {
  const nodes = children(n, 'expressions');
  const exprs = nodes.map((e) => scope.compile(e, scope));
  // The interpreter makes a frame per block; one that binds nothing is not observable, so only binding blocks get one.
  const binds = nodes.some((e) => e.type === 'bind');
  if (exprs.length === 1 && !binds) return exprs[0]!;
  return (input, env) => {
    const frame = binds ? new Env(env, env.run) : env;
    let result: unknown;
    for (const e of exprs) result = e(input, frame);
    return result;
  };
}

export function compileBind(n: AstNode, scope: Scope): Ev {
  const name = child(n, 'lhs').value as string;
  const rhsNode = child(n, 'rhs');
  if (rhsNode.type === 'lambda') {
    const make = compileLambda(rhsNode, scope);
    return (input, env) => {
      const lambda = make(input, env);
      env.bind(name, lambda);
      return lambda;
    };
  }
  const rhs = scope.compile(rhsNode, scope);
  return (input, env) => {
    const value = rhs(input, env);
    env.bind(name, value);
    return value;
  };
}

function compileLambda(n: AstNode, scope: Scope): (input: unknown, env: Env) => Lambda {
  checkKeys(n);
  if (n['signature'] !== undefined) unsupported('a lambda with a signature');
  if (scope.inLambda) unsupported('a lambda inside a lambda');
  const params = children(n, 'arguments').map((a) => {
    if (a.type !== 'variable' || typeof a.value !== 'string') unsupported('an unusual lambda parameter');
    return a.value;
  });
  let bodyNode = child(n, 'body');
  // A body that is a call was made a tail-call thunk by the parser; for a built-in that is the same as calling it.
  if (bodyNode.type === 'lambda' && bodyNode['thunk'] === true) bodyNode = child(bodyNode, 'body');
  const body = scope.compile(bodyNode, { ...scope, inLambda: true });
  return (input, env) => new Lambda(params, body, input, env);
}

export function compileCall(n: AstNode, scope: Scope, applyTo: Ev | undefined): Ev {
  const procedure = child(n, 'procedure');
  if (procedure.type !== 'variable' || typeof procedure.value !== 'string' || procedure['predicate'] !== undefined) unsupported('a call of something other than a named function');
  const name = procedure.value;
  const args = children(n, 'arguments').map((a) => scope.compile(a, scope));
  if (applyTo) args.unshift(applyTo);
  if (scope.lambdas.has(name)) {
    if (scope.inLambda) unsupported('a lambda calling a lambda');
    return (input, env) => {
      const f = env.lookup(name);
      if (!(f instanceof Lambda)) return bail(`$${name} is not the lambda here`);
      const values = args.map((a) => a(input, env));
      const frame = new Env(f.env, env.run);
      for (let i = 0; i < f.params.length; i++) frame.bind(f.params[i]!, values[i]);
      return f.body(f.input, frame);
    };
  }
  const call = builtinCall(name, args.length);
  if (!call) unsupported(`$${name}`);
  return (input, env) => {
    // A caller's binding or the expression's own can hide a built-in's name.
    if (env.lookup(name) !== UNBOUND) bail(`$${name} is bound to a value`);
    const values = new Array<unknown>(args.length);
    for (let i = 0; i < args.length; i++) values[i] = args[i]!(input, env);
    return call(values, input, env.run);
  };
}
