import type { Env } from './runtime.js';

/** A node of jsonata's syntax tree: an untyped object, read through the checks below. */
export type AstNode = { readonly type: string; readonly [key: string]: unknown };

export type Ev = (input: unknown, env: Env) => unknown;

/** Why an expression stays with the interpreter (a compile-time decision). */
export class NotCompiled extends Error {}

export function unsupported(why: string): never {
  throw new NotCompiled(why);
}

/** The keys each node type may have here; any other (focus, index, ancestry, …) means a feature not compiled. */
const GENERIC = ['type', 'position', 'predicate', 'group', 'stages', 'keepArray'];
const ALLOWED_KEYS: Record<string, ReadonlySet<string>> = {
  path: new Set(['type', 'steps', 'keepSingletonArray', 'group', 'keepArray']),
  name: new Set([...GENERIC, 'value']),
  string: new Set([...GENERIC, 'value']),
  number: new Set([...GENERIC, 'value']),
  value: new Set([...GENERIC, 'value']),
  variable: new Set([...GENERIC, 'value']),
  binary: new Set([...GENERIC, 'value', 'lhs', 'rhs']),
  unary: new Set([...GENERIC, 'value', 'expressions', 'consarray', 'lhs', 'expression']),
  condition: new Set([...GENERIC, 'condition', 'then', 'else']),
  block: new Set([...GENERIC, 'expressions']),
  bind: new Set(['type', 'value', 'position', 'lhs', 'rhs']),
  function: new Set([...GENERIC, 'name', 'value', 'arguments', 'procedure']),
  lambda: new Set(['type', 'arguments', 'signature', 'position', 'body', 'thunk']),
  apply: new Set([...GENERIC, 'value', 'lhs', 'rhs']),
  filter: new Set(['type', 'expr', 'position']),
};

export function isNode(v: unknown): v is AstNode {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

export function child(n: AstNode, key: string): AstNode {
  const v = n[key];
  if (!isNode(v)) unsupported(`a ${n.type} without ${key}`);
  return v;
}

export function children(n: AstNode, key: string): AstNode[] {
  const v = n[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every(isNode)) unsupported(`a ${n.type} with an unusual ${key}`);
  return v;
}

export function checkKeys(n: AstNode): void {
  const allowed = ALLOWED_KEYS[n.type];
  if (!allowed) unsupported(`${n.type} expressions`);
  for (const k of Object.keys(n)) if (n[k] !== undefined && !allowed.has(k)) unsupported(`${k} on a ${n.type}`);
}

/** What compiling a node needs to know about the whole expression. */
export interface Scope {
  /** Names bound to lambdas anywhere in the expression. */
  lambdas: ReadonlySet<string>;
  /** Compiling a lambda's body: it may call built-ins only. */
  inLambda: boolean;
  /** Compiles a child node (compile.ts's compileNode, passed down so that the modules do not import each other). */
  compile(n: AstNode, scope: Scope): Ev;
}
