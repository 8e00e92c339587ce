import { cliActor } from '../../audit/audit.js';
import { createApiToken, revokeApiToken, tokenJson } from '../../auth/manage.js';
import { isRole, ROLES, type Role } from '../../auth/permissions.js';
import { parseDuration } from '../../auth/tokens.js';
import { CausewayError } from '../../errors.js';
import { listTokens } from '../../store/api-tokens.js';
import type { Db } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { openDb } from '../../store/open.js';
import { HubClient } from '../api-client.js';
import { CliError, EXIT, HUB_HELP, HUB_OPTIONS, UsageError, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { print, printJson, table, time } from '../output.js';

const HELP = `Usage: causeway tokens <create | list | revoke <id|name>> [options]

API tokens for people and automation. Each has a role:
  admin      configures: everything, including tokens, secrets, erasure, the audit log
  operator   runs the hub: reads data, replays, backfills
  viewer     reads, with personal data masked

  causeway tokens create --name NAME --role ROLE [--expires-in 90d]
                                   prints the new token once; only its hash is kept
  causeway tokens list [--all]     live tokens (--all: also revoked ones), never their values
  causeway tokens revoke <id|name> refused from the next request on

Options:
  --name NAME         a name to recognise the token by (unique among live tokens)
  --role ROLE         ${ROLES.join(', ')}
  --expires-in D      expiry from now: 90d, 12h, 30m (default: does not expire)
  --all               list: include revoked tokens
  --database URL      act on the hub's database directly instead of through its API
                      (postgres://… or sqlite:PATH; env DATABASE_URL is not read on
                      purpose). The way back in when no admin token is left.
${HUB_HELP}
  --json              as JSON
  -h, --help          this help

Through the API this needs an admin token (CAUSEWAY_TOKEN). Every create and
revoke is written to the audit log.

Exit codes: 0 done, 1 not found / already revoked / name taken, 2 a bad
option, 3 the hub cannot be reached or refused the token.
`;

interface TokenView {
  id: number;
  name: string;
  role: string;
  status: string;
  created_by: string;
  created_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  token?: string;
}


/** The same three operations, through the API or on the database. */
interface Tokens {
  create(name: string, role: Role, expiresInMs: number | null): Promise<TokenView & { token: string }>;
  list(all: boolean): Promise<TokenView[]>;
  revoke(id: number): Promise<TokenView>;
  close(): Promise<void>;
}

function viaApi(client: HubClient): Tokens {
  return {
    create: (name, role, expiresInMs) =>
      client.post('/v1/tokens', { name, role, ...(expiresInMs !== null ? { expires_at: new Date(Date.now() + expiresInMs).toISOString() } : {}) }),
    list: async (all) => (await client.get<{ tokens: TokenView[] }>('/v1/tokens', all ? { include_revoked: 'true' } : {})).tokens,
    revoke: (id) => client.post(`/v1/tokens/${id}/revoke`),
    close: async () => undefined,
  };
}

function onDatabase(db: Db): Tokens {
  const actor = cliActor();
  const asCli = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof CausewayError) throw new CliError(EXIT.problem, e.message);
      throw e;
    }
  };
  return {
    create: (name, role, expiresInMs) =>
      asCli(async () => {
        const { token, row } = await createApiToken(db, { name, role, expiresInMs, actor });
        return { ...tokenJson(row), token };
      }),
    list: async (all) => (await listTokens(db, { includeRevoked: all })).map((t) => tokenJson(t)),
    revoke: (id) => asCli(async () => tokenJson(await revokeApiToken(db, id, { actor }))),
    close: () => db.close(),
  };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'tokens',
    argv,
    {
      name: { type: 'string' },
      role: { type: 'string' },
      'expires-in': { type: 'string' },
      all: { type: 'boolean' },
      database: { type: 'string' },
      json: { type: 'boolean' },
      ...HUB_OPTIONS,
    },
    { max: 2 },
  );
  const [sub, target] = positionals;
  if (values.help || sub === undefined) {
    process.stdout.write(HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (!['create', 'list', 'revoke'].includes(sub)) throw new UsageError(`unknown tokens command "${sub}"\nRun "causeway tokens --help" for its usage.`);
  // Check the whole command line before touching the hub.
  let role: Role | undefined;
  let expiresInMs: number | null = null;
  if (sub === 'create') {
    if (!values.name) throw new UsageError('causeway tokens create needs --name');
    if (!values.role || !isRole(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    role = values.role;
    if (values['expires-in'] !== undefined) {
      const ms = parseDuration(values['expires-in']);
      if (ms === undefined) throw new UsageError('--expires-in must be a duration such as 90d, 12h or 30m');
      expiresInMs = ms;
    }
  }
  if (sub === 'revoke' && target === undefined) throw new UsageError('causeway tokens revoke needs a token id or name');

  let tokens: Tokens;
  if (values.database !== undefined) {
    const db = await openDb(values.database);
    await migrate(db);
    tokens = onDatabase(db);
  } else {
    tokens = viaApi(new HubClient({ url: values.url, token: values.token }));
  }
  try {
    switch (sub) {
      case 'create': {
        const t = await tokens.create(values.name as string, role as Role, expiresInMs);
        if (values.json) printJson(t);
        else {
          print(`Created token ${t.id} "${t.name}" (${t.role}${t.expires_at ? `, expires ${time(t.expires_at)}` : ''}). It is shown this once:\n`);
          print(`    ${t.token}\n`);
        }
        return EXIT.ok;
      }
      case 'list': {
        const list = await tokens.list(values.all === true);
        if (values.json) printJson({ tokens: list });
        else if (list.length === 0) print('No tokens.');
        else
          process.stdout.write(
            table(list, [
              { header: 'id', value: (t) => t.id, right: true },
              { header: 'name', value: (t) => t.name },
              { header: 'role', value: (t) => t.role },
              { header: 'status', value: (t) => t.status },
              { header: 'created', value: (t) => time(t.created_at) },
              { header: 'expires', value: (t) => time(t.expires_at) },
              { header: 'last used', value: (t) => time(t.last_used_at) },
              { header: 'created by', value: (t) => t.created_by },
            ]),
          );
        return EXIT.ok;
      }
      default: {
        const arg = target as string;
        let id = /^\d+$/.test(arg) ? Number(arg) : undefined;
        if (id === undefined) {
          const match = (await tokens.list(false)).find((t) => t.name === arg);
          if (!match) throw new CliError(EXIT.problem, `no live token named ${arg}`);
          id = match.id;
        }
        const t = await tokens.revoke(id);
        if (values.json) printJson(t);
        else print(`Revoked token ${t.id} "${t.name}" (${t.role}).`);
        return EXIT.ok;
      }
    }
  } finally {
    await tokens.close();
  }
}

export const tokens: Command = { name: 'tokens', help: HELP, run };
