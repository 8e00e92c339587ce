import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { FileSystemError, type FileInfo, type FileSystem } from '../files/fs.js';
import { relativePath } from '../files/paths.js';

// SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7).
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

/** A folder on an SFTP server as a FileSystem; `root` is the system's base_path. */
export class SftpFileSystem implements FileSystem {
  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly root: string,
  ) {}

  private at(path: string): string {
    return posix.join(this.root, relativePath(path));
  }

  private call<T>(what: string, run: (done: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      try {
        run((err, value) => (err ? reject(sftpError(err, what)) : resolve(value as T)));
      } catch (e) {
        // ssh2 throws synchronously when the channel is already closed.
        reject(sftpError(e, what));
      }
    });
  }

  async list(dir: string): Promise<FileInfo[]> {
    const entries = await this.call<Array<{ filename: string; attrs: { size: number; mtime: number; isFile(): boolean } }>>(`cannot list ${dir}`, (done) =>
      this.sftp.readdir(this.at(dir), done),
    );
    return entries.filter((e) => e.attrs.isFile()).map((e) => ({ name: e.filename, size: e.attrs.size, mtimeMs: e.attrs.mtime * 1000 }));
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    try {
      const s = await this.call<{ size: number; mtime: number; isFile(): boolean }>(`cannot stat ${path}`, (done) => this.sftp.stat(this.at(path), done));
      return s.isFile() ? { name: posix.basename(path), size: s.size, mtimeMs: s.mtime * 1000 } : undefined;
    } catch (e) {
      if (e instanceof FileSystemError && e.code === 'not_found') return undefined;
      throw e;
    }
  }

  read(path: string, start: number): Readable {
    // ssh2 keeps several 64 KiB reads in flight: one round trip per chunk would make a far server slow.
    return this.sftp.createReadStream(this.at(path), { start, highWaterMark: 64 * 1024 });
  }

  async write(path: string, data: Buffer): Promise<void> {
    await this.call<void>(`cannot write ${path}`, (done) => this.sftp.writeFile(this.at(path), data, (err) => done(err)));
  }

  async rename(from: string, to: string): Promise<void> {
    const what = `cannot move ${from} to ${to}`;
    try {
      // posix-rename@openssh.com replaces the target in one step; plain SFTP v3 rename refuses an existing target.
      await this.call<void>(what, (done) => this.sftp.ext_openssh_rename(this.at(from), this.at(to), (err) => done(err)));
    } catch (e) {
      if (!(e instanceof FileSystemError && /not support/i.test(e.message))) throw e;
      await this.remove(to);
      await this.call<void>(what, (done) => this.sftp.rename(this.at(from), this.at(to), (err) => done(err)));
    }
  }

  async mkdir(dir: string): Promise<void> {
    const parts = relativePath(dir).split('/').filter((p) => p !== '.');
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      const exists = await this.call<{ isDirectory(): boolean }>(`cannot stat ${sub}`, (done) => this.sftp.stat(this.at(sub), done)).then(
        (s) => s.isDirectory(),
        (e: unknown) => {
          if (e instanceof FileSystemError && e.code === 'not_found') return false;
          throw e;
        },
      );
      if (!exists) {
        await this.call<void>(`cannot create the folder ${sub}`, (done) => this.sftp.mkdir(this.at(sub), (err) => done(err))).catch(async (e: unknown) => {
          // Another writer may have created it meanwhile.
          if (!(await this.isFolder(sub))) throw e;
        });
      }
    }
  }

  private async isFolder(path: string): Promise<boolean> {
    return this.call<{ isDirectory(): boolean }>('', (done) => this.sftp.stat(this.at(path), done)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  async remove(path: string): Promise<void> {
    await this.call<void>(`cannot delete ${path}`, (done) => this.sftp.unlink(this.at(path), (err) => done(err))).catch((e: unknown) => {
      if (!(e instanceof FileSystemError && e.code === 'not_found')) throw e;
    });
  }
}

export function sftpError(e: unknown, what: string): FileSystemError {
  if (e instanceof FileSystemError) return e;
  const code = (e as { code?: unknown } | undefined)?.code;
  const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  if (code === NO_SUCH_FILE) return new FileSystemError('not_found', message, { cause: e });
  if (code === PERMISSION_DENIED) return new FileSystemError('permission_denied', message, { cause: e });
  if (typeof code !== 'number') return new FileSystemError('unreachable', message, { cause: e });
  return new FileSystemError('failed', message, { cause: e });
}
