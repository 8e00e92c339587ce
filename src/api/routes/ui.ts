import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { CausewayError } from '../../errors.js';

/** The dashboard's files: plain ES modules and CSS, no build step (ui/ at the package root, beside src/ and dist/). */
const UI_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Every file under ui/, read once at start: the set is fixed, so no request can name a path outside it. */
function loadFiles(dir: string, prefix = ''): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return files;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      for (const [k, v] of loadFiles(p, `${prefix}${name}/`)) files.set(k, v);
    } else if (TYPES[extname(name)]) {
      files.set(`${prefix}${name}`, { body: readFileSync(p), type: TYPES[extname(name)]! });
    }
  }
  return files;
}

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The operator dashboard, served by the hub itself at /ui/. The files are
 * public (they hold no data); every call they make to /v1 carries the
 * token the person signs in with.
 */
export function uiRoutes(): FastifyPluginAsync {
  return async (app) => {
    const files = loadFiles(UI_DIR);
    app.get('/', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
    // With ignoreTrailingSlash, /ui/ arrives here as /ui: both are the app.
    app.get('/ui', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => send(reply, 'index.html'));
    app.get<{ Params: { '*': string } }>('/ui/*', { config: { public: true }, schema: { hide: true } }, async (req, reply) => send(reply, req.params['*'] || 'index.html'));

    function send(reply: FastifyReply, path: string) {
      // Views are client-side routes (/ui/#/records/…); anything unknown without an extension is the app itself.
      const file = files.get(path) ?? (extname(path) === '' ? files.get('index.html') : undefined);
      if (!file) throw new CausewayError('not_found', `no file ${path} in the dashboard`);
      return reply
        .type(file.type)
        .header('cache-control', 'no-cache')
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(file.body);
    }
  };
}
