import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { test } from 'node:test';
import { Egress, EgressRefusedError, egressRefusal, parseAllowEntry } from '../../src/net/egress.js';
import { classifyIp, formatIp, parseIp } from '../../src/net/ip.js';

const rule = (text: string) => {
  const ip = parseIp(text);
  assert.ok(ip, `${text} parses`);
  return classifyIp(ip);
};

test('every spelling of an address is the same address', () => {
  for (const form of ['127.0.0.1', '127.1', '127.0.1', '2130706433', '0x7f000001', '0x7f.1', '0177.0.0.1', '017700000001']) {
    assert.equal(formatIp(parseIp(form)!), '127.0.0.1', form);
  }
  assert.equal(formatIp(parseIp('::ffff:127.0.0.1')!), '::ffff:7f00:1');
  assert.equal(formatIp(parseIp('[::1]')!), '::1');
  assert.equal(formatIp(parseIp('fe80::1%eth0')!), 'fe80::1');
  assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  for (const name of ['localhost', 'erp.example.com', '1.2.3.4.5', '256.1.1.1', '0x1g', '1..2', '::ffff:1.2.3', ':::1', '1:2:3:4:5:6:7:8:9']) {
    assert.equal(parseIp(name), undefined, name);
  }
});

test('non-public addresses are classified, public ones are not', () => {
  const cases: Array<[string, string | undefined]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'cloud metadata'],
    ['100.100.100.200', 'cloud metadata'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['fe80::1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    // IPv6 forms that carry an IPv4 address are judged as that address.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'cloud metadata'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    // Public.
    ['8.8.8.8', undefined],
    ['172.32.0.1', undefined],
    ['100.128.0.1', undefined],
    ['2606:4700::1111', undefined],
    ['::ffff:8.8.8.8', undefined],
  ];
  for (const [address, expected] of cases) assert.equal(rule(address), expected, address);
});

test('allow entries: addresses, networks, names, wildcards, ports', () => {
  for (const bad of ['10.0.0.0/33', 'erp.example.com:http', 'host:70000', '1.2.3.4.5', 'bad name', '*.', '::1:5432x']) {
    assert.equal(typeof parseAllowEntry(bad), 'string', bad);
  }
  assert.throws(() => new Egress({ allow: ['10.0.0.0/33'] }), /egress\.allow/);
  const egress = new Egress({ allow: ['127.0.0.1', '10.1.2.0/24', 'erp.internal:8443', '*.corp.example', '[::1]:5432'] });
  assert.equal(egress.checkHost('127.0.0.1', 80), '127.0.0.1');
  assert.equal(egress.checkHost('2130706433', 80), '127.0.0.1', 'a listed address in any spelling');
  assert.equal(egress.checkHost('::ffff:127.0.0.1', 80), '::ffff:7f00:1', 'and as IPv4-mapped IPv6');
  assert.equal(egress.checkHost('10.1.2.200', 80), '10.1.2.200');
  assert.throws(() => egress.checkHost('10.1.3.1', 80), /10\.1\.3\.1.*private/);
  assert.equal(egress.checkHost('::1', 5432), '::1');
  assert.throws(() => egress.checkHost('::1', 5433), /::1 port 5433 is a loopback address/);
  assert.throws(() => egress.checkHost('127.0.0.2', 80), EgressRefusedError);
  assert.equal(egress.judge('erp.internal', parseIp('10.9.9.9')!, 8443), undefined, 'a listed name may resolve to a private address');
  assert.ok(egress.judge('erp.internal', parseIp('10.9.9.9')!, 443), 'but only on its port');
  assert.equal(egress.judge('a.b.corp.example', parseIp('192.168.0.7')!, 22), undefined);
  assert.ok(egress.judge('corp.example.evil', parseIp('192.168.0.7')!, 22));
  assert.equal(egress.judge('api.example.com', parseIp('93.184.216.34')!, 443), undefined, 'public addresses are allowed by default');
  const strict = new Egress({ allow: ['api.example.com'], allow_public: false });
  assert.match(strict.judge('other.example.com', parseIp('93.184.216.34')!, 443)?.message ?? '', /not in egress\.allow/);
  assert.equal(strict.judge('api.example.com', parseIp('93.184.216.34')!, 443), undefined);
});

test('cloud metadata names are refused before any lookup', () => {
  const egress = new Egress();
  for (const name of ['metadata.google.internal', 'METADATA.google.internal.', 'metadata', 'instance-data']) {
    assert.throws(() => egress.checkHost(name, 80), /cloud metadata host name/, name);
  }
  assert.equal(new Egress({ allow: ['metadata.google.internal'] }).checkHost('metadata.google.internal', 80), undefined);
});

test('the resolver hook judges every address a name resolves to', async () => {
  const lookup = (egress: Egress, name: string) =>
    new Promise<{ err: Error | null; addresses: LookupAddress[] }>((resolve) =>
      egress.lookupFor(80)(name, { all: true }, (err, addresses) => resolve({ err, addresses: addresses as LookupAddress[] })),
    );
  const refused = await lookup(new Egress(), 'localhost');
  assert.ok(refused.err instanceof EgressRefusedError);
  assert.match(refused.err.message, /^egress refused: localhost \((127\.0\.0\.1|::1)\) port 80 is a loopback address/);
  // Only the allowed addresses are handed to the socket: with 127.0.0.1 listed, never ::1.
  const allowed = await lookup(new Egress({ allow: ['127.0.0.1'] }), 'localhost');
  assert.equal(allowed.err, null);
  assert.deepEqual(allowed.addresses.map((a) => a.address), ['127.0.0.1']);
  await assert.rejects(new Egress().resolve('localhost', 5432), EgressRefusedError);
  assert.equal(await new Egress({ allow: ['127.0.0.0/8'] }).resolve('0x7f000001', 5432), '127.0.0.1');
});

test('a refusal is found through the wrappers libraries put around it', () => {
  const e = new EgressRefusedError('10.0.0.1', '10.0.0.1', 'private', 5432);
  assert.equal(egressRefusal(new Error('outer', { cause: new Error('middle', { cause: e }) })), e);
  assert.equal(egressRefusal(new AggregateError([new Error('x'), e])), e);
  assert.equal(egressRefusal(new Error('ECONNREFUSED')), undefined);
});
