import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { PermanentError } from '../types.js';

/**
 * Checks a value against a schema and returns it typed. The hub validates
 * config, options and input before calling us; checking again here (compiled
 * once, cheap) means a connector used directly never runs on a bad shape.
 */
export function checker<T extends TSchema>(schema: T, what: string): (value: unknown) => Static<T> {
  const compiled = TypeCompiler.Compile(schema);
  return (value) => {
    if (compiled.Check(value)) return value;
    const first = compiled.Errors(value).First();
    throw new PermanentError(`${what} is invalid${first ? ` at ${first.path || '/'}: ${first.message}` : ''}`);
  };
}
