import { Type, type Static } from '@sinclair/typebox';
import type { ConnectorManifest } from '../types.js';

/** The `http` connector's contract: config, the `request` action's options, input and output. */

const HttpUrl = Type.String({ pattern: '^https?://[^\\s/?#]+', description: 'an http:// or https:// URL' });
const HeaderName = Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" });
const Headers = Type.Record(Type.String(), Type.String(), { description: 'extra request headers' });
const TimeoutMs = Type.Integer({ minimum: 1, maximum: 600_000, description: 'per-call limit in ms, on top of the flow timeout' });
const Secret = Type.String({ minLength: 1 });

const BearerAuth = Type.Object({ type: Type.Literal('bearer'), token: Secret }, { additionalProperties: false });
const BasicAuth = Type.Object({ type: Type.Literal('basic'), username: Type.String(), password: Secret }, { additionalProperties: false });
const ApiKeyAuth = Type.Object({ type: Type.Literal('api_key'), header: HeaderName, value: Secret }, { additionalProperties: false });
export const OAuth2ClientCredentials = Type.Object(
  {
    type: Type.Literal('oauth2_client_credentials'),
    token_url: HttpUrl,
    client_id: Type.String({ minLength: 1 }),
    client_secret: Secret,
    scope: Type.Optional(Type.String()),
    audience: Type.Optional(Type.String()),
    client_auth: Type.Optional(
      // No `default` keyword: inside the auth union Ajv would ignore it (and refuse it in strict mode); the code defaults to basic.
      Type.Union([Type.Literal('basic'), Type.Literal('body')], {
        description: 'client_secret_basic (Authorization header, the default) or client_secret_post (form body)',
      }),
    ),
  },
  { additionalProperties: false },
);
/**
 * Authorization code with refresh tokens: the consent happens once, outside
 * the hub; its refresh token seeds `refresh_token` (put it in the secret
 * store: `causeway secrets set crm_refresh_token --system crm`). The hub
 * refreshes access tokens from it and keeps rotated refresh tokens encrypted.
 */
export const OAuth2AuthorizationCode = Type.Object(
  {
    type: Type.Literal('oauth2_authorization_code'),
    token_url: HttpUrl,
    client_id: Type.String({ minLength: 1 }),
    client_secret: Secret,
    refresh_token: Secret,
    scope: Type.Optional(Type.String()),
    client_auth: Type.Optional(
      Type.Union([Type.Literal('basic'), Type.Literal('body')], {
        description: 'client_secret_basic (Authorization header, the default) or client_secret_post (form body)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type OAuth2Config = Static<typeof OAuth2ClientCredentials> | Static<typeof OAuth2AuthorizationCode>;

const Auth = Type.Union([BearerAuth, BasicAuth, ApiKeyAuth, OAuth2ClientCredentials, OAuth2AuthorizationCode]);
export type HttpAuth = Static<typeof Auth>;

export const HttpConfig = Type.Object(
  { base_url: HttpUrl, headers: Type.Optional(Headers), auth: Type.Optional(Auth), timeout_ms: Type.Optional(TimeoutMs) },
  { additionalProperties: false },
);
export type HttpConfig = Static<typeof HttpConfig>;

const methodSchema = (extra: { default?: string } = {}) =>
  Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH'), Type.Literal('DELETE')], extra);
export type Method = Static<ReturnType<typeof methodSchema>>;

export const RequestOptions = Type.Object(
  {
    method: Type.Optional(methodSchema({ default: 'POST' })),
    path: Type.Optional(Type.String({ description: 'appended to base_url; {a.b} is filled from the input, URL-encoded' })),
    headers: Type.Optional(Headers),
  },
  { additionalProperties: false },
);
export type RequestOptions = Static<typeof RequestOptions>;

/** Keys that make the input an envelope rather than the body itself. */
export const RESERVED_INPUT_KEYS = ['method', 'path', 'query', 'headers', 'body'] as const;

export const RequestInput = Type.Object(
  {
    method: Type.Optional(methodSchema()),
    path: Type.Optional(Type.String()),
    query: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]))),
    headers: Type.Optional(Headers),
    body: Type.Optional(Type.Unknown()),
  },
  {
    additionalProperties: true,
    description:
      'Either an envelope (method, path, query, headers override the options; body is the JSON body) or, when none of those keys is present, the body itself.',
  },
);
export type RequestEnvelope = Static<typeof RequestInput>;

export const HttpOutput = Type.Object(
  {
    status: Type.Integer(),
    headers: Type.Record(Type.String(), Type.String(), { description: 'lowercase names, no set-cookie' }),
    body: Type.Unknown({ description: 'parsed JSON for a JSON answer, else text; null when empty or over 1 MiB' }),
  },
  { additionalProperties: false },
);

export const manifest: ConnectorManifest = {
  kind: 'http',
  description: 'Calls any HTTP/JSON API: a base URL, headers and auth per system, a method and path template per flow.',
  config: HttpConfig,
  secrets: ['auth.token', 'auth.password', 'auth.value', 'auth.client_secret', 'auth.refresh_token'],
  actions: {
    request: {
      description: 'One HTTP request with an Idempotency-Key; a 2xx is success, 5xx/408/429 and network errors are retried.',
      input: RequestInput,
      options: RequestOptions,
      output: HttpOutput,
      // We send Idempotency-Key, but only the destination decides whether a repeat has no effect.
      idempotent: false,
    },
  },
};
