import type { HttpAuth } from './manifest.js';
import { oauth2Token, type TokenOptions } from './oauth2.js';

export interface AuthHeaders {
  headers: Record<string, string>;
  /** The OAuth2 access token used, so a 401 can drop exactly that one. */
  oauthToken?: string;
}

/**
 * The headers that authenticate a call to a system, per its `auth` config.
 * `call` carries the signal, the egress policy (token endpoints are outbound
 * calls too) and, for OAuth, where tokens are kept and whom to alert.
 */
export async function authHeaders(system: string, auth: HttpAuth | undefined, call: TokenOptions): Promise<AuthHeaders> {
  switch (auth?.type) {
    case undefined:
      return { headers: {} };
    case 'bearer':
      return { headers: { authorization: `Bearer ${auth.token}` } };
    case 'basic':
      return { headers: { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } };
    case 'api_key':
      return { headers: { [auth.header.toLowerCase()]: auth.value } };
    case 'oauth2_client_credentials':
    case 'oauth2_authorization_code': {
      const token = await oauth2Token(system, auth, call);
      return { headers: { authorization: `Bearer ${token}` }, oauthToken: token };
    }
  }
}
