import { posix } from 'node:path';
import { FileSystemError } from './fs.js';

/**
 * Paths inside a file system's root. Everything the project configures or a
 * template fills is relative to the root; `..` that would leave it is
 * refused rather than resolved, so a record's field can never name
 * `/etc/passwd`.
 */
export function relativePath(...parts: string[]): string {
  const joined = posix.normalize(posix.join('.', ...parts.map((p) => p.replace(/\\/g, '/'))));
  if (joined === '..' || joined.startsWith('../') || posix.isAbsolute(joined)) {
    throw new FileSystemError('invalid_path', `${JSON.stringify(parts.join('/'))} leaves the root folder`);
  }
  return joined === '' ? '.' : joined.replace(/\/$/, '');
}

/** The folder a relative path is in ('.' for the root). */
export function folderOf(path: string): string {
  return posix.dirname(path);
}

export function baseName(path: string): string {
  return posix.basename(path);
}

/**
 * A file-name glob as a RegExp: `*` any run of characters but `/`, `?` one
 * character, `[abc]` / `[!abc]` a set, `{csv,txt}` alternatives. Matching is
 * on the name only, case-sensitive (as on the SFTP servers ERPs drop on).
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let inGroup = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let set = glob.slice(i + 1, end);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        re += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '{' && !inGroup) {
      inGroup = true;
      re += '(?:';
    } else if (c === '}' && inGroup) {
      inGroup = false;
      re += ')';
    } else if (c === ',' && inGroup) re += '|';
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  if (inGroup) throw new FileSystemError('invalid_path', `the pattern ${JSON.stringify(glob)} has an unclosed {`);
  return new RegExp(`^${re}$`);
}
