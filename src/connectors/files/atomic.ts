import { randomBytes } from 'node:crypto';
import type { FileSystem } from './fs.js';
import { baseName, folderOf, relativePath } from './paths.js';

/**
 * Writes a file so that no reader ever sees it half-written: the bytes go to
 * a temporary name in the same folder (a dot name, which pickup patterns
 * skip), then one rename puts them in place, replacing an older version.
 * Same folder, because a rename is only atomic within one file system.
 */
export async function writeAtomic(fs: FileSystem, path: string, data: Buffer): Promise<void> {
  const folder = folderOf(path);
  const temp = relativePath(folder, `.${baseName(path)}.${randomBytes(6).toString('hex')}.tmp`);
  if (folder !== '.') await fs.mkdir(folder);
  try {
    await fs.write(temp, data);
    await fs.rename(temp, path);
  } catch (e) {
    await fs.remove(temp).catch(() => undefined);
    throw e;
  }
}
