/**
 * The secrets store: connector credentials and OAuth tokens, each value an
 * AES-256-GCM envelope (src/secrets/envelope.ts) bound to its owner and name.
 * `key_id` repeats the envelope's key id so a rotation finds the values still
 * under an old key through an index instead of decrypting every row.
 *
 * owner: `hub` (any system may reference it), `system:<name>` (only that
 * system), or `oauth:<name>` (tokens the hub obtained for that system).
 */
const common = (bigint: string) => `
CREATE TABLE secrets (
  owner         TEXT NOT NULL,
  name          TEXT NOT NULL,
  ciphertext    TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  created_at    ${bigint} NOT NULL,
  updated_at    ${bigint} NOT NULL,
  PRIMARY KEY (owner, name)
);
CREATE INDEX secrets_key ON secrets (key_id);
`;

export default {
  id: 5,
  name: 'secrets',
  sqlite: common('INTEGER'),
  postgres: common('BIGINT'),
};
