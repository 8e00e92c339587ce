import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { classifyIp, embeddedIpv4, formatIp, inCidr, parseCidr, parseIp, type AddressRule, type Cidr, type IpAddress } from './ip.js';

/**
 * Egress control: where the hub may open connections. Every connector that
 * opens a socket asks its `Egress` — at connect time, on the address the
 * socket will really use (a resolver hook validates every address a name
 * resolves to, so DNS rebinding has no second lookup to exploit). By default
 * public addresses are allowed and loopback, private, link-local, CGNAT,
 * unique-local, metadata and other non-public addresses are refused; the
 * project's `egress.allow` list opens exactly what it names. See
 * docs/causeway-yaml.md (`egress`) and docs/security.md.
 */

export interface EgressFile {
  allow?: string[] | undefined;
  allow_public?: boolean | undefined;
}

/** Names that reach a cloud provider's instance metadata service (credentials!) whatever their address. */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
  'metadata.packet.net',
]);

/** A connection the project does not allow. Always permanent: no retry reaches a different verdict. */
export class EgressRefusedError extends Error {
  readonly code = 'EGRESS_REFUSED';
  constructor(
    readonly host: string,
    readonly address: string | undefined,
    readonly rule: AddressRule | 'cloud metadata name' | 'not in egress.allow',
    port: number | undefined,
  ) {
    const where = `${host}${address && address !== host ? ` (${address})` : ''}${port ? ` port ${port}` : ''}`;
    const why =
      rule === 'not in egress.allow'
        ? 'is not in egress.allow (egress.allow_public is false)'
        : rule === 'cloud metadata name'
          ? 'is a cloud metadata host name'
          : `is a ${rule} address`;
    super(`egress refused: ${where} ${why}; list it under egress.allow in causeway.yaml to allow it`);
    this.name = 'EgressRefusedError';
  }
}

/** True for an egress refusal anywhere in an error's cause chain (libraries wrap socket errors). */
export function egressRefusal(e: unknown): EgressRefusedError | undefined {
  for (let c: unknown = e, i = 0; c && i < 8; c = (c as { cause?: unknown }).cause, i++) {
    if (c instanceof EgressRefusedError) return c;
    if (typeof c === 'object' && (c as { code?: unknown }).code === 'EGRESS_REFUSED') return c as EgressRefusedError;
    // AggregateError from happy-eyeballs connects.
    const errors = (c as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const x of errors) if (x instanceof EgressRefusedError) return x;
  }
  return undefined;
}

interface AllowEntry {
  text: string;
  port: number | undefined;
  cidr?: Cidr;
  /** Lowercase name, or `.example.com` for `*.example.com`. */
  name?: string;
}

/** `host`, `host:port`, `*.domain`, `10.0.0.0/8`, `10.0.0.0/8:5432`, `::1`, `[::1]:5432`, `fd00::/8`. */
export function parseAllowEntry(text: string): AllowEntry | string {
  const t = text.trim();
  let host = t;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if ((t.match(/:/g) ?? []).length === 1) {
    const i = t.lastIndexOf(':');
    host = t.slice(0, i);
    if (!/^\d{1,5}$/.test(t.slice(i + 1))) return `"${text}": the port must be a number`;
    port = Number(t.slice(i + 1));
  }
  if (port !== undefined && (port < 1 || port > 65_535)) return `"${text}": the port must be 1..65535`;
  const cidr = parseCidr(host);
  if (cidr) return { text, port, cidr };
  if (host.includes('/') || /^[\d.]+$/.test(host) || host.includes(':')) return `"${text}": not an address, a network (10.0.0.0/8) or a host name`;
  const name = host.toLowerCase().replace(/\.$/, '');
  if (/^\*\.[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(name)) return { text, port, name: name.slice(1) };
  if (/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(name)) return { text, port, name };
  return `"${text}": not an address, a network (10.0.0.0/8) or a host name`;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** The `lookup` option of net.connect / tls.connect. */
export type LookupFunction = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

export class Egress {
  private readonly entries: AllowEntry[];
  private readonly allowPublic: boolean;
  /** Identifies the policy, for pools keyed by it. */
  readonly key: string;

  constructor(file: EgressFile = {}) {
    const parsed = (file.allow ?? []).map(parseAllowEntry);
    const bad = parsed.filter((p): p is string => typeof p === 'string');
    if (bad.length) throw new Error(`egress.allow: ${bad.join('; ')}`);
    this.entries = parsed as AllowEntry[];
    this.allowPublic = file.allow_public ?? true;
    this.key = JSON.stringify([file.allow ?? [], this.allowPublic]);
  }

  private allowedByName(host: string, port: number | undefined): boolean {
    const name = host.toLowerCase().replace(/\.$/, '');
    return this.entries.some(
      (e) => e.name !== undefined && (e.port === undefined || e.port === port) && (e.name.startsWith('.') ? name.endsWith(e.name) : name === e.name),
    );
  }

  private allowedByAddress(ip: IpAddress, port: number | undefined): boolean {
    const inner = embeddedIpv4(ip);
    return this.entries.some((e) => e.cidr !== undefined && (e.port === undefined || e.port === port) && (inCidr(ip, e.cidr) || (inner !== undefined && inCidr(inner, e.cidr))));
  }

  /** The verdict on connecting to `address` (which `host` resolved to, or is). */
  judge(host: string, address: IpAddress, port: number | undefined): EgressRefusedError | undefined {
    if (this.allowedByName(host, port) || this.allowedByAddress(address, port)) return undefined;
    const text = formatIp(address);
    if (METADATA_NAMES.has(host.toLowerCase().replace(/\.$/, ''))) return new EgressRefusedError(host, text, 'cloud metadata name', port);
    const rule = classifyIp(address);
    if (rule) return new EgressRefusedError(host, text, rule, port);
    return this.allowPublic ? undefined : new EgressRefusedError(host, text, 'not in egress.allow', port);
  }

  /**
   * Checks what can be checked without DNS: an IP literal in any spelling
   * (returned in canonical form, so no resolver sees `2130706433`), or a
   * metadata host name. Throws EgressRefusedError; returns undefined for a
   * name, which the resolver hook checks at connect time.
   */
  checkHost(host: string, port: number | undefined): string | undefined {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const ip = parseIp(bare);
    if (ip) {
      const refused = this.judge(bare, ip, port);
      if (refused) throw refused;
      return formatIp(ip);
    }
    const name = bare.toLowerCase().replace(/\.$/, '');
    if (METADATA_NAMES.has(name) && !this.allowedByName(name, port)) throw new EgressRefusedError(bare, undefined, 'cloud metadata name', port);
    return undefined;
  }

  /**
   * A resolver for net/tls `lookup`: resolves, keeps only the addresses this
   * policy allows (every one is judged), and fails with the refusal when
   * none is left. The socket connects to what this returns: no second lookup.
   */
  lookupFor(port: number | undefined): LookupFunction {
    return (hostname, options, callback) => {
      const refusedEarly = (() => {
        try {
          this.checkHost(hostname, port);
          return undefined;
        } catch (e) {
          return e as EgressRefusedError;
        }
      })();
      if (refusedEarly) return void callback(refusedEarly, options.all ? [] : '', 4);
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, options.all ? [] : '', 4);
        const list = addresses as LookupAddress[];
        let first: EgressRefusedError | undefined;
        const allowed = list.filter((a) => {
          const ip = parseIp(a.address);
          const refused = ip ? this.judge(hostname, ip, port) : new EgressRefusedError(hostname, a.address, 'reserved', port);
          first ??= refused;
          return refused === undefined;
        });
        if (allowed.length === 0) {
          const e = first ?? Object.assign(new Error(`${hostname} did not resolve`), { code: 'ENOTFOUND' });
          return callback(e, options.all ? [] : '', 4);
        }
        if (options.all) callback(null, allowed);
        else callback(null, allowed[0]!.address, allowed[0]!.family);
      });
    };
  }

  /**
   * Resolves a host to one allowed address, for libraries without a
   * resolver or socket hook: the caller connects to that address (and keeps
   * the name for TLS), so nothing resolves the name a second time.
   */
  resolve(host: string, port: number | undefined): Promise<string> {
    const literal = this.checkHost(host, port);
    if (literal !== undefined) return Promise.resolve(literal);
    return new Promise((resolve, reject) => {
      this.lookupFor(port)(host, { all: true }, (err, addresses) => {
        if (err) return reject(err);
        resolve((addresses as LookupAddress[])[0]!.address);
      });
    });
  }

  /**
   * net.connect under this policy: an IP literal is checked here (Node does
   * not call `lookup` for one), a name by the resolver hook. A refused
   * connection is a socket that fails with EgressRefusedError, the way a
   * library expects a failed connect to look.
   */
  connect(options: { host: string; port: number } & Omit<net.TcpNetConnectOpts, 'host' | 'port' | 'lookup'>): net.Socket {
    let literal: string | undefined;
    try {
      literal = this.checkHost(options.host, options.port);
    } catch (e) {
      const socket = new net.Socket();
      process.nextTick(() => socket.destroy(e as Error));
      return socket;
    }
    return net.connect({ ...options, host: literal ?? options.host, lookup: this.lookupFor(options.port) });
  }

  /**
   * tls.connect under this policy, like `connect`; the certificate is
   * checked against the configured host name (or `servername`), not the
   * address it resolved to.
   */
  connectTls(options: { host: string; port: number } & Omit<tls.ConnectionOptions, 'host' | 'port' | 'lookup' | 'socket'>): tls.TLSSocket {
    let literal: string | undefined;
    try {
      literal = this.checkHost(options.host, options.port);
    } catch (e) {
      const socket = new tls.TLSSocket(new net.Socket());
      process.nextTick(() => socket.destroy(e as Error));
      return socket;
    }
    const servername = options.servername ?? (literal === undefined ? options.host : undefined);
    return tls.connect({ ...options, host: literal ?? options.host, ...(servername ? { servername } : {}), lookup: this.lookupFor(options.port) });
  }

  /**
   * An unconnected socket whose `connect(port, host)` goes through this
   * policy: for libraries that take a socket factory and connect it
   * themselves (node-postgres' `stream`).
   */
  socket(): net.Socket {
    const socket = new net.Socket();
    const connect = socket.connect.bind(socket) as (o: net.TcpSocketConnectOpts) => net.Socket;
    const policy = this;
    (socket as unknown as { connect: (...args: unknown[]) => net.Socket }).connect = function (port: unknown, host?: unknown) {
      // node-postgres passes a Unix socket path as the "port": local IPC, not a network destination.
      if (typeof port === 'string' && !/^\d+$/.test(port)) return connect({ path: port } as unknown as net.TcpSocketConnectOpts);
      const p = Number(port);
      const h = typeof host === 'string' ? host : 'localhost';
      let literal: string | undefined;
      try {
        literal = policy.checkHost(h, p);
      } catch (e) {
        process.nextTick(() => socket.destroy(e as Error));
        return socket;
      }
      return connect({ port: p, host: literal ?? h, lookup: policy.lookupFor(p) });
    };
    return socket;
  }
}

/** The policy of a project without an `egress` section: public addresses only. */
export const DEFAULT_EGRESS = new Egress();
