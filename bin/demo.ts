/**
 * The main job on local AWS (no account needed): start moto and DynamoDB Local on 127.0.0.1,
 * bootstrap, deploy the example app's EdgeStack and one ReleaseStack through the CDK toolkit, and
 * print their outputs. `--json` prints the outputs as one JSON object on the last line.
 * Later issues grow this into the full release → promote → rollback demo under traffic.
 */
import { createHash } from 'node:crypto';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Command } from 'commander';
import { createDeployTarget, StackDeployer } from '../lib/infra';
import { defaultIoHost } from '../lib/io';
import { localAwsEnv, startLocalAws } from '../lib/local';
import { releaseIdFromSha } from '../lib/manifest/table-manifest';
import { appConfig } from '../release/app';
import { tables } from '../release/tables';
import { buildApp } from '../stacks/app-builder';
import { edgeStackName } from '../stacks/edge-stack';
import { releaseStackName } from '../stacks/release-stack';
import { runMain } from './run-main';

const program = new Command('demo')
  .description('deploy the example app to local AWS and print the stacks\' outputs')
  .option('--json', 'JSON lines on stderr and one JSON object with the outputs on stdout')
  .option('--sha <sha>', 'release sha to deploy', createHash('sha1').update('demo').digest('hex'))
  .parse();
const opts = program.opts<{ json?: boolean; sha: string }>();
const io = defaultIoHost({ json: opts.json });

runMain(io, async () => {
  const { state } = await startLocalAws({ ioHost: io });
  Object.assign(process.env, localAwsEnv(state));

  const account = (await new STSClient({}).send(new GetCallerIdentityCommand({}))).Account;
  const releaseId = releaseIdFromSha(opts.sha);
  const deployer = new StackDeployer({
    ioHost: io,
    target: createDeployTarget('local', io),
    defineApp: (app) =>
      buildApp({ app, config: appConfig, tables, releases: [{ releaseId, sha: opts.sha, amiId: 'ami-00000000000000001' }], env: { account } }),
  });
  await deployer.bootstrap();
  const deployed = await deployer.deploy([edgeStackName(appConfig.app), releaseStackName(appConfig.app, releaseId)]);

  const outputs = Object.fromEntries(deployed.map((d) => [d.stackName, d.outputs]));
  if (opts.json) {
    process.stdout.write(JSON.stringify(outputs) + '\n');
    return;
  }
  for (const d of deployed) {
    process.stdout.write(`\n${d.stackName}\n`);
    for (const [k, v] of Object.entries(d.outputs).sort()) process.stdout.write(`  ${k.padEnd(28)} ${v}\n`);
  }
  process.stdout.write(`\nlocal AWS keeps running; stop it with: npm run local:down\n`);
});
