import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadProject } from '../../src/config/load.js';
import { tempProject } from '../helpers/project.js';

function problems(yaml: string, files: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) {
  const p = tempProject(yaml, files);
  try {
    loadProject(p.dir, env);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems;
  } finally {
    p.cleanup();
  }
}

const base = `version: 1
systems:
  shop:
    kind: webhook
    auth:
      api_key: \${env:SHOP_KEY}
    topics:
      orders:
        mapping: m.jsonata
`;

test('a valid project loads, env references resolve, the key is kept only as a hash', () => {
  const p = tempProject(base, { 'm.jsonata': '{"entity":"customer","external_id":id}' });
  try {
    const project = loadProject(p.dir, { SHOP_KEY: 'k'.repeat(20) });
    const shop = project.systems.get('shop');
    assert.ok(shop?.auth.apiKeyHash);
    assert.ok(!JSON.stringify([...project.systems.values()].map((s) => s.auth)).includes('k'.repeat(20)));
  } finally {
    p.cleanup();
  }
});

test('a missing environment variable names its line', () => {
  const found = problems(base, { 'm.jsonata': '{}' });
  assert.equal(found.length, 1);
  assert.equal(found[0]?.line, 6);
  assert.match(found[0]?.message ?? '', /SHOP_KEY is not set/);
});

test('defaults: ${env:NAME:-default}', () => {
  assert.deepEqual(problems(base.replace('${env:SHOP_KEY}', '${env:SHOP_KEY:-a-default-key-long-enough}'), { 'm.jsonata': '{}' }), []);
});

test('an unknown key names its line and the key', () => {
  const found = problems(base.replace('    kind: webhook', '    kind: webhook\n    colour: blue'), { 'm.jsonata': '{}' }, { SHOP_KEY: 'k'.repeat(20) });
  assert.equal(found[0]?.line, 5);
  assert.match(found[0]?.message ?? '', /unknown key "colour"/);
});

test('a mapping that does not compile names the mapping file and line', () => {
  const found = problems(base, { 'm.jsonata': '{\n  "a": b +\n}' }, { SHOP_KEY: 'k'.repeat(20) });
  assert.equal(found.length, 1);
  assert.match(found[0]?.file ?? '', /m\.jsonata$/);
  assert.equal(found[0]?.line, 3);
});

test('a missing mapping file, a path outside the project, YAML syntax, two owners', () => {
  assert.match(problems(base, {}, { SHOP_KEY: 'k'.repeat(20) })[0]?.message ?? '', /not found/);
  assert.match(problems(base.replace('m.jsonata', '../../etc/x.jsonata'), {}, { SHOP_KEY: 'k'.repeat(20) })[0]?.message ?? '', /outside the project/);
  const syntax = problems('version: 1\nsystems:\n  shop: [unclosed\n');
  assert.ok(syntax[0]?.line);
  const owners = problems(
    'version: 1\nsystems:\n  a:\n    kind: webhook\n    owns: [order]\n  b:\n    kind: webhook\n    owns: [order]\n',
  );
  assert.match(owners[0]?.message ?? '', /owned by both a and b/);
});

test('a system with topics but no way to authenticate is refused', () => {
  const found = problems(base.replace(/    auth:\n      api_key: .*\n/, ''), { 'm.jsonata': '{}' });
  assert.match(found[0]?.message ?? '', /no auth/);
});
