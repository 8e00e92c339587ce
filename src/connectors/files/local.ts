import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FileSystemError, type FileInfo, type FileSystem } from './fs.js';
import { relativePath } from './paths.js';

/** A folder on this machine (or a mount: NFS, SMB) as a FileSystem. */
export class LocalFileSystem implements FileSystem {
  constructor(private readonly root: string) {}

  private at(path: string): string {
    return join(this.root, relativePath(path));
  }

  async list(dir: string): Promise<FileInfo[]> {
    const entries = await readdir(this.at(dir), { withFileTypes: true }).catch((e: unknown) => {
      throw localError(e, `cannot list ${dir}`);
    });
    const out: FileInfo[] = [];
    for (const e of entries) {
      if (!e.isFile() && !e.isSymbolicLink()) continue;
      const info = await this.stat(join(dir, e.name));
      if (info) out.push(info);
    }
    return out;
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    try {
      const s = await stat(this.at(path));
      if (!s.isFile()) return undefined;
      return { name: path.split('/').pop() ?? path, size: s.size, mtimeMs: Math.floor(s.mtimeMs) };
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return undefined;
      throw localError(e, `cannot stat ${path}`);
    }
  }

  read(path: string, start: number): Readable {
    return createReadStream(this.at(path), { start, highWaterMark: 64 * 1024 });
  }

  async write(path: string, data: Buffer): Promise<void> {
    await writeFile(this.at(path), data).catch((e: unknown) => {
      throw localError(e, `cannot write ${path}`);
    });
  }

  async rename(from: string, to: string): Promise<void> {
    // rename(2) replaces the target atomically when both are on one file system, which they are: one root.
    await rename(this.at(from), this.at(to)).catch((e: unknown) => {
      throw localError(e, `cannot move ${from} to ${to}`);
    });
  }

  async mkdir(dir: string): Promise<void> {
    await mkdir(this.at(dir), { recursive: true }).catch((e: unknown) => {
      throw localError(e, `cannot create the folder ${dir}`);
    });
  }

  async remove(path: string): Promise<void> {
    await rm(this.at(path), { force: true }).catch((e: unknown) => {
      throw localError(e, `cannot delete ${path}`);
    });
  }
}

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

export function localError(e: unknown, what: string): FileSystemError {
  if (e instanceof FileSystemError) return e;
  const code = codeOf(e);
  const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FileSystemError('not_found', message, { cause: e });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new FileSystemError('permission_denied', message, { cause: e });
  return new FileSystemError('failed', message, { cause: e });
}
