import type { HttpAuth } from './manifest.js';
import { oauth2Token } from './oauth2.js';

export interface AuthHeaders {
  headers: Record<string, string>;
  /** The OAuth2 access token used, so a 401 can drop exactly that one. */
  oauthToken?: string;
}

/** The headers that authenticate a call to a system, per its `auth` config. */
export async function authHeaders(system: string, auth: HttpAuth | undefined, signal: AbortSignal, timeoutMs?: number): Promise<AuthHeaders> {
  switch (auth?.type) {
    case undefined:
      return { headers: {} };
    case 'bearer':
      return { headers: { authorization: `Bearer ${auth.token}` } };
    case 'basic':
      return { headers: { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } };
    case 'api_key':
      return { headers: { [auth.header.toLowerCase()]: auth.value } };
    case 'oauth2_client_credentials': {
      const token = await oauth2Token(system, auth, signal, timeoutMs);
      return { headers: { authorization: `Bearer ${token}` }, oauthToken: token };
    }
  }
}
