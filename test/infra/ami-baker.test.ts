import {
  CreateImageCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordingIoHost } from '../../lib/io';
import { AmiBaker, BAKE_IMAGE_FAILED, BAKE_INPUT_INVALID, BAKE_TIMEOUT, type BakeOptions } from '../../lib/infra/ami-baker';
import { BAKE_IO } from '../../lib/infra/bake-messages';
import { rejection } from '../_helpers/rejection';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const OPTIONS: BakeOptions = {
  app: 'catalog',
  releaseId: 'sha-0123456789ab',
  sha: SHA,
  artifactId: 'sha256:aa',
  instanceType: 't3.micro',
  userData: '#!/bin/sh\ntrue\n',
};
const NAME = 'catalog-sha-0123456789ab';

const ec2Error = (name: string) => Object.assign(new Error(name), { name });
const img = (ImageId: string, State: Image['State'], extra: Partial<Image> = {}): Image => ({ ImageId, State, Name: NAME, ...extra });
const isTagQuery = (input: { Filters?: { Name?: string }[] }) => (input.Filters ?? []).some((f) => f.Name === 'tag:stackshift:sha');
const isNameQuery = (input: { Filters?: { Name?: string }[] }) => (input.Filters ?? []).some((f) => f.Name === 'name');

// Fault injection only: the bake itself runs against moto in test/integ/ami-bake.test.ts.
describe('AmiBaker (faults injected into a mocked EC2)', () => {
  const ec2Client = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const ssmClient = new SSMClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const ec2 = mockClient(ec2Client);
  const ssm = mockClient(ssmClient);
  let io: RecordingIoHost;
  let baker: AmiBaker;
  /** What DescribeImages answers, by the kind of query. */
  let byTags: Image[];
  let byName: Image[];
  let byId: Record<string, Image>;
  /** Instance states, as DescribeInstances answers them; TerminateInstances terminates. */
  let instances: Record<string, string>;

  beforeEach(() => {
    ec2.reset();
    ssm.reset();
    io = new RecordingIoHost();
    baker = new AmiBaker({ ioHost: io, ec2: ec2Client, ssm: ssmClient, pollSeconds: 1, instanceTimeoutSeconds: 3, imageTimeoutSeconds: 3 });
    byTags = [];
    byName = [];
    byId = {};
    instances = {};
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-base' } });
    ec2.on(DescribeImagesCommand).callsFake((input) => {
      if (input.ImageIds) return { Images: input.ImageIds.map((id: string) => byId[id]).filter(Boolean) };
      if (isTagQuery(input)) return { Images: byTags };
      if (isNameQuery(input)) return { Images: byName };
      return { Images: [] };
    });
    ec2.on(DescribeInstancesCommand).callsFake((input) => {
      const states: string[] | undefined = input.Filters?.find((f: { Name: string }) => f.Name === 'instance-state-name')?.Values;
      const ids = Object.keys(instances).filter((id) => (!input.InstanceIds || input.InstanceIds.includes(id)) && (!states || states.includes(instances[id])));
      return { Reservations: [{ Instances: ids.map((InstanceId) => ({ InstanceId, State: { Name: instances[InstanceId] }, LaunchTime: new Date(0) })) }] };
    });
    ec2.on(RunInstancesCommand).callsFake(() => {
      instances['i-new'] = 'running';
      return { Instances: [{ InstanceId: 'i-new', State: { Name: 'pending', Code: 0 } }] };
    });
    ec2.on(TerminateInstancesCommand).callsFake((input) => {
      for (const id of input.InstanceIds) instances[id] = 'terminated';
      return {};
    });
    ec2.on(CreateTagsCommand).resolves({});
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    ec2.on(DeregisterImageCommand).resolves({});
    ec2.on(DeleteSnapshotCommand).resolves({});
  });
  afterEach(() => {
    ec2.reset();
    ssm.reset();
  });

  it('GIVEN the image ends up failed WHEN baking THEN BAKE_IMAGE_FAILED with the reason; a re-run deregisters it and bakes again', async () => {
    ec2.on(CreateImageCommand).resolvesOnce({ ImageId: 'ami-bad' }).resolves({ ImageId: 'ami-good' });
    const tags = [{ Key: 'stackshift:sha', Value: SHA }];
    byId['ami-bad'] = img('ami-bad', 'failed', { Tags: tags, StateReason: { Message: 'Client.InternalError: snapshot failed' } });
    byId['ami-good'] = img('ami-good', 'available');

    const err = await rejection(baker.bake(OPTIONS));

    expect(err.code).toBe(BAKE_IMAGE_FAILED);
    expect(err.message).toContain('snapshot failed');

    // the re-run: the failed image is found by its tags
    byTags = [byId['ami-bad']];
    const result = await baker.bake(OPTIONS);

    expect(result).toEqual({ amiId: 'ami-good', reused: false });
    expect(ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId)).toEqual(['ami-bad']);
    expect(io.codes()).toContain(BAKE_IO.BAKE_W8008.code);
  });

  it('GIVEN another run creates the image first WHEN CreateImage is refused as a duplicate THEN the other run’s image is used', async () => {
    ec2.on(CreateImageCommand).callsFake(() => {
      byName = [img('ami-theirs', 'pending')];
      throw ec2Error('InvalidAMIName.Duplicate');
    });
    byId['ami-theirs'] = img('ami-theirs', 'available');

    const result = await baker.bake(OPTIONS);

    expect(result).toEqual({ amiId: 'ami-theirs', reused: false });
    expect(ec2.commandCalls(CreateTagsCommand)[0].args[0].input.Resources).toEqual(['ami-theirs']);
    expect(io.withCode(BAKE_IO.BAKE_I8005.code)).toHaveLength(1);
  });

  it('GIVEN an image of the release still pending WHEN baking THEN it is waited for, with no builder and no CreateImage', async () => {
    byTags = [img('ami-pending', 'pending')];
    byId['ami-pending'] = img('ami-pending', 'available');

    const result = await baker.bake(OPTIONS);

    expect(result).toEqual({ amiId: 'ami-pending', reused: false });
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
    expect(ec2.commandCalls(CreateImageCommand)).toHaveLength(0);
  });

  it('GIVEN a builder that never runs WHEN baking THEN BAKE_TIMEOUT, and the builder is left for the re-run', async () => {
    instances['i-stuck'] = 'pending';

    const started = Date.now();
    const err = await rejection(baker.bake(OPTIONS));

    expect(err.code).toBe(BAKE_TIMEOUT);
    expect(err.message).toContain('i-stuck');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('GIVEN no readable parameter and no Amazon image WHEN baking THEN BAKE_BASE_IMAGE_MISSING says to pass baseAmiId', async () => {
    ssm.on(GetParameterCommand).rejects(ec2Error('ParameterNotFound'));

    const err = await rejection(baker.bake(OPTIONS));

    expect(err.code).toBe('BAKE_BASE_IMAGE_MISSING');
    expect(err.message).toContain('baseAmiId');
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it.each<[string, Partial<BakeOptions>, string]>([
    ['a short sha', { sha: SHA.slice(0, 12) }, 'not a full commit sha'],
    ['an app name with spaces', { app: 'my app' }, '"my app"'],
    ['a release id with a slash', { releaseId: 'a/b' }, '"a/b"'],
    ['no instance type', { instanceType: ' ' }, 'no instance type'],
    ['user data over 16 KB', { userData: 'x'.repeat(16 * 1024 + 1) }, 'over EC2'],
  ])('GIVEN %s WHEN baking THEN BAKE_INPUT_INVALID before any call', async (_name, change, shown) => {
    const err = await rejection(baker.bake({ ...OPTIONS, ...change }));

    expect(err.code).toBe(BAKE_INPUT_INVALID);
    expect(err.source).toBe('user');
    expect(err.message).toContain(shown);
    expect(ec2.calls()).toHaveLength(0);
  });
});
