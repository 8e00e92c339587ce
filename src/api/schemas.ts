import { Type } from '@sinclair/typebox';

/** The one error shape every endpoint answers with. */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'a code from the catalogue in docs/errors.md' }),
      message: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ path: Type.Optional(Type.String()), message: Type.String() }))),
    }),
  },
  { $id: 'Error' },
);
