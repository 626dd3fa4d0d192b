/**
 * The AMI builder's user data: installs the app's runtime, fetches the release's tarball through a
 * presigned URL and checks its sha256 against the artifact id, installs the app's production
 * dependencies when it has a lockfile, and a systemd unit that starts the app at boot. It ends by
 * powering the builder off: the signal the baker waits for before it takes the image. A step that
 * fails stops the script before that, so a broken build never becomes an image (the bake times out
 * instead and names the builder whose console output tells why).
 */
import { posix } from 'node:path';
import { toolError } from '../errors';
import { tarballHex } from '../infra/artifact-builder';

export interface BakeScriptProps {
  readonly app: string;
  readonly releaseId: string;
  readonly sha: string;
  /** `sha256:<hex>` of a tarball, or a Docker image id. */
  readonly artifactId: string;
  /** The app's directory inside the tarball, e.g. `examples/catalog`; `.` for the whole tree. */
  readonly appDir: string;
  /** The entry point, relative to appDir, e.g. `server.ts`. */
  readonly appEntry: string;
  /** Presigned GET URL of the published tarball. @default - none: nothing is fetched (a Docker image) */
  readonly downloadUrl?: string;
  /**
   * The app's environment beyond PORT and HOST: the contract's `<NAME>_TABLE` names (known at bake
   * time: a table's name derives from the app and the release id) and the region. @default - none
   */
  readonly env?: Readonly<Record<string, string>>;
}

const SCRIPT_HOME = '/opt/app';

export function bakeScript(p: BakeScriptProps): string {
  for (const [name, value] of [...Object.entries(p), ...Object.entries(p.env ?? {})]) {
    // Everything below is single-quoted for bash: a quote or a newline would end the quoting.
    if (typeof value === 'string' && /['\n\r]/.test(value)) throw toolError('BAKE_SCRIPT_UNSAFE', `${name} "${value}" contains a quote or a line break`);
  }
  for (const [name, value] of Object.entries(p.env ?? {})) {
    // one systemd Environment= assignment each: no spaces, quotes or backslashes to escape
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name) || /[\s"\\]/.test(value)) throw toolError('BAKE_SCRIPT_UNSAFE', `environment ${name}="${value}" cannot be written into a systemd unit as is`);
  }
  const appHome = posix.join(SCRIPT_HOME, p.appDir);
  const entry = posix.join(appHome, p.appEntry);
  const fetchArtifact = p.downloadUrl
    ? [
        `curl -fsS --retry 5 --retry-delay 3 -o /tmp/artifact.tar '${p.downloadUrl}'`,
        `echo '${hexOf(p.artifactId)}  /tmp/artifact.tar' | sha256sum -c -`,
        `tar -xf /tmp/artifact.tar -C ${SCRIPT_HOME}`,
        'rm -f /tmp/artifact.tar',
        `if [ -f '${appHome}/package-lock.json' ]; then (cd '${appHome}' && npm ci --omit=dev); fi`,
      ]
    : [];
  return [
    '#!/bin/bash',
    'set -euo pipefail',
    `# stackshift bake: ${p.app} ${p.releaseId} (${p.sha}), artifact ${p.artifactId}`,
    'dnf install -y nodejs20 tar || yum install -y nodejs tar',
    `mkdir -p ${SCRIPT_HOME}`,
    ...fetchArtifact,
    `echo '${p.artifactId}' > ${SCRIPT_HOME}/ARTIFACT`,
    `cat > /etc/systemd/system/${p.app}.service <<'UNIT'`,
    '[Unit]',
    `Description=${p.app} ${p.releaseId}`,
    'After=network-online.target',
    '[Service]',
    `WorkingDirectory=${appHome}`,
    `ExecStart=/usr/bin/node ${p.appEntry.endsWith('.ts') ? '--import tsx ' : ''}${entry}`,
    'Environment=PORT=80 HOST=0.0.0.0',
    ...Object.entries(p.env ?? {}).map(([name, value]) => `Environment=${name}=${value}`),
    'Restart=always',
    '[Install]',
    'WantedBy=multi-user.target',
    'UNIT',
    `systemctl enable ${p.app}.service`,
    '# Done: the baker takes the image once the builder has stopped.',
    'poweroff',
  ].join('\n');
}

function hexOf(artifactId: string): string {
  const hex = tarballHex(artifactId);
  if (!hex) throw toolError('BAKE_SCRIPT_UNSAFE', `artifact id "${artifactId}" is not the sha256 of a tarball, so it cannot be checked after download`);
  return hex;
}
