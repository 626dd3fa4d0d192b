import { CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { uniqueName } from './tables';

export interface TestLoadBalancer {
  readonly dnsName: string;
  readonly loadBalancerArn: string;
  readonly listenerArn: string;
}

/**
 * An Application Load Balancer in moto shaped like a release stack's: a port-80 listener whose
 * default action forwards to the fleet's target group. The local load balancer reads its rules.
 */
export async function createLoadBalancer(prefix: string): Promise<TestLoadBalancer> {
  const ec2 = new EC2Client({});
  const elbv2 = new ElasticLoadBalancingV2Client({});
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc!;
  const subnets = await Promise.all(
    ['a', 'b'].map(async (zone, i) => (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: `10.0.${i}.0/24`, AvailabilityZone: `us-east-1${zone}` }))).Subnet!.SubnetId!),
  );
  const name = uniqueName(prefix).slice(0, 32).replace(/[^A-Za-z0-9-]/g, '-').replace(/-+$/, '');
  const lb = (await elbv2.send(new CreateLoadBalancerCommand({ Name: name, Subnets: subnets, Type: 'application' }))).LoadBalancers![0]!;
  const group = (await elbv2.send(new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 8080, VpcId: vpc.VpcId, TargetType: 'instance' }))).TargetGroups![0]!;
  const listener = (
    await elbv2.send(
      new CreateListenerCommand({ LoadBalancerArn: lb.LoadBalancerArn, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: group.TargetGroupArn }] }),
    )
  ).Listeners![0]!;
  return { dnsName: lb.DNSName!, loadBalancerArn: lb.LoadBalancerArn!, listenerArn: listener.ListenerArn! };
}
