import {
  CreateImageCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  EC2Client,
  paginateDescribeImages,
  paginateDescribeInstances,
  paginateDescribeSnapshots,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
  type Filter,
  type Image,
  type Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { messageOf, toolError, userError } from '../errors';
import type { IoHost } from '../io';
import { BAKE_IO } from './bake-messages';

export const BAKE_INPUT_INVALID = 'BAKE_INPUT_INVALID';
export const BAKE_BASE_IMAGE_MISSING = 'BAKE_BASE_IMAGE_MISSING';
export const BAKE_TIMEOUT = 'BAKE_TIMEOUT';
export const BAKE_IMAGE_FAILED = 'BAKE_IMAGE_FAILED';
export const BAKE_IMAGE_UNUSABLE = 'BAKE_IMAGE_UNUSABLE';
export const BAKE_IMAGE_NOT_OURS = 'BAKE_IMAGE_NOT_OURS';

/** Tags that tie EC2 resources to a release; lookups by tag make every step re-runnable. */
export const BAKE_TAGS = {
  app: 'stackshift:app',
  sha: 'stackshift:sha',
  release: 'stackshift:release',
  artifact: 'stackshift:artifact',
  /** On the builder instance: `<app>/<sha>`. */
  bake: 'stackshift:bake',
} as const;

/**
 * The public SSM parameter AWS keeps pointing at the latest Amazon Linux 2023 x86_64 image. moto
 * serves it too (from its bundled copy), so the same lookup works locally and on AWS.
 */
export const DEFAULT_BASE_IMAGE_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
/** Fallback when the parameter cannot be read (no ssm:GetParameter permission): newest AL2023 by name. */
const DEFAULT_BASE_IMAGE_NAME = 'al2023-ami-2023.*-x86_64';

/** EC2 caps user data at 16 KB before base64. */
const MAX_USER_DATA_BYTES = 16 * 1024;
const BUILDER_STATES = ['pending', 'running', 'stopping', 'stopped'];

export interface AmiBakerProps {
  readonly ioHost: IoHost;
  /** @default - a client from the environment's configuration */
  readonly ec2?: EC2Client;
  /** For the default base image's public parameter. @default - a client from the environment's configuration */
  readonly ssm?: SSMClient;
  /** How long the builder may take to be running (or stopped) and to terminate. @default 900 */
  readonly instanceTimeoutSeconds?: number;
  /** How long image creation may take. @default 3600 */
  readonly imageTimeoutSeconds?: number;
  /** First delay between polls of the waiters. @default 15 */
  readonly pollSeconds?: number;
}

export interface BakeOptions {
  /** The application, e.g. `catalog`. */
  readonly app: string;
  /** The release id, e.g. `sha-0123456789ab`; names the image `<app>-<releaseId>`. */
  readonly releaseId: string;
  /** The full 40-hex commit sha the image is for. */
  readonly sha: string;
  /** The artifact the user data installs (see artifact-builder), recorded as a tag. */
  readonly artifactId: string;
  /** @default - the latest Amazon Linux 2023 x86_64 image (DEFAULT_BASE_IMAGE_PARAMETER) */
  readonly baseAmiId?: string;
  /** The builder's instance type, e.g. `t3.small`. */
  readonly instanceType: string;
  /** The build script, plain text (encoded here); at most 16 KB. */
  readonly userData: string;
  /** Where the builder runs. @default - the default VPC's default subnet */
  readonly subnetId?: string;
  /**
   * Take the image only once the builder has stopped. On AWS the image must not be taken before the
   * user data script has finished, and a stopped instance is the one signal of that which needs no
   * agent: end the script with `poweroff`. Off, the image is taken as soon as the builder runs
   * (enough for moto, which runs no user data).
   * @default false
   */
  readonly waitForShutdown?: boolean;
}

export interface BakeResult {
  readonly amiId: string;
  /** True when an image of this sha existed already and nothing was built. */
  readonly reused: boolean;
}

export interface BakedImage {
  readonly amiId: string;
  readonly name?: string;
  /** EC2 image state: `pending`, `available`, `failed`, ... */
  readonly state: string;
  readonly releaseId?: string;
  readonly artifactId?: string;
  readonly createdAt?: string;
}

/**
 * Bakes one AMI per release through EC2: a builder instance runs the build script as user data,
 * the image is taken from it, the builder is terminated. Every step looks for the result of an
 * earlier run first (tags and the image name), so a run killed at any point is resumed by running
 * it again: it neither launches a second builder nor creates a second image.
 */
export class AmiBaker {
  private readonly ioHost: IoHost;
  private readonly ec2: EC2Client;
  private readonly ssm: SSMClient;
  private readonly instanceTimeoutSeconds: number;
  private readonly imageTimeoutSeconds: number;
  private readonly pollSeconds: number;

  public constructor(props: AmiBakerProps) {
    this.ioHost = props.ioHost;
    this.ec2 = props.ec2 ?? new EC2Client({});
    this.ssm = props.ssm ?? new SSMClient({});
    this.instanceTimeoutSeconds = props.instanceTimeoutSeconds ?? 900;
    this.imageTimeoutSeconds = props.imageTimeoutSeconds ?? 3600;
    this.pollSeconds = props.pollSeconds ?? 15;
  }

  public async bake(options: BakeOptions): Promise<BakeResult> {
    validate(options);
    const started = Date.now();
    const { app } = options;
    const sha = options.sha.toLowerCase();
    const existing = (await this.findByRelease(app, sha)) ?? (await this.adoptNamed({ ...options, sha }));
    if (existing?.state === 'available') {
      BAKE_IO.BAKE_I8001.emit(this.ioHost, `reusing ${existing.amiId}, the AMI of ${app} at ${sha}`, { app, sha, amiId: existing.amiId });
      await this.terminateBuilders(app, sha);
      return { amiId: existing.amiId, reused: true };
    }
    let amiId: string;
    if (existing?.state === 'pending') {
      amiId = existing.amiId;
      BAKE_IO.BAKE_I8005.emit(this.ioHost, `image ${amiId} of ${app} at ${sha} is being created by an earlier run: waiting for it`, {
        amiId,
        name: existing.name ?? '',
        state: existing.state,
      });
    } else {
      if (existing) await this.dropUnusable(existing);
      const builder = await this.readyBuilder({ ...options, sha });
      amiId = await this.createImage({ ...options, sha }, builder);
    }
    await this.waitImageAvailable(amiId);
    await this.terminateBuilders(app, sha);
    const seconds = (Date.now() - started) / 1000;
    BAKE_IO.BAKE_I8000.emit(this.ioHost, `baked ${amiId} for ${app} at ${sha} in ${Math.round(seconds)} s`, { app, sha, amiId, seconds });
    return { amiId, reused: false };
  }

  /** The image baked for `app` at `sha`, if any (an available one first, then the newest). */
  public async findByRelease(app: string, sha: string): Promise<BakedImage | undefined> {
    const images = await this.images([
      { Name: `tag:${BAKE_TAGS.app}`, Values: [app] },
      { Name: `tag:${BAKE_TAGS.sha}`, Values: [sha.toLowerCase()] },
    ]);
    const rank = (i: Image) => (i.State === 'available' ? 0 : 1);
    images.sort((a, b) => rank(a) - rank(b) || (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''));
    return images[0] ? bakedImage(images[0]) : undefined;
  }

  /**
   * Deregister the image and delete its EBS snapshots. An image already gone is fine; its
   * snapshots are still looked for (by the description EC2 gives them), so a run killed between
   * the two steps is finished by the next.
   */
  public async deregister(amiId: string): Promise<void> {
    const image = await this.describeImage(amiId);
    if (image && !tagOf(image, BAKE_TAGS.sha)) {
      throw userError(BAKE_IMAGE_NOT_OURS, `image ${amiId} (${image.Name ?? 'no name'}) was not baked by stackshift (no ${BAKE_TAGS.sha} tag)`, {
        fix: 'deregister it yourself if it really should go',
      });
    }
    const snapshots = new Set<string>();
    for (const m of image?.BlockDeviceMappings ?? []) if (m.Ebs?.SnapshotId) snapshots.add(m.Ebs.SnapshotId);
    const orphans = paginateDescribeSnapshots(
      { client: this.ec2 },
      { OwnerIds: ['self'], Filters: [{ Name: 'description', Values: [`Created by CreateImage(*) for ${amiId}`] }] },
    );
    for await (const page of orphans) for (const s of page.Snapshots ?? []) if (s.SnapshotId) snapshots.add(s.SnapshotId);

    if (image) await ignoring(['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'], () => this.ec2.send(new DeregisterImageCommand({ ImageId: amiId })));
    for (const snapshotId of snapshots) {
      await ignoring(['InvalidSnapshot.NotFound'], () => this.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })));
    }
    BAKE_IO.BAKE_I8010.emit(this.ioHost, image ? `deregistered ${amiId} and deleted ${snapshots.size} snapshot(s)` : `${amiId} was gone already (${snapshots.size} snapshot(s) deleted)`, {
      amiId,
      snapshots: [...snapshots],
      imageFound: image !== undefined,
    });
  }

  /** The builder of this release, running (or stopped when waiting for shutdown): found or launched. */
  private async readyBuilder(options: BakeOptions): Promise<Instance> {
    const builders = await this.builders(options.app, options.sha);
    let builder = builders[0];
    for (const extra of builders.slice(1)) {
      BAKE_IO.BAKE_W8007.emit(this.ioHost, `terminating extra builder ${extra.InstanceId}`, { instanceId: extra.InstanceId!, kept: builder.InstanceId! });
      await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [extra.InstanceId!] }));
    }
    if (builder) {
      BAKE_IO.BAKE_I8003.emit(this.ioHost, `using builder ${builder.InstanceId} of an earlier run (${builder.State?.Name})`, {
        instanceId: builder.InstanceId!,
        state: builder.State?.Name ?? 'unknown',
      });
    } else {
      builder = await this.launchBuilder(options);
    }
    const instanceId = builder.InstanceId!;
    // A builder found stopped (or stopping) gives its image as it is: EC2 images stopped instances too.
    const stopped = options.waitForShutdown || ['stopping', 'stopped'].includes(builder.State?.Name ?? '');
    const waiter = stopped ? waitUntilInstanceStopped : waitUntilInstanceRunning;
    await this.waitFor(
      `builder ${instanceId} to be ${stopped ? 'stopped' : 'running'}`,
      this.instanceTimeoutSeconds,
      (config) => waiter(config, { InstanceIds: [instanceId] }),
      // A script that failed never powers the builder off.
      options.waitForShutdown
        ? `its bake script may have failed: read \`aws ec2 get-console-output --instance-id ${instanceId}\`, fix the cause, terminate ${instanceId} and bake again`
        : undefined,
    );
    return builder;
  }

  private async launchBuilder(options: BakeOptions): Promise<Instance> {
    const baseAmiId = await this.baseImage(options.baseAmiId);
    const tags: Tag[] = [
      { Key: 'Name', Value: `${options.app}-bake-${options.releaseId}` },
      { Key: BAKE_TAGS.bake, Value: bakeTag(options.app, options.sha) },
      ...releaseTags(options),
    ];
    const response = await this.ec2.send(
      new RunInstancesCommand({
        ImageId: baseAmiId,
        InstanceType: options.instanceType as never,
        MinCount: 1,
        MaxCount: 1,
        SubnetId: options.subnetId,
        UserData: Buffer.from(options.userData, 'utf8').toString('base64'),
        InstanceInitiatedShutdownBehavior: 'stop',
        MetadataOptions: { HttpTokens: 'required' },
        // Tagged at launch, atomically: a run killed right after this call finds the builder by tag.
        TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
      }),
    );
    const builder = response.Instances?.[0];
    if (!builder?.InstanceId) throw toolError('BAKE_LAUNCH_FAILED', `RunInstances returned no instance for the builder of ${options.app} at ${options.sha}`);
    BAKE_IO.BAKE_I8002.emit(this.ioHost, `launched builder ${builder.InstanceId} from ${baseAmiId}`, {
      instanceId: builder.InstanceId,
      baseAmiId,
      instanceType: options.instanceType,
    });
    return builder;
  }

  /** CreateImage from the builder (the image name is the release's: a second one is refused by EC2). */
  private async createImage(options: BakeOptions, builder: Instance): Promise<string> {
    const name = imageName(options);
    try {
      const response = await this.ec2.send(
        new CreateImageCommand({
          InstanceId: builder.InstanceId!,
          Name: name,
          Description: `stackshift ${options.app} ${options.releaseId} (${options.sha})`,
          TagSpecifications: [{ ResourceType: 'image', Tags: releaseTags(options) }],
        }),
      );
      const amiId = response.ImageId!;
      BAKE_IO.BAKE_I8004.emit(this.ioHost, `creating image ${name} (${amiId}) from ${builder.InstanceId}`, { amiId, name, instanceId: builder.InstanceId! });
      return amiId;
    } catch (err) {
      // Another run created it between our lookup and this call.
      const raced = errorName(err) === 'InvalidAMIName.Duplicate' ? await this.adoptNamed(options) : undefined;
      if (!raced) throw err;
      BAKE_IO.BAKE_I8005.emit(this.ioHost, `image ${name} (${raced.amiId}) was created by another run: using it`, { amiId: raced.amiId, name, state: raced.state });
      return raced.amiId;
    }
  }

  /**
   * An image with the release's name but without its tags (made outside a bake, or by a version
   * that did not tag): tag it, so that it is found like any other, and use it.
   */
  private async adoptNamed(options: BakeOptions): Promise<BakedImage | undefined> {
    const images = await this.images([{ Name: 'name', Values: [imageName(options)] }]);
    const image = images.find((i) => i.State === 'available') ?? images.find((i) => i.State === 'pending') ?? images[0];
    if (!image) return undefined;
    await this.ec2.send(new CreateTagsCommand({ Resources: [image.ImageId!], Tags: releaseTags(options) }));
    return bakedImage({ ...image, Tags: releaseTags(options) });
  }

  /** A failed image of the release blocks its name: deregister it so the bake can run again. */
  private async dropUnusable(image: BakedImage): Promise<void> {
    if (!['failed', 'error', 'invalid'].includes(image.state)) {
      throw toolError(BAKE_IMAGE_UNUSABLE, `image ${image.amiId} of this release is ${image.state}`, { fix: `enable or deregister ${image.amiId}, then bake again` });
    }
    BAKE_IO.BAKE_W8008.emit(this.ioHost, `image ${image.amiId} of this release is ${image.state}: deregistering it and baking again`, { amiId: image.amiId, state: image.state });
    await this.deregister(image.amiId);
  }

  private async waitImageAvailable(amiId: string): Promise<void> {
    try {
      await waitUntilImageAvailable(this.waiterConfig(this.imageTimeoutSeconds), { ImageIds: [amiId] });
    } catch (err) {
      const image = await this.describeImage(amiId);
      if (image?.State === 'available') return;
      if (image?.State === 'pending' || image === undefined) throw this.timeout(`image ${amiId} to be available`, this.imageTimeoutSeconds, err);
      throw toolError(BAKE_IMAGE_FAILED, `image ${amiId} is ${image.State}${image.StateReason?.Message ? `: ${image.StateReason.Message}` : ''}`, {
        fix: 'bake again: the failed image is deregistered first',
        cause: err,
      });
    }
  }

  private async terminateBuilders(app: string, sha: string): Promise<void> {
    const builders = await this.builders(app, sha);
    if (builders.length === 0) return;
    const instanceIds = builders.map((b) => b.InstanceId!);
    await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
    await this.waitFor(`builder(s) ${instanceIds.join(', ')} to terminate`, this.instanceTimeoutSeconds, (config) =>
      waitUntilInstanceTerminated(config, { InstanceIds: instanceIds }),
    );
    for (const instanceId of instanceIds) BAKE_IO.BAKE_I8006.emit(this.ioHost, `terminated builder ${instanceId}`, { instanceId });
  }

  /** Builders of the release that are not terminated, oldest first. */
  private async builders(app: string, sha: string): Promise<Instance[]> {
    const out: Instance[] = [];
    const pages = paginateDescribeInstances(
      { client: this.ec2 },
      {
        Filters: [
          { Name: `tag:${BAKE_TAGS.bake}`, Values: [bakeTag(app, sha)] },
          { Name: 'instance-state-name', Values: BUILDER_STATES },
        ],
      },
    );
    for await (const page of pages) for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    return out.sort((a, b) => (a.LaunchTime?.getTime() ?? 0) - (b.LaunchTime?.getTime() ?? 0));
  }

  private async baseImage(given: string | undefined): Promise<string> {
    if (given) {
      BAKE_IO.BAKE_D8009.emit(this.ioHost, `base image ${given} (given)`, { amiId: given, source: 'given' });
      return given;
    }
    try {
      const parameter = await this.ssm.send(new GetParameterCommand({ Name: DEFAULT_BASE_IMAGE_PARAMETER }));
      const amiId = parameter.Parameter?.Value;
      if (amiId) {
        BAKE_IO.BAKE_D8009.emit(this.ioHost, `base image ${amiId} (from ${DEFAULT_BASE_IMAGE_PARAMETER})`, { amiId, source: 'ssm' });
        return amiId;
      }
    } catch (err) {
      if (!['ParameterNotFound', 'AccessDeniedException'].includes(errorName(err))) throw err;
    }
    const candidates = await this.images(
      [
        { Name: 'name', Values: [DEFAULT_BASE_IMAGE_NAME] },
        { Name: 'state', Values: ['available'] },
        { Name: 'architecture', Values: ['x86_64'] },
      ],
      ['amazon'],
    );
    candidates.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? '') || (b.Name ?? '').localeCompare(a.Name ?? ''));
    const newest = candidates[0]?.ImageId;
    if (!newest) {
      throw toolError(BAKE_BASE_IMAGE_MISSING, `no base image: ${DEFAULT_BASE_IMAGE_PARAMETER} is unreadable and no Amazon image is named ${DEFAULT_BASE_IMAGE_NAME}`, {
        fix: 'pass baseAmiId',
      });
    }
    BAKE_IO.BAKE_D8009.emit(this.ioHost, `base image ${newest} (newest Amazon image named ${DEFAULT_BASE_IMAGE_NAME})`, { amiId: newest, source: 'describe-images' });
    return newest;
  }

  private async images(filters: Filter[], owners: string[] = ['self']): Promise<Image[]> {
    const out: Image[] = [];
    for await (const page of paginateDescribeImages({ client: this.ec2 }, { Owners: owners, Filters: filters })) out.push(...(page.Images ?? []));
    return out;
  }

  private async describeImage(amiId: string): Promise<Image | undefined> {
    try {
      const response = await this.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }));
      return response.Images?.[0];
    } catch (err) {
      if (['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable', 'InvalidAMIID.Malformed'].includes(errorName(err))) return undefined;
      throw err;
    }
  }

  private waiterConfig(maxWaitTime: number): Ec2WaiterConfig {
    const minDelay = Math.min(this.pollSeconds, maxWaitTime / 2);
    return { client: this.ec2, maxWaitTime, minDelay, maxDelay: Math.max(minDelay, 120) };
  }

  private async waitFor(what: string, seconds: number, wait: (config: Ec2WaiterConfig) => Promise<unknown>, fix?: string): Promise<void> {
    try {
      await wait(this.waiterConfig(seconds));
    } catch (err) {
      throw this.timeout(what, seconds, err, fix);
    }
  }

  private timeout(what: string, seconds: number, cause: unknown, fix = 'bake again: it resumes with the same builder and image') {
    return toolError(BAKE_TIMEOUT, `gave up waiting for ${what} after ${seconds} s (${firstLine(messageOf(cause))})`, { fix, cause });
  }
}

interface Ec2WaiterConfig {
  readonly client: EC2Client;
  readonly maxWaitTime: number;
  readonly minDelay: number;
  readonly maxDelay: number;
}

function validate(options: BakeOptions): void {
  const fail = (what: string, fix: string) => userError(BAKE_INPUT_INVALID, `cannot bake: ${what}`, { fix });
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.app)) throw fail(`invalid app name "${options.app}"`, 'use lowercase letters, digits and "-"');
  if (!/^[0-9a-f]{40}$/i.test(options.sha)) throw fail(`"${options.sha}" is not a full commit sha`, 'pass the 40-hex sha, e.g. from `git rev-parse HEAD`');
  if (!/^[\w.-]{1,64}$/.test(options.releaseId)) throw fail(`invalid release id "${options.releaseId}"`, 'use a release id such as sha-0123456789ab');
  if (!options.instanceType.trim()) throw fail('no instance type', 'pass an instance type such as t3.small');
  const bytes = Buffer.byteLength(options.userData, 'utf8');
  if (bytes > MAX_USER_DATA_BYTES) throw fail(`user data is ${bytes} bytes, over EC2's ${MAX_USER_DATA_BYTES}`, 'download the build from the artifact store in a short script');
}

function releaseTags(options: BakeOptions): Tag[] {
  return [
    { Key: BAKE_TAGS.app, Value: options.app },
    { Key: BAKE_TAGS.sha, Value: options.sha },
    { Key: BAKE_TAGS.release, Value: options.releaseId },
    { Key: BAKE_TAGS.artifact, Value: options.artifactId },
  ];
}

export function imageName(options: Pick<BakeOptions, 'app' | 'releaseId'>): string {
  return `${options.app}-${options.releaseId}`;
}

function bakeTag(app: string, sha: string): string {
  return `${app}/${sha.toLowerCase()}`;
}

function bakedImage(image: Image): BakedImage {
  return {
    amiId: image.ImageId!,
    name: image.Name,
    state: image.State ?? 'unknown',
    releaseId: tagOf(image, BAKE_TAGS.release),
    artifactId: tagOf(image, BAKE_TAGS.artifact),
    createdAt: image.CreationDate,
  };
}

function tagOf(resource: { Tags?: Tag[] }, key: string): string | undefined {
  return resource.Tags?.find((t) => t.Key === key)?.Value;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

function firstLine(text: string): string {
  return text.split('\n')[0].slice(0, 200);
}

async function ignoring(names: string[], call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    if (!names.includes(errorName(err))) throw err;
  }
}
