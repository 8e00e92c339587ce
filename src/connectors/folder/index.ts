import { isAbsolute } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { checker } from '../http/validate.js';
import { checkProblem, fileConnector, type FileBackend } from '../files/connector.js';
import { LocalFileSystem } from '../files/local.js';
import { fileManifest } from '../files/manifest.js';
import { PermanentError, type CheckResult, type Connector } from '../types.js';

/**
 * The `folder` connector: a folder on the hub's machine (or a mounted share)
 * as a file drop. The same `drop` source and `write` action as `sftp`.
 */
const FolderConfig = Type.Object(
  { path: Type.String({ pattern: '^(/|[A-Za-z]:[\\\\/])', description: 'an absolute folder path; source and action paths are relative to it' }) },
  { additionalProperties: false },
);
type FolderConfig = Static<typeof FolderConfig>;
const parseConfig = checker(FolderConfig, 'the folder system config');

function open(config: Record<string, unknown>): LocalFileSystem {
  const { path } = parseConfig(config) as FolderConfig;
  if (!isAbsolute(path)) throw new PermanentError(`config.path must be absolute, not ${JSON.stringify(path)}: the hub's working folder is no anchor`);
  return new LocalFileSystem(path);
}

const backend: FileBackend = {
  use: (_system, config, _signal, _log, _egress, fn) => fn(open(config)),
  async check(ctx): Promise<CheckResult> {
    let fs: LocalFileSystem;
    try {
      fs = open(ctx.config);
    } catch (e) {
      return { ok: false, problem: 'misconfigured', message: e instanceof Error ? e.message : String(e) };
    }
    try {
      const files = await fs.list('.');
      return { ok: true, message: `${String(ctx.config['path'])} is readable (${files.length} file(s))` };
    } catch (e) {
      return checkProblem(e);
    }
  },
  where: (config) => String(config['path'] ?? ''),
  close: async () => undefined,
};

export const folderConnector: Connector = fileConnector(
  fileManifest('folder', 'Files in a local (or mounted) folder: takes dropped csv, jsonl and xml files record by record; writes files atomically.', FolderConfig, []),
  backend,
);
