import { createHash } from 'node:crypto';
import type { Egress } from '../../net/egress.js';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import { FileSystemError } from '../files/fs.js';
import type { SftpConfig } from './manifest.js';
import { SftpFileSystem } from './sftp-fs.js';

/** One SSH connection with its SFTP channel. */
export interface SftpSession {
  fs: SftpFileSystem;
  /** True once the connection has ended (the pool then opens a new one). */
  readonly closed: boolean;
  end(): void;
}

/** `SHA256:<base64, no padding>`, the form `ssh-keygen -lf` and `ssh` print. */
export function fingerprint(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Connects, checks the host key, authenticates and opens the SFTP channel.
 * Every failure is a FileSystemError whose code says whose move it is:
 * `auth_failed` (credentials), `host_key_mismatch` (a different server, or
 * a re-keyed one: confirm and update host_fingerprint), `unreachable`.
 */
export async function connectSftp(config: SftpConfig, log: Logger, egress: Egress, signal?: AbortSignal): Promise<SftpSession> {
  let privateKey: string | Buffer | undefined = config.private_key;
  if (privateKey === undefined && config.private_key_path !== undefined) {
    privateKey = await readFile(config.private_key_path).catch((e: unknown) => {
      throw new FileSystemError('not_found', `cannot read private_key_path ${config.private_key_path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    });
  }
  const target = `${config.username}@${config.host}:${config.port ?? 22}`;
  // Resolved once and judged by the egress policy; ssh2 connects to that address (the host key, not the name, proves the server).
  const address = await egress.resolve(config.host, config.port ?? 22).catch((e: unknown) => {
    throw new FileSystemError('unreachable', `cannot connect to ${target}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  });
  const client = new ssh2.Client();
  let refusedKey: string | undefined;
  let closed = false;
  client.on('close', () => {
    closed = true;
  });
  // After the handshake a reset connection still emits 'error': without a listener it would end the process.
  client.on('error', (err: Error) => {
    if (!closed) log.debug({ host: config.host, err: err.message }, 'sftp connection failed');
    closed = true;
  });

  const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => {
    const onAbort = () => {
      client.end();
      reject(new FileSystemError('unreachable', `connecting to ${target} was cancelled`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal?.removeEventListener('abort', onAbort);
    client.once('ready', () => {
      client.sftp((err, channel) => {
        settle();
        if (err) {
          client.end();
          reject(new FileSystemError('permission_denied', `${target} refused the sftp subsystem: ${err.message}`, { cause: err }));
        } else {
          channel.on('error', () => client.end());
          resolve(channel);
        }
      });
    });
    client.once('error', (err: Error & { level?: string }) => {
      settle();
      client.end();
      if (refusedKey !== undefined) {
        reject(new FileSystemError('host_key_mismatch', `${target} presented host key ${refusedKey}, not host_fingerprint ${config.host_fingerprint}`, { cause: err }));
      } else if (err.level === 'client-authentication') {
        reject(new FileSystemError('auth_failed', `${target} refused the credentials: ${err.message}`, { cause: err }));
      } else {
        reject(new FileSystemError('unreachable', `cannot connect to ${target}: ${err.message}`, { cause: err }));
      }
    });
    client.connect({
      host: address,
      port: config.port ?? 22,
      username: config.username,
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(privateKey === undefined ? {} : { privateKey }),
      ...(config.passphrase === undefined ? {} : { passphrase: config.passphrase }),
      readyTimeout: config.timeout_ms ?? 10_000,
      // Finds a dead connection in the pool within ~45 s instead of at the next TCP timeout.
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        const seen = fingerprint(key);
        if (config.host_fingerprint === undefined) {
          log.warn({ host: config.host, host_fingerprint: seen }, 'sftp: no host_fingerprint configured, accepting the host key unchecked; set host_fingerprint to this value once confirmed');
          return true;
        }
        if (seen === config.host_fingerprint.replace(/=+$/, '')) return true;
        refusedKey = seen;
        return false;
      },
    });
  });
  return {
    fs: new SftpFileSystem(sftp, config.base_path ?? '.'),
    get closed() {
      return closed;
    },
    end: () => client.end(),
  };
}
