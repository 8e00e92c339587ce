import type { Readable } from 'node:stream';

/**
 * The little a file connector needs from a file system: the `sftp` and
 * `folder` kinds each implement it, and everything else (the `drop` source,
 * the `write` action, the format readers) is written once against it.
 *
 * Paths are POSIX, relative to the system's root (`base_path` on SFTP,
 * `path` for a local folder); an implementation refuses a path that leaves
 * its root.
 */
export interface FileInfo {
  /** The name inside its folder, no slashes. */
  name: string;
  size: number;
  /** Modification time in ms since the epoch (whole seconds on SFTP v3). */
  mtimeMs: number;
}

export interface FileSystem {
  /** Regular files directly in `dir` (not recursive, no folders or links to folders). */
  list(dir: string): Promise<FileInfo[]>;
  /** The file's size and mtime; undefined when there is no such file. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** The bytes of `path` from byte `start` to the end, as a stream (destroy it to stop early). */
  read(path: string, start: number): Readable;
  /** Creates or truncates `path` and writes `data` (use `writeAtomic` for anything a reader may see). */
  write(path: string, data: Buffer): Promise<void>;
  /** Moves `from` to `to` in one step, replacing `to` if it exists. */
  rename(from: string, to: string): Promise<void>;
  /** Creates `dir` and its parents; nothing happens when it exists. */
  mkdir(dir: string): Promise<void>;
  /** Deletes a file; nothing happens when it is already gone. */
  remove(path: string): Promise<void>;
}

/** Why a file operation failed, as a closed set: the connector turns it into a retry decision or a check result. */
export const FILE_ERROR_CODES = ['not_found', 'permission_denied', 'auth_failed', 'host_key_mismatch', 'unreachable', 'invalid_path', 'failed'] as const;
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

export class FileSystemError extends Error {
  readonly code: FileErrorCode;
  constructor(code: FileErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FileSystemError';
    this.code = code;
  }
}
