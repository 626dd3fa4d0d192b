import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  CreateImageCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { RecordingIoHost } from '../../lib/io';
import { AmiBaker, BAKE_IMAGE_NOT_OURS, BAKE_TAGS, DEFAULT_BASE_IMAGE_PARAMETER, type BakeOptions } from '../../lib/infra/ami-baker';
import { BAKE_IO } from '../../lib/infra/bake-messages';
import { rejection } from '../_helpers/rejection';

// GIVEN moto's EC2 and SSM (started by the global setup); each test bakes for an app of its own
const ec2 = new EC2Client({});
const ssm = new SSMClient({});
const script = '#!/bin/bash\nset -euo pipefail\ntar -xf /tmp/artifact.tar -C /opt/app\n';

function release(): BakeOptions {
  const app = `it${randomBytes(3).toString('hex')}`;
  const sha = randomBytes(20).toString('hex');
  return { app, sha, releaseId: `sha-${sha.slice(0, 12)}`, artifactId: `sha256:${'ab'.repeat(32)}`, instanceType: 't3.micro', userData: script };
}

async function builders(options: BakeOptions): Promise<Instance[]> {
  const r = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${BAKE_TAGS.bake}`, Values: [`${options.app}/${options.sha}`] }] }));
  return (r.Reservations ?? []).flatMap((x) => x.Instances ?? []);
}

/** What a run killed with -9 right after RunInstances leaves behind: a tagged, running builder. */
async function leftoverBuilder(options: BakeOptions): Promise<string> {
  const base = (await ssm.send(new GetParameterCommand({ Name: DEFAULT_BASE_IMAGE_PARAMETER }))).Parameter!.Value!;
  const r = await ec2.send(
    new RunInstancesCommand({
      ImageId: base,
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: BAKE_TAGS.bake, Value: `${options.app}/${options.sha}` }] }],
    }),
  );
  return r.Instances![0].InstanceId!;
}

async function image(amiId: string) {
  return (await ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0];
}

const tags = (resource: { Tags?: { Key?: string; Value?: string }[] } | undefined) => Object.fromEntries((resource?.Tags ?? []).map((t) => [t.Key, t.Value]));

describe('AmiBaker on moto EC2', () => {
  let io: RecordingIoHost;
  let baker: AmiBaker;
  let options: BakeOptions;

  beforeEach(() => {
    io = new RecordingIoHost();
    baker = new AmiBaker({ ioHost: io, ec2, ssm, pollSeconds: 1 });
    options = release();
  });

  it('WHEN baking a new sha THEN one builder runs the script, the image is tagged for the release, and the builder is terminated', async () => {
    const result = await baker.bake(options);

    expect(result.reused).toBe(false);
    const img = await image(result.amiId);
    expect(img?.State).toBe('available');
    expect(img?.Name).toBe(`${options.app}-${options.releaseId}`);
    expect(tags(img)).toMatchObject({
      [BAKE_TAGS.app]: options.app,
      [BAKE_TAGS.sha]: options.sha,
      [BAKE_TAGS.release]: options.releaseId,
      [BAKE_TAGS.artifact]: options.artifactId,
    });
    const [builder, ...others] = await builders(options);
    expect(others).toEqual([]);
    expect(builder.State?.Name).toBe('terminated');
    expect(img?.SourceInstanceId).toBe(builder.InstanceId);
    const base = (await ssm.send(new GetParameterCommand({ Name: DEFAULT_BASE_IMAGE_PARAMETER }))).Parameter!.Value!;
    expect(builder.ImageId).toBe(base);
    const userData = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: builder.InstanceId!, Attribute: 'userData' }));
    expect(Buffer.from(userData.UserData!.Value!, 'base64').toString('utf8')).toBe(script);
    expect(io.withCode<{ source: string }>(BAKE_IO.BAKE_D8009.code)[0].data!.source).toBe('ssm');
    expect(io.codes().filter((c) => !c.includes('_D'))).toEqual([
      BAKE_IO.BAKE_I8002.code,
      BAKE_IO.BAKE_I8004.code,
      BAKE_IO.BAKE_I8006.code,
      BAKE_IO.BAKE_I8000.code,
    ]);
  });

  it('GIVEN an AMI of the sha WHEN baking again THEN it is reused and no builder is launched', async () => {
    const first = await baker.bake(options);
    io.messages.length = 0;

    const second = await baker.bake({ ...options, artifactId: 'sha256:other' });

    expect(second).toEqual({ amiId: first.amiId, reused: true });
    expect(await builders(options)).toHaveLength(1);
    expect(io.codes()).toEqual([BAKE_IO.BAKE_I8001.code]);
  });

  it('GIVEN a builder left running by a run killed with -9 WHEN baking again THEN that builder is used, not a second one', async () => {
    const leftover = await leftoverBuilder(options);

    const result = await baker.bake(options);

    expect((await builders(options)).map((b) => b.InstanceId)).toEqual([leftover]);
    expect((await image(result.amiId))?.SourceInstanceId).toBe(leftover);
    expect(io.codes()).toContain(BAKE_IO.BAKE_I8003.code);
    expect(io.codes()).not.toContain(BAKE_IO.BAKE_I8002.code);
  });

  it('GIVEN a bake process killed with SIGKILL while its builder runs WHEN baking again THEN the same builder is used', async () => {
    // The child waits for a shutdown that never comes, so it is surely mid-bake when killed.
    const bakerModule = fileURLToPath(new URL('../../lib/infra/ami-baker.ts', import.meta.url));
    const code = `
      import { AmiBaker } from ${JSON.stringify(bakerModule)};
      const baker = new AmiBaker({ ioHost: { notify: (m) => console.log(m.code) }, pollSeconds: 1 });
      await baker.bake({ ...${JSON.stringify(options)}, waitForShutdown: true });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((launched, failed) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => d.includes(BAKE_IO.BAKE_I8002.code) && launched());
      child.on('exit', (exitCode) => failed(new Error(`the child bake exited (${exitCode}) before launching a builder`)));
    });
    child.kill('SIGKILL');
    const [launched] = await builders(options);

    const result = await baker.bake(options);

    expect((await builders(options)).map((b) => [b.InstanceId, b.State?.Name])).toEqual([[launched.InstanceId, 'terminated']]);
    expect((await image(result.amiId))?.SourceInstanceId).toBe(launched.InstanceId);
    expect(io.codes()).toContain(BAKE_IO.BAKE_I8003.code);
  });

  it('GIVEN two leftover builders WHEN baking THEN the oldest is used and the other terminated', async () => {
    const oldest = await leftoverBuilder(options);
    await leftoverBuilder(options);

    const result = await baker.bake(options);

    expect((await image(result.amiId))?.SourceInstanceId).toBe(oldest);
    expect(io.withCode(BAKE_IO.BAKE_W8007.code)).toHaveLength(1);
    expect((await builders(options)).map((b) => b.State?.Name)).toEqual(['terminated', 'terminated']);
  });

  it('GIVEN an image of the release name without tags (an earlier run) WHEN baking THEN it is tagged and used, with no builder', async () => {
    const builder = await leftoverBuilder(options);
    const untagged = await ec2.send(new CreateImageCommand({ InstanceId: builder, Name: `${options.app}-${options.releaseId}` }));

    const result = await baker.bake(options);

    expect(result).toEqual({ amiId: untagged.ImageId, reused: true });
    expect(tags(await image(untagged.ImageId!))).toMatchObject({ [BAKE_TAGS.sha]: options.sha, [BAKE_TAGS.artifact]: options.artifactId });
    expect((await builders(options)).map((b) => b.State?.Name)).toEqual(['terminated']);
    expect(io.codes()).not.toContain(BAKE_IO.BAKE_I8002.code);
  });

  it('GIVEN waitForShutdown WHEN the script powers the builder off THEN the image is taken from the stopped builder', async () => {
    const stopper = (async () => {
      for (;;) {
        const [b] = await builders(options);
        if (b?.State?.Name === 'running') return ec2.send(new StopInstancesCommand({ InstanceIds: [b.InstanceId!] }));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const result = await baker.bake({ ...options, waitForShutdown: true });
    await stopper;

    expect((await image(result.amiId))?.State).toBe('available');
    expect(io.codes()).toContain(BAKE_IO.BAKE_I8004.code);
  });

  it('GIVEN waitForShutdown WHEN the builder never powers off (its script failed) THEN no image is taken and the error says where to look', async () => {
    const impatient = new AmiBaker({ ioHost: io, ec2, ssm, pollSeconds: 1, instanceTimeoutSeconds: 3 });

    const err = await rejection(impatient.bake({ ...options, waitForShutdown: true }));

    const [builder] = await builders(options);
    expect(err.code).toBe('BAKE_TIMEOUT');
    expect(err.fix).toContain(`aws ec2 get-console-output --instance-id ${builder.InstanceId}`);
    expect(io.codes()).not.toContain(BAKE_IO.BAKE_I8004.code);
  });

  it('GIVEN a base image WHEN baking THEN the builder starts from it', async () => {
    const base = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['amzn2-ami-hvm-*-x86_64-gp2'] }] }))).Images![0].ImageId!;

    await baker.bake({ ...options, baseAmiId: base });

    expect((await builders(options))[0].ImageId).toBe(base);
    expect(io.withCode<{ source: string }>(BAKE_IO.BAKE_D8009.code)[0].data).toEqual({ amiId: base, source: 'given' });
  });

  it('GIVEN SSM refuses the public parameter WHEN baking THEN the newest Amazon Linux 2023 image is found by name', async () => {
    const deniedSsm = new SSMClient({});
    const ssmMock = mockClient(deniedSsm);
    ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('not authorized to perform ssm:GetParameter'), { name: 'AccessDeniedException' }));
    const fallbackBaker = new AmiBaker({ ioHost: io, ec2, ssm: deniedSsm, pollSeconds: 1 });

    await fallbackBaker.bake(options);

    const base = (await builders(options))[0].ImageId!;
    const baseImage = await image(base);
    expect(baseImage?.Name).toMatch(/^al2023-ami-2023\..*-x86_64$/);
    expect(io.withCode<{ source: string }>(BAKE_IO.BAKE_D8009.code)[0].data!.source).toBe('describe-images');
    ssmMock.restore();
  });

  it('findByRelease finds the image of app and sha only', async () => {
    const { amiId } = await baker.bake(options);

    expect(await baker.findByRelease(options.app, options.sha)).toMatchObject({ amiId, state: 'available', releaseId: options.releaseId, artifactId: options.artifactId });
    expect(await baker.findByRelease(options.app, 'f'.repeat(40))).toBeUndefined();
    expect(await baker.findByRelease(`${options.app}x`, options.sha)).toBeUndefined();
  });

  it('WHEN deregistering THEN the image and its snapshots are gone, and a second deregister is fine', async () => {
    const { amiId } = await baker.bake(options);
    const snapshotIds = (await image(amiId))!.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
    expect(snapshotIds.length).toBeGreaterThan(0);

    await baker.deregister(amiId);
    await baker.deregister(amiId);

    expect(await image(amiId)).toBeUndefined();
    const left = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'snapshot-id', Values: snapshotIds }] }));
    expect(left.Snapshots).toEqual([]);
    expect(io.withCode<{ imageFound: boolean; snapshots: string[] }>(BAKE_IO.BAKE_I8010.code).map((m) => m.data!.imageFound)).toEqual([true, false]);
    expect(await baker.findByRelease(options.app, options.sha)).toBeUndefined();
  });

  it('GIVEN a run killed between deregistering and deleting the snapshots WHEN deregistering again THEN the snapshots are deleted', async () => {
    const { amiId } = await baker.bake(options);
    const snapshotIds = (await image(amiId))!.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
    await ec2.send(new DeregisterImageCommand({ ImageId: amiId }));

    await baker.deregister(amiId);

    const left = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'snapshot-id', Values: snapshotIds }] }));
    expect(left.Snapshots).toEqual([]);
    expect(io.withCode<{ snapshots: string[] }>(BAKE_IO.BAKE_I8010.code)[0].data!.snapshots).toEqual(snapshotIds);
  });

  it('GIVEN an image stackshift did not bake WHEN deregistering THEN BAKE_IMAGE_NOT_OURS and it is kept', async () => {
    const builder = await leftoverBuilder(options);
    const foreign = await ec2.send(new CreateImageCommand({ InstanceId: builder, Name: `foreign-${options.app}` }));

    const err = await rejection(baker.deregister(foreign.ImageId!));

    expect(err.code).toBe(BAKE_IMAGE_NOT_OURS);
    expect((await image(foreign.ImageId!))?.State).toBe('available');
  });
});
