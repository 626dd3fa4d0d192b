import type { ICloudAssemblySource, Toolkit } from '@aws-cdk/toolkit-lib';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type * as cdk from 'aws-cdk-lib';
import { messageOf, toolError } from '../errors';
import { IO, type IoHost } from '../io';
import type { DeployTarget, SynthesizedStack } from './deploy-target';
import { ToolkitIoBridge } from './toolkit-io-bridge';

/** Adds the stacks to deploy to a fresh CDK app; called once per synthesis, awaited, its value unused. */
export type AppDefinition = (app: cdk.App) => unknown;

/**
 * The toolkit and the construct library load on first use: a deployer is built by every verb,
 * most of which (status, promote, rollback) never synthesize, and loading them takes seconds.
 */
const loadToolkitLib = () => import('@aws-cdk/toolkit-lib');

/** A bootstrap that lost a race to another process is tried again this often, waiting longer each time. */
const BOOTSTRAP_ATTEMPTS = 4;
const BOOTSTRAP_RETRY_MS = 3000;
/** What losing that race looks like: the bucket or stack the other process is creating. */
const BOOTSTRAP_RACE = /already exists|AlreadyExists|IN_PROGRESS|in progress/i;

/** An error and its causes, one line each (the toolkit wraps the SDK's error). */
function describeError(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, depth = 0; cur !== undefined && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) parts.push(messageOf(cur));
  return parts.join('\n');
}

export interface StackDeployerProps {
  readonly ioHost: IoHost;
  /** The stacks, as CDK constructs. */
  readonly defineApp: AppDefinition;
  /** What to do beyond CloudFormation (see DeployTarget). */
  readonly target: DeployTarget;
  /** Client used to confirm outcomes. @default - a client from the environment's configuration */
  readonly cloudformation?: CloudFormationClient;
}

export interface DeployedStackOutputs {
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
}

export interface StackDiff {
  readonly stackName: string;
  /** Number of resource, output and parameter changes; 0 means deploying would change nothing. */
  readonly changes: number;
  /** Each resource that would be added, removed or changed. */
  readonly resources: readonly ResourceChange[];
}

export interface ResourceChange {
  readonly logicalId: string;
  /** e.g. `AWS::DynamoDB::Table` */
  readonly type: string;
  readonly action: 'add' | 'remove' | 'update';
}

/**
 * Deploy, diff and destroy through the CDK toolkit library: one method per action.
 *
 * Stacks deploy with CloudFormation's direct method (CreateStack/UpdateStack). A release stack is
 * created once and never updated in place, so a change set adds a round trip without a review to
 * show; and moto does not report the outputs of stacks created through change sets.
 */
export class StackDeployer {
  private toolkitLoaded?: Promise<Toolkit>;
  private readonly ioHost: IoHost;
  private readonly defineApp: AppDefinition;
  private readonly target: DeployTarget;
  private readonly cloudformation: CloudFormationClient;
  private cx?: Promise<ICloudAssemblySource>;

  public constructor(props: StackDeployerProps) {
    this.ioHost = props.ioHost;
    this.defineApp = props.defineApp;
    this.target = props.target;
    this.cloudformation = props.cloudformation ?? new CloudFormationClient({});
  }

  private toolkit(): Promise<Toolkit> {
    this.toolkitLoaded ??= loadToolkitLib().then(({ Toolkit }) => new Toolkit({ ioHost: new ToolkitIoBridge(this.ioHost), emojis: false, color: false }));
    return this.toolkitLoaded;
  }

  /** Create or update the CDK bootstrap stack in each environment the stacks target. */
  public async bootstrap(): Promise<void> {
    // One entry per environment: the toolkit bootstraps its list in parallel, and two stacks in one
    // environment would race to create the same bucket.
    const toolkit = await this.toolkit();
    const { BootstrapEnvironments } = await loadToolkitLib();
    const assembly = await toolkit.synth(await this.source());
    let environments: string[];
    try {
      environments = [...new Set(assembly.cloudAssembly.stacksRecursively.map((s) => s.environment.name))];
    } finally {
      await assembly.dispose();
    }
    // Two processes bootstrapping one fresh environment at once (two teams' first releases, or
    // parallel test files) race: the loser fails to create the bucket the winner just made, or finds
    // the toolkit stack mid-update. Once the winner is done, bootstrapping again is a no-op update.
    for (let attempt = 1; ; attempt++) {
      try {
        await toolkit.bootstrap(BootstrapEnvironments.fromList(environments), {});
        break;
      } catch (e) {
        if (attempt >= BOOTSTRAP_ATTEMPTS || !BOOTSTRAP_RACE.test(describeError(e))) throw e;
        IO.INFRA_W1009.emit(this.ioHost, `bootstrap raced another process (${messageOf(e)}); trying again`, { attempt });
        await sleep(BOOTSTRAP_RETRY_MS * attempt);
      }
    }
    for (const environment of environments) {
      IO.INFRA_I1004.emit(this.ioHost, `bootstrapped ${environment}`, { environment });
    }
  }

  public async deploy(stackNames: readonly string[]): Promise<DeployedStackOutputs[]> {
    IO.INFRA_I1000.emit(this.ioHost, `deploying ${stackNames.join(', ')}`, { stacks: [...stackNames] });
    const cx = await this.source();
    const result = await (await this.toolkit()).deploy(cx, {
      stacks: await select(stackNames),
      deploymentMethod: { method: 'direct' },
    });
    const synthesized = await this.synthesized(cx, stackNames);
    const out: DeployedStackOutputs[] = [];
    for (const stack of result.stacks) {
      const synth = synthesized.get(stack.stackName);
      if (!synth) throw toolError('INFRA_STACK_UNKNOWN', `deployed stack ${stack.stackName} is not in the assembly`);
      await this.target.afterDeploy(synth);
      IO.INFRA_I1001.emit(this.ioHost, `deployed ${stack.stackName}`, { stack: stack.stackName, outputs: stack.outputs });
      out.push({ stackName: stack.stackName, outputs: stack.outputs });
    }
    return out;
  }

  /** Template diff against what is deployed; changes nothing. */
  public async diff(stackNames: readonly string[]): Promise<StackDiff[]> {
    const cx = await this.source();
    // Template-only: compares with the deployed template without creating a change set. A release
    // stack is created once and never updated, so replacement details would have nothing to say.
    const { DiffMethod } = await loadToolkitLib();
    const diffs = await (await this.toolkit()).diff(cx, { stacks: await select(stackNames), method: DiffMethod.TemplateOnly() });
    return Object.entries(diffs).map(([stackName, diff]) => {
      IO.INFRA_I1003.emit(this.ioHost, `${stackName}: ${diff.differenceCount} change(s)`, { stack: stackName, changes: diff.differenceCount });
      const resources: ResourceChange[] = [];
      diff.resources.forEachDifference((logicalId, change) => {
        const action = change.isAddition ? 'add' : change.isRemoval ? 'remove' : 'update';
        resources.push({ logicalId, type: change.resourceType ?? change.newResourceType ?? change.oldResourceType ?? '?', action });
      });
      return { stackName, changes: diff.differenceCount, resources };
    });
  }

  /** Destroy stacks one at a time; a stack that is already gone counts as destroyed (re-runs). */
  public async destroy(stackNames: readonly string[]): Promise<void> {
    const cx = await this.source();
    const synthesized = await this.synthesized(cx, stackNames);
    for (const name of stackNames) {
      try {
        await (await this.toolkit()).destroy(cx, { stacks: await select([name]) });
      } catch (err) {
        // The event poller can lose sight of a stack that finished deleting between two polls
        // (DescribeStackEvents on a deleted stack's ARN; moto always does this). The outcome is what
        // matters: if the stack is gone, the destroy succeeded.
        if (await this.stackExists(name)) throw err;
        IO.INFRA_D1900.emit(this.ioHost, `destroy of ${name} reported "${messageOf(err)}" but the stack is gone`);
      }
      const synth = synthesized.get(name);
      if (synth) await this.target.afterDestroy(synth);
    }
    IO.INFRA_I1002.emit(this.ioHost, `destroyed ${stackNames.join(', ')}`, { stacks: [...stackNames] });
  }

  private async stackExists(stackName: string): Promise<boolean> {
    try {
      const r = await this.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
      return (r.Stacks ?? []).some((s) => s.StackStatus !== 'DELETE_COMPLETE');
    } catch (err) {
      if (/does not exist/.test(messageOf(err))) return false;
      throw err;
    }
  }

  /** The synthesized templates of the named stacks (for readers such as the local target). */
  public async synth(stackNames: readonly string[]): Promise<Map<string, SynthesizedStack>> {
    return this.synthesized(await this.source(), stackNames);
  }

  private async synthesized(cx: ICloudAssemblySource, stackNames: readonly string[]): Promise<Map<string, SynthesizedStack>> {
    const assembly = await (await this.toolkit()).synth(cx, { stacks: await select(stackNames) });
    try {
      const out = new Map<string, SynthesizedStack>();
      for (const s of assembly.cloudAssembly.stacksRecursively) {
        if (stackNames.includes(s.stackName)) out.set(s.stackName, { stackName: s.stackName, template: s.template });
      }
      return out;
    } finally {
      await assembly.dispose();
    }
  }

  private source(): Promise<ICloudAssemblySource> {
    // One source per deployer: each synthesis through it builds a fresh app.
    this.cx ??= (async () => {
      const [toolkit, { MemoryContext }, { App }] = await Promise.all([this.toolkit(), loadToolkitLib(), import('aws-cdk-lib')]);
      return toolkit.fromAssemblyBuilder(
        async (props) => {
          // autoSynth off: the toolkit sets CDK_OUTDIR while building, and an App that sees it would
          // also register a beforeExit synth, one per deploy (Node warns at the eleventh).
          const app = new App({ outdir: props.outdir, context: props.context, autoSynth: false });
          await this.defineApp(app);
          return app.synth();
        },
        // disposeOutdir: the toolkit makes a temporary cdk.out per synthesis and means to delete it on
        // dispose, but marks it kept once synthesis succeeds (aws/aws-cdk-cli#802): without this
        // every deploy, diff and destroy left its templates in the system's temp directory.
        { contextStore: new MemoryContext(), disposeOutdir: true },
      );
    })();
    return this.cx;
  }
}

async function select(stackNames: readonly string[]) {
  const { StackSelectionStrategy } = await loadToolkitLib();
  return { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH, patterns: [...stackNames] };
}
