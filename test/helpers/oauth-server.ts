import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OAuth 2.0 authorization server and protected API on 127.0.0.1, for
 * the hub's outbound OAuth: a token endpoint (client credentials and
 * refresh_token grants, rotating refresh tokens) and `/api/*`, which
 * accepts only live access tokens. Tests issue, expire and revoke tokens.
 */
export interface OAuthServer {
  url: string;
  tokenUrl: string;
  /** Every token endpoint call: its grant and the refresh token presented. */
  tokenCalls: Array<{ grant: string; refreshToken?: string; clientId: string; ok: boolean; error?: string }>;
  /** Every API call with the status it got. */
  apiCalls: Array<{ path: string; token: string | undefined; status: number; body: string }>;
  /** Lifetime of the access tokens issued from now on. */
  expiresIn: number;
  /** A refresh token as the consent screen would hand it out (the seed). */
  issueRefreshToken(): string;
  /** Makes every access token issued so far invalid (the API answers 401). */
  expireAccessTokens(): void;
  /** Revokes every refresh token issued so far (the token endpoint answers invalid_grant). */
  revokeRefreshTokens(): void;
  /** What the API answers after a successful call; default 200 `{ ok: true }`. */
  apiAnswer: (body: string) => { status: number; body: unknown };
  close(): Promise<void>;
}

export async function startOAuthServer(client: { id: string; secret: string }): Promise<OAuthServer> {
  const access = new Map<string, number>(); // token → expires at (ms)
  const refresh = new Set<string>();
  const token = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
  const state: OAuthServer = {
    url: '',
    tokenUrl: '',
    tokenCalls: [],
    apiCalls: [],
    expiresIn: 3600,
    issueRefreshToken: () => {
      const t = token('rt');
      refresh.add(t);
      return t;
    },
    expireAccessTokens: () => access.clear(),
    revokeRefreshTokens: () => refresh.clear(),
    apiAnswer: () => ({ status: 200, body: { ok: true } }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/oauth/token' && req.method === 'POST') {
        const form = new URLSearchParams(body);
        let id = form.get('client_id') ?? '';
        let secret = form.get('client_secret') ?? '';
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
        if (basic?.[1]) [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(decodeURIComponent) as [string, string];
        const grant = form.get('grant_type') ?? '';
        const call: OAuthServer['tokenCalls'][number] = { grant, clientId: id, ok: false, ...(form.get('refresh_token') ? { refreshToken: form.get('refresh_token') as string } : {}) };
        state.tokenCalls.push(call);
        if (id !== client.id || secret !== client.secret) return send(res, 401, { error: (call.error = 'invalid_client') });
        const issue = () => {
          const a = token('at');
          access.set(a, Date.now() + state.expiresIn * 1000);
          return a;
        };
        if (grant === 'client_credentials') {
          call.ok = true;
          return send(res, 200, { access_token: issue(), token_type: 'Bearer', expires_in: state.expiresIn });
        }
        if (grant === 'refresh_token') {
          const presented = form.get('refresh_token') ?? '';
          if (!refresh.has(presented)) return send(res, 400, { error: (call.error = 'invalid_grant'), error_description: 'the refresh token is revoked' });
          // Rotation (RFC 6819 §5.2.2.3): the presented token is spent, a new one replaces it.
          refresh.delete(presented);
          call.ok = true;
          return send(res, 200, { access_token: issue(), token_type: 'Bearer', expires_in: state.expiresIn, refresh_token: state.issueRefreshToken() });
        }
        return send(res, 400, { error: (call.error = 'unsupported_grant_type') });
      }
      if (req.url?.startsWith('/api/')) {
        const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const live = presented !== undefined && (access.get(presented) ?? 0) > Date.now();
        const answer = live ? state.apiAnswer(body) : { status: 401, body: { error: 'invalid_token' } };
        state.apiCalls.push({ path: req.url, token: presented, status: answer.status, body });
        return send(res, answer.status, answer.body);
      }
      send(res, 404, { error: 'not_found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.tokenUrl = `${state.url}/oauth/token`;
  return state;
}
