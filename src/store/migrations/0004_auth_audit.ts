/**
 * People and automation reach the management API with API tokens (only a
 * hash is stored), and every sensitive action leaves a row in the audit log.
 *
 * The audit log is append-only: the code has no UPDATE or DELETE for it, and
 * the database itself refuses both (a trigger on each dialect), so a bug or
 * a hand-written query cannot quietly rewrite history. Dropping the table
 * remains possible for whoever owns the database; that is out of our reach.
 */
const tables = (id: string, bigint: string) => `
CREATE TABLE api_tokens (
  id            ${id},
  name          TEXT NOT NULL,
  role          TEXT NOT NULL,
  token_hash    TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  created_at    ${bigint} NOT NULL,
  expires_at    ${bigint},
  revoked_at    ${bigint},
  last_used_at  ${bigint}
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
-- A name identifies one live token (a revoked name can be reused).
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
  id            ${id},
  at            ${bigint} NOT NULL,
  actor         TEXT NOT NULL,
  action        TEXT NOT NULL,
  target        TEXT,
  detail        TEXT,
  ip            TEXT,
  user_agent    TEXT
);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_at ON audit_log (at);
`;

const sqlite = `${tables('INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER')}
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`;

const postgres = `${tables('BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', 'BIGINT')}
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
`;

export default { id: 4, name: 'auth_audit', sqlite, postgres };
