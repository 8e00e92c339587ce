/**
 * One permission per action, and the roles that hold them. Every route of
 * the management API declares the one permission it needs
 * (`config: { permission: 'deliveries.replay' }`); the request hook in
 * src/api/server.ts checks it, and refuses any non-public route that
 * declares none. This file is the whole policy: read it to know who may do
 * what.
 */
export const PERMISSIONS = [
  // Who am I (every signed-in caller).
  'me.read',
  // Canonical records, their history, cross-references and sync state.
  'records.read',
  // See personal-data fields unmasked (viewers see them masked).
  'records.read_personal',
  // Upsert canonical records through the API.
  'records.write',
  // Inbound messages (raw bodies) and re-running a failed one.
  'inbox.read',
  'inbox.retry',
  // Deliveries, attempts, dead letters; replay and re-running a flow.
  'deliveries.read',
  'deliveries.replay',
  // Backfills: list and progress; start, pause and resume.
  'backfills.read',
  'backfills.write',
  // Systems and flows with their health; the dashboard's stream of what moved.
  'status.read',
  'activity.read',
  // Business reports (the dashboard's figures).
  'reports.read',
  // Changing the project configuration.
  'config.write',
  // API tokens: create, list, revoke.
  'tokens.manage',
  // The encrypted secret store (values are never readable through the API).
  'secrets.manage',
  // The audit log.
  'audit.read',
  // Erasing a customer's personal data everywhere.
  'erasure.execute',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

export function isPermission(s: string): s is Permission {
  return (PERMISSIONS as readonly string[]).includes(s);
}

const VIEWER: readonly Permission[] = ['me.read', 'records.read', 'deliveries.read', 'backfills.read', 'status.read', 'activity.read', 'reports.read'];

const OPERATOR: readonly Permission[] = [
  ...VIEWER,
  'records.read_personal',
  'inbox.read',
  'inbox.retry',
  'deliveries.replay',
  'backfills.write',
];

/**
 * viewer: reads, personal data masked, no raw inbound bodies.
 * operator: runs the hub day to day — reads data, replays, backfills.
 * admin: configures — everything, including tokens, secrets, erasure and the audit log.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  viewer: new Set(VIEWER),
  operator: new Set(OPERATOR),
  admin: new Set(PERMISSIONS),
};
