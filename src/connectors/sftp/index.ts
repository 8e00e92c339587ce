import { checker } from '../http/validate.js';
import { checkProblem, fileConnector, type FileBackend } from '../files/connector.js';
import type { CheckResult, Connector } from '../types.js';
import { manifest, SftpConfig } from './manifest.js';
import { SftpPool } from './pool.js';
import { connectSftp } from './session.js';

/**
 * The `sftp` connector: a folder on an SFTP server as a file drop (the
 * `drop` source) and a place to write files (the `write` action). Built on
 * ssh2; see files/ for everything that is not about the connection.
 */
const parseConfig = checker(SftpConfig, 'the sftp system config');
const pool = new SftpPool();

const backend: FileBackend = {
  use: (system, config, signal, log, egress, fn) => pool.use(system, parseConfig(config), log, signal, egress, fn),
  async check(ctx): Promise<CheckResult> {
    let config: SftpConfig;
    try {
      config = parseConfig(ctx.config);
    } catch (e) {
      return { ok: false, problem: 'misconfigured', message: e instanceof Error ? e.message : String(e) };
    }
    let session;
    try {
      session = await connectSftp(config, ctx.log, ctx.egress, ctx.signal);
      const files = await session.fs.list('.');
      return { ok: true, message: `${backend.where(ctx.config)} is readable (${files.length} file(s))` };
    } catch (e) {
      return checkProblem(e);
    } finally {
      session?.end();
    }
  },
  where: (config) => `sftp://${String(config['host'])}:${String(config['port'] ?? 22)}/${String(config['base_path'] ?? '').replace(/^\//, '')}`,
  close: () => pool.close(),
};

export const sftpConnector: Connector = fileConnector(manifest, backend);
