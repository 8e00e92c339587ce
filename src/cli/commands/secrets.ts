import { randomBytes } from 'node:crypto';
import { audit, cliActor } from '../../audit/audit.js';
import { isCausewayError } from '../../errors.js';
import { keyringFromEnv, MASTER_KEY_ENV, PREVIOUS_KEYS_ENV, requireKeyring } from '../../secrets/keyring.js';
import { rotateKey } from '../../secrets/rotate.js';
import { HUB_OWNER, parseOwner, SecretStore, systemOwner, type SecretOwner } from '../../secrets/store.js';
import type { Db } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { DEFAULT_DATABASE_URL, openDb } from '../../store/open.js';
import { CliError, EXIT, parseCommand, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { print, printJson, table } from '../output.js';
import { readSecretValue } from '../secret-input.js';

const HELP = `Usage: causeway secrets <subcommand> [options]

The hub's encrypted secret store: credentials for connected systems,
referenced from causeway.yaml as \${secret:NAME} (or { secret: NAME }) in a
connector's secret fields. Values are AES-256-GCM encrypted with the master
key from the environment; they are never printed, logged or returned.

Subcommands:
  set NAME [--system S]   store a secret; the value is read from stdin
                          (echo -n … | causeway secrets set NAME) or a
                          prompt, never from the command line
  list [--system S]       names, owners, key ids and times (never values)
  delete NAME [--system S]
  rotate-key              re-encrypt every value under CAUSEWAY_MASTER_KEY,
                          in batches, while the old key still decrypts
  generate-key            print a new random master key (base64, 32 bytes)

Options:
  --system S      the secret belongs to system S (only its config may use
                  it); without it, any system's config may reference it
  --database URL  the hub database (env DATABASE_URL, default ${DEFAULT_DATABASE_URL})
  --json          list as JSON
  -h, --help      this help

Environment:
  ${MASTER_KEY_ENV}            the current master key (openssl rand -base64 32)
  ${PREVIOUS_KEYS_ENV}   older keys, comma-separated, that still decrypt

Rotating the master key without downtime:
  1. causeway secrets generate-key                      → NEW
  2. restart the hubs with ${MASTER_KEY_ENV}=NEW and
     ${PREVIOUS_KEYS_ENV}=OLD (they read both)
  3. causeway secrets rotate-key   (same environment)    re-encrypts under NEW
  4. drop ${PREVIOUS_KEYS_ENV} at the next restart

Exit codes: 0 ok, 1 a problem (no master key, no such secret), 2 a usage error.
`;

const SUBCOMMANDS = ['set', 'list', 'delete', 'rotate-key', 'generate-key'] as const;

async function withDb<T>(url: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(url);
  try {
    // The CLI may run before the hub ever did (secrets are set before the first start).
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

function ownerOf(system: string | undefined): SecretOwner {
  if (system === undefined) return HUB_OWNER;
  const owner = parseOwner(`system:${system}`);
  if (!owner) throw new UsageError(`--system must be a system name (letters, digits, _ and -): ${system}`);
  return systemOwner(system);
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'secrets',
    argv,
    { system: { type: 'string' }, database: { type: 'string' }, json: { type: 'boolean' } },
    // More than we take, so a value typed on the command line is refused below without being echoed.
    { max: 10 },
  );
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const [sub, name, extra] = positionals as [string, string | undefined, string | undefined];
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand: ${sub}\nRun "causeway secrets --help".`);
  if (extra !== undefined) {
    throw new UsageError('causeway secrets set takes the value from stdin or a prompt, never from the command line (it would stay in shell history and ps)');
  }
  const url = values.database ?? process.env['DATABASE_URL'] ?? DEFAULT_DATABASE_URL;
  const owner = ownerOf(values.system);
  try {
    switch (sub) {
      case 'generate-key':
        print(randomBytes(32).toString('base64'));
        return EXIT.ok;
      case 'set': {
        if (!name) throw new UsageError('usage: causeway secrets set NAME [--system S] (the value on stdin or at the prompt)');
        const ring = requireKeyring(process.env, `storing secret ${name}`);
        const value = await readSecretValue(`value for ${name}${values.system ? ` (system ${values.system})` : ''}: `);
        const { keyId } = await withDb(url, (db) =>
          db.tx(async (q) => {
            const r = await new SecretStore(db, ring).set(owner, name, value, q);
            await audit(q, { actor: cliActor(), action: 'secret.set', target: `${owner}/${name}`, detail: { key_id: r.keyId } });
            return r;
          }),
        );
        print(`secret ${name} (${owner}) stored, encrypted with key ${keyId}`);
        return EXIT.ok;
      }
      case 'delete': {
        if (!name) throw new UsageError('usage: causeway secrets delete NAME [--system S]');
        const deleted = await withDb(url, async (db) => {
          const gone = await new SecretStore(db, keyringFromEnv(process.env)).delete(owner, name);
          if (gone) await audit(db, { actor: cliActor(), action: 'secret.delete', target: `${owner}/${name}` });
          return gone;
        });
        if (!deleted) throw new CliError(EXIT.problem, `no secret ${name} (${owner})`);
        print(`secret ${name} (${owner}) deleted`);
        return EXIT.ok;
      }
      case 'list': {
        if (name) throw new UsageError('causeway secrets list takes no name (use --system to filter)');
        const rows = await withDb(url, (db) => new SecretStore(db, undefined).list(values.system === undefined ? {} : { owner }));
        const current = keyringFromEnv(process.env)?.current.id;
        if (values.json) {
          printJson({
            current_key_id: current ?? null,
            secrets: rows.map((r) => ({ owner: r.owner, name: r.name, key_id: r.keyId, created_at: new Date(r.createdAt).toISOString(), updated_at: new Date(r.updatedAt).toISOString() })),
          });
          return EXIT.ok;
        }
        if (rows.length === 0) {
          print('no secrets');
          return EXIT.ok;
        }
        process.stdout.write(
          table(rows, [
            { header: 'owner', value: (r) => r.owner },
            { header: 'name', value: (r) => r.name },
            { header: 'key id', value: (r) => (current && r.keyId !== current ? `${r.keyId} (old)` : r.keyId) },
            { header: 'updated', value: (r) => new Date(r.updatedAt).toISOString() },
          ]),
        );
        return EXIT.ok;
      }
      case 'rotate-key': {
        if (name) throw new UsageError('causeway secrets rotate-key takes no arguments');
        const ring = requireKeyring(process.env, 'rotate-key');
        const result = await withDb(url, async (db) => {
          const r = await rotateKey(db, ring);
          await audit(db, { actor: cliActor(), action: 'secret.rotate_key', target: ring.current.id, detail: { reencrypted: r.reencrypted, from: r.from, remaining: r.remaining } });
          return r;
        });
        print(`${result.reencrypted} secret${result.reencrypted === 1 ? '' : 's'} re-encrypted under key ${result.keyId}${result.from.length ? ` (from ${result.from.join(', ')})` : ''}`);
        if (result.remaining > 0) {
          print(`${result.remaining} still under another key: written meanwhile by a hub without the new key; restart it with ${MASTER_KEY_ENV} set to the new key and run rotate-key again`);
          return EXIT.problem;
        }
        print(`every secret is under ${result.keyId}; the old key is no longer needed (remove it from ${PREVIOUS_KEYS_ENV})`);
        return EXIT.ok;
      }
    }
  } catch (e) {
    if (isCausewayError(e)) throw new CliError(EXIT.problem, e.message);
    throw e;
  }
  return EXIT.usage;
}

export const secrets: Command = { name: 'secrets', help: HELP, run };
