import jsonata from 'jsonata';
import type { EntityName } from '../canonical/index.js';
import type { Mapping } from '../mapping/index.js';
import { fieldName, personalFields } from './fields.js';

/**
 * Which record fields a JSONata mapping can put into its output, read from
 * the expression's syntax tree without running it. Used by `causeway
 * validate` to refuse a flow that would send personal data to a system not
 * cleared for it.
 *
 * The reading errs on the side of "referenced": a path is followed step by
 * step from the record (`shipping_address.name`), through object and array
 * constructors (`lines.{ "sku": sku }` reads `lines.sku`) and `$` / `$$`;
 * where the context cannot be known (a path after a variable, `%`), a name
 * counts for every field it could be (`$a.name` could be any address name).
 * `$`, `*` and `**` reference everything under them. A mapping that cannot
 * be read this way is therefore refused rather than let through; the
 * run-time check (leak.ts) is the second line.
 */
export interface Reference {
  /** Segments from the record's root (known) or a tail whose start is unknown. */
  path: string[];
  known: boolean;
}

interface Node {
  type?: string;
  value?: unknown;
  steps?: Node[];
  stages?: Node[];
  group?: { lhs?: Node[][] };
  [k: string]: unknown;
}

interface Ctx {
  path: string[];
  known: boolean;
}

const ROOT: Ctx = { path: [], known: true };
const UNKNOWN: Ctx = { path: [], known: false };

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Node).type === 'string';
}

function emit(ctx: Ctx, out: Reference[]): void {
  // An unknown context with no names yet is a variable's value: it was checked where it was bound.
  if (!ctx.known && ctx.path.length === 0) return;
  out.push({ path: ctx.path, known: ctx.known });
}

/** Every child node, for node types without a rule of their own. */
function children(n: Node): Node[] {
  const out: Node[] = [];
  for (const [k, v] of Object.entries(n)) {
    if (k === 'position' || k === 'steps') continue;
    if (isNode(v)) out.push(v);
    else if (Array.isArray(v)) {
      for (const x of v) {
        if (isNode(x)) out.push(x);
        else if (Array.isArray(x)) for (const y of x) if (isNode(y)) out.push(y);
      }
    }
  }
  return out;
}

function walkPath(n: Node, ctx: Ctx, root: Ctx, out: Reference[]): void {
  let cur = ctx;
  const steps = n.steps ?? [];
  steps.forEach((step, i) => {
    const last = i === steps.length - 1;
    if (step.type === 'name') {
      cur = { path: [...cur.path, String(step.value)], known: cur.known };
    } else if (step.type === 'variable' && step.value === '') {
      // `$`: the context item, unchanged
    } else if (step.type === 'variable' && step.value === '$') {
      cur = root;
    } else if (step.type === 'variable') {
      cur = UNKNOWN;
    } else if (step.type === 'wildcard' || step.type === 'descendant') {
      emit(cur, out);
      cur = { path: cur.path, known: cur.known };
    } else if (step.type === 'parent') {
      cur = UNKNOWN;
    } else {
      // A constructor, block or function as a step: it reads relative to the current context.
      walk(step, cur, root, out);
      cur = UNKNOWN;
      if (last) return;
    }
    for (const stage of step.stages ?? []) walk(stage, cur, root, out);
    for (const pair of step.group?.lhs ?? []) for (const x of pair) walk(x, cur, root, out);
    if (last && step.type !== 'wildcard' && step.type !== 'descendant') emit(cur, out);
  });
  for (const pair of n.group?.lhs ?? []) for (const x of pair) walk(x, cur, root, out);
}

function walk(n: Node, ctx: Ctx, root: Ctx, out: Reference[]): void {
  switch (n.type) {
    case 'path':
      walkPath(n, ctx, root, out);
      return;
    case 'name':
      emit({ path: [...ctx.path, String(n.value)], known: ctx.known }, out);
      return;
    case 'variable':
      if (n.value === '') emit(ctx, out);
      else if (n.value === '$') emit(root, out);
      return;
    case 'wildcard':
    case 'descendant':
      emit(ctx, out);
      return;
    case 'string':
    case 'number':
    case 'value':
    case 'regex':
      return;
    default:
      for (const c of children(n)) walk(c, ctx, root, out);
  }
}

/** The fields an expression references, relative to its input. */
export function referencesOf(expression: string): Reference[] {
  const ast = jsonata(expression).ast() as unknown as Node;
  const out: Reference[] = [];
  walk(ast, ROOT, ROOT, out);
  return out;
}

function startsWith(a: readonly string[], b: readonly string[]): boolean {
  return b.length <= a.length && b.every((s, i) => a[i] === s);
}

function touches(ref: Reference, field: readonly string[]): boolean {
  if (ref.known) return startsWith(field, ref.path) || startsWith(ref.path, field);
  // Unknown start: the reference's tail may sit anywhere along the field.
  for (let i = 0; i < field.length; i++) {
    const rest = field.slice(i);
    if (startsWith(rest, ref.path) || startsWith(ref.path, rest)) return true;
  }
  return false;
}

/**
 * The personal fields of `entity` that a flow's `map` can send (every one
 * when there is no map: the whole record is the input).
 */
export function personalFieldsSent(entity: EntityName, map: Mapping | undefined): string[] {
  const fields = personalFields(entity).map((f) => f.path.filter((s) => s !== '[]'));
  if (!map) return fields.map(fieldName);
  const refs = referencesOf(map.expression);
  return fields.filter((f) => refs.some((r) => touches(r, f))).map(fieldName);
}
