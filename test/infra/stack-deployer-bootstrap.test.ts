import { Toolkit } from '@aws-cdk/toolkit-lib';
import * as cdk from 'aws-cdk-lib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDeployTarget, StackDeployer } from '../../lib/infra';
import { RecordingIoHost } from '../../lib/io';

function deployer(io: RecordingIoHost): StackDeployer {
  return new StackDeployer({
    ioHost: io,
    target: createDeployTarget('local', io),
    defineApp: (app) => void new cdk.Stack(app, 'BootstrapRaceStack', { env: { account: '123456789012', region: 'us-east-1' } }),
  });
}

describe('StackDeployer.bootstrap when another process bootstraps the same environment', () => {
  afterEach(() => vi.restoreAllMocks());

  it('GIVEN the bucket the other process just created WHEN bootstrapping THEN it tries again (INFRA_W1009) and succeeds', async () => {
    const race = Object.assign(new Error('bootstrap failed'), { cause: new Error('BucketAlreadyExists: cdk-hnb659fds-assets-123456789012-us-east-1 already exists') });
    const bootstrap = vi.spyOn(Toolkit.prototype, 'bootstrap').mockRejectedValueOnce(race).mockResolvedValue(undefined as never);
    const io = new RecordingIoHost();
    await deployer(io).bootstrap();
    expect(bootstrap).toHaveBeenCalledTimes(2);
    expect(io.codes()).toContain('INFRA_W1009');
    expect(io.codes()).toContain('INFRA_I1004');
  }, 60_000);

  it('GIVEN any other failure WHEN bootstrapping THEN it fails at once', async () => {
    const bootstrap = vi.spyOn(Toolkit.prototype, 'bootstrap').mockRejectedValue(new Error('AccessDenied: not allowed'));
    await expect(deployer(new RecordingIoHost()).bootstrap()).rejects.toThrow(/AccessDenied/);
    expect(bootstrap).toHaveBeenCalledTimes(1);
  }, 60_000);
});
