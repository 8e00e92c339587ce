import { Type, type Static } from '@sinclair/typebox';
import { fileManifest } from '../files/manifest.js';

/** The `sftp` connector's config; its source and action are the file family's (files/manifest.ts). */
export const SftpConfig = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'default 22' })),
    username: Type.String({ minLength: 1 }),
    password: Type.Optional(Type.String({ minLength: 1 })),
    private_key: Type.Optional(Type.String({ minLength: 1, description: 'the private key itself (OpenSSH or PEM), e.g. ${env:ERP_SFTP_KEY}' })),
    private_key_path: Type.Optional(Type.String({ minLength: 1, description: 'or a file holding it (a mounted secret)' })),
    passphrase: Type.Optional(Type.String({ minLength: 1, description: 'for an encrypted private key' })),
    host_fingerprint: Type.Optional(
      Type.String({
        pattern: '^SHA256:[A-Za-z0-9+/]{43}=?$',
        description: 'the server host key as `ssh-keygen -lf` prints it; without it any host key is accepted (and logged): set it',
      }),
    ),
    base_path: Type.Optional(Type.String({ minLength: 1, description: 'the root for every path of this system (default: the login folder)' })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'connect and handshake limit (default 10000)' })),
  },
  {
    additionalProperties: false,
    // Checked at load: a system with no way to log in is a config mistake, not a runtime one.
    anyOf: [{ required: ['password'] }, { required: ['private_key'] }, { required: ['private_key_path'] }],
  },
);
export type SftpConfig = Static<typeof SftpConfig>;

export const manifest = fileManifest(
  'sftp',
  'Files on an SFTP server: takes dropped csv, jsonl and xml files record by record; writes files atomically.',
  SftpConfig,
  ['password', 'private_key', 'passphrase'],
);
