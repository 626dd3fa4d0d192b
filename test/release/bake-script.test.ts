import { describe, expect, it } from 'vitest';
import { bakeScript, type BakeScriptProps } from '../../lib/release/bake-script';
import { codeOf } from '../_helpers/rejection';

const hex = 'ab'.repeat(32);
const props: BakeScriptProps = {
  app: 'catalog',
  releaseId: 'sha-0123456789ab',
  sha: '0123456789ab'.padEnd(40, '0'),
  artifactId: `sha256:${hex}`,
  appDir: 'examples/catalog',
  appEntry: 'server.ts',
  downloadUrl: 'https://bucket.s3.amazonaws.com/catalog/artifacts/x.tar?X-Amz-Signature=abc&X-Amz-Expires=3600',
};

describe('bakeScript', () => {
  it('fetches the tarball, checks its sha256 before extracting it, installs the unit, and powers off last', () => {
    const lines = bakeScript(props).split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(lines[0]).toBe('#!/bin/bash');
    expect(lines).toContain('set -euo pipefail');
    expect(lines).toContain(`curl -fsS --retry 5 --retry-delay 3 -o /tmp/artifact.tar '${props.downloadUrl}'`);
    expect(lines).toContain(`echo '${hex}  /tmp/artifact.tar' | sha256sum -c -`);
    expect(at(/^curl /)).toBeLessThan(at(/sha256sum -c/));
    expect(at(/sha256sum -c/)).toBeLessThan(at(/^tar -xf/));
    expect(lines).toContain('ExecStart=/usr/bin/node --import tsx /opt/app/examples/catalog/server.ts');
    expect(lines).toContain('WorkingDirectory=/opt/app/examples/catalog');
    expect(lines.at(-1)).toBe('poweroff');
  });

  it('gives the app its contract: each table by name and the region, one Environment= line each', () => {
    const lines = bakeScript({ ...props, env: { PRODUCTS_TABLE: 'catalog-sha-0123456789ab-products', AWS_REGION: 'us-east-1' } }).split('\n');
    expect(lines).toContain('Environment=PRODUCTS_TABLE=catalog-sha-0123456789ab-products');
    expect(lines).toContain('Environment=AWS_REGION=us-east-1');
    expect(() => bakeScript({ ...props, env: { 'BAD NAME': 'x' } })).toThrow(/BAD NAME/);
    expect(() => bakeScript({ ...props, env: { OK: 'a b' } })).toThrow(/cannot be written into a systemd unit/);
  });

  it('fetches nothing without a download URL (a Docker image), and runs a .js entry with plain node', () => {
    const script = bakeScript({ ...props, downloadUrl: undefined, appEntry: 'server.js', artifactId: 'sha256:notahash' });
    expect(script).not.toContain('curl');
    expect(script).toContain('ExecStart=/usr/bin/node /opt/app/examples/catalog/server.js');
  });

  it.each([
    ['a quote in a value', { appDir: "it's" }],
    ['a line break in a value', { appEntry: 'server.ts\nrm -rf /' }],
    ['an artifact id that cannot be checked', { artifactId: 'sha256:abc' }],
  ])('refuses %s', async (_name, change) => {
    expect(await codeOf(Promise.resolve().then(() => bakeScript({ ...props, ...change })))).toBe('BAKE_SCRIPT_UNSAFE');
  });
});
