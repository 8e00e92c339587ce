import { child, children, unsupported, type AstNode, type Ev, type Scope } from './ast.js';
import { compileObject } from './constructors.js';
import { bail, isDeepEqual, isNumeric, toStringValue, truthy } from './runtime.js';

/** Operators, as the interpreter's evaluateUnary and evaluateBinary. */

export function compileUnary(n: AstNode, scope: Scope): Ev {
  switch (n.value) {
    case '-': {
      const operand = scope.compile(child(n, 'expression'), scope);
      return (input, env) => {
        const v = operand(input, env);
        if (v === undefined) return undefined;
        if (isNumeric(v)) return -v;
        return bail('minus on a value that is not a number (D1002)');
      };
    }
    case '[': {
      const items = children(n, 'expressions').map((e) => ({ ev: scope.compile(e, scope), nested: e.value === '[' }));
      const cons = n['consarray'] === true;
      return (input, env) => {
        const result: unknown[] = [];
        for (const item of items) {
          const value = item.ev(input, env);
          if (value === undefined) continue;
          // fn.append(result, value) as the interpreter does, into the array being built.
          if (item.nested || !Array.isArray(value)) result.push(value);
          else for (const v of value) result.push(v);
          env.run.checkLength(result.length);
        }
        if (cons) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
        return result;
      };
    }
    case '{':
      return compileObject(n, scope);
    default:
      return unsupported(`the unary operator ${String(n.value)}`);
  }
}

export function compileBinary(n: AstNode, scope: Scope): Ev {
  const op = n.value;
  const lhs = scope.compile(child(n, 'lhs'), scope);
  const rhs = scope.compile(child(n, 'rhs'), scope);
  switch (op) {
    case 'and':
      return (input, env) => truthy(lhs(input, env)) && truthy(rhs(input, env));
    case 'or':
      return (input, env) => truthy(lhs(input, env)) || truthy(rhs(input, env));
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return numeric(op, lhs, rhs);
    case '=':
    case '!=': {
      // Nothing on either side is never equal nor unequal.
      const equal = op === '=';
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        return l !== undefined && r !== undefined && isDeepEqual(l, r) === equal;
      };
    }
    case '<':
    case '<=':
    case '>':
    case '>=':
      return comparison(op, lhs, rhs);
    case '&':
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        return (l === undefined ? '' : (toStringValue(l) as string)) + (r === undefined ? '' : (toStringValue(r) as string));
      };
    case 'in':
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        if (l === undefined || r === undefined) return false;
        return Array.isArray(r) ? r.some((x) => x === l) : r === l;
      };
    default:
      return unsupported(`the operator ${String(op)}`);
  }
}

const ARITHMETIC: Record<'+' | '-' | '*' | '/' | '%', (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
};

/** The interpreter's evaluateNumericExpression: numbers or nothing on either side; anything else is its error (T2001/T2002). */
function numeric(op: '+' | '-' | '*' | '/' | '%', lhs: Ev, rhs: Ev): Ev {
  const apply = ARITHMETIC[op];
  return (input, env) => {
    const l = lhs(input, env);
    const r = rhs(input, env);
    if (l !== undefined && !isNumeric(l)) bail('arithmetic on a value that is not a number (T2001)');
    if (r !== undefined && !isNumeric(r)) bail('arithmetic on a value that is not a number (T2002)');
    return l === undefined || r === undefined ? undefined : apply(l, r);
  };
}

function comparison(op: '<' | '<=' | '>' | '>=', lhs: Ev, rhs: Ev): Ev {
  return (input, env) => {
    const l = lhs(input, env);
    const r = rhs(input, env);
    const lt = typeof l;
    const rt = typeof r;
    const lok = lt === 'undefined' || lt === 'string' || lt === 'number';
    const rok = rt === 'undefined' || rt === 'string' || rt === 'number';
    if (!lok || !rok) bail('comparing values that are not strings or numbers (T2010)');
    if (l === undefined || r === undefined) return undefined;
    if (lt !== rt) bail('comparing a string with a number (T2009)');
    const a = l as string | number;
    const b = r as string | number;
    switch (op) {
      case '<':
        return a < b;
      case '<=':
        return a <= b;
      case '>':
        return a > b;
      case '>=':
        return a >= b;
    }
  };
}
