// ALB access logs of InferenceFleet and ExperimentTracking in environment-agnostic stacks: the bucket policy must let
// Elastic Load Balancing deliver in whatever region the stack is deployed to (an ELB account in the regions opened
// before August 2022, the log-delivery service principal in the others).
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import {
  ArtifactStore, EnvironmentProfile, ExperimentTracking, ImageRepository, InferenceFleet, MlopsStack, ModelRegistry, PlatformNetwork,
} from 'mlops-constructs';

function agnosticStack(region?: string): { stack: Stack; store: ArtifactStore; network: PlatformNetwork } {
  const stack = new MlopsStack(new App(), 'Env', {
    profile: EnvironmentProfile.dev(), project: 'p', costCenter: 'cc-1', env: region ? { account: '111111111111', region } : undefined,
  });
  return { stack, store: new ArtifactStore(stack, 'Store'), network: new PlatformNetwork(stack, 'Network') };
}

/** CloudFormation's evaluation of the few intrinsics the grant uses, for one region. */
function evaluateIn(template: any, region: string, value: unknown): any {
  const pseudo: Record<string, string> = { 'AWS::Region': region, 'AWS::Partition': 'aws', 'AWS::AccountId': '111111111111' };
  const ev = (v: any): any => {
    if (Array.isArray(v)) return v.map(ev);
    if (v === null || typeof v !== 'object') return v;
    const [[fn, arg]] = Object.entries(v) as Array<[string, any]>;
    switch (fn) {
      case 'Ref': return pseudo[arg] ?? `<${arg}>`;
      case 'Fn::GetAtt': return `<${arg.join('.')}>`;
      case 'Fn::Join': return ev(arg[1]).join(arg[0]);
      case 'Fn::FindInMap': {
        const [map, key, attr] = ev(arg);
        const found = template.Mappings?.[map]?.[key]?.[attr];
        if (found === undefined) throw new Error(`no ${map}.${key}.${attr}`);
        return found;
      }
      case 'Fn::Equals': return ev(arg[0]) === ev(arg[1]);
      case 'Fn::Not': return !ev(arg[0]);
      case 'Fn::If': return ev(template.Conditions[arg[0]]) ? ev(arg[1]) : ev(arg[2]);
      default: return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ev(x)]));
    }
  };
  return ev(value);
}

/** Who may put objects under `alb/` of the access-log bucket, in one region. */
function albLogWriters(template: any, region: string): string[] {
  const statements = Object.values(template.Resources as Record<string, any>)
    .filter((r) => r.Type === 'AWS::S3::BucketPolicy')
    .flatMap((r) => evaluateIn(template, region, r.Properties.PolicyDocument.Statement) as any[]);
  return statements
    .filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes('s3:PutObject') && JSON.stringify(s.Resource).includes('/alb/AWSLogs/'))
    .flatMap((s) => [s.Principal.AWS, s.Principal.Service].flat().filter(Boolean))
    .sort();
}

describe.each([
  ['InferenceFleet', (s: ReturnType<typeof agnosticStack>) => new InferenceFleet(s.stack, 'Fleet', {
    vpc: s.network.vpc, artifactStore: s.store, image: new ImageRepository(s.stack, 'Images'), imageTag: 't', modelName: 'm', modelVersion: 'v1',
  })],
  ['ExperimentTracking', (s: ReturnType<typeof agnosticStack>) => new ExperimentTracking(s.stack, 'Tracking', {
    vpc: s.network.vpc, artifactStore: s.store, registry: new ModelRegistry(s.stack, 'Registry', { vpc: s.network.vpc }),
  })],
])('%s in an environment-agnostic stack', (_name, build) => {
  const s = agnosticStack();
  build(s);
  const template = Template.fromStack(s.stack).toJSON();

  test('lets the ELB account of a region opened before August 2022 deliver the logs', () => {
    expect(RegionInfo.get('us-east-1').elbv2Account).toBe('127311923021');
    expect(albLogWriters(template, 'us-east-1')).toEqual(['arn:aws:iam::127311923021:root', 'logdelivery.elasticloadbalancing.amazonaws.com']);
    expect(albLogWriters(template, 'eu-west-1')).toContain(`arn:aws:iam::${RegionInfo.get('eu-west-1').elbv2Account}:root`);
  });

  test('lets the log-delivery service deliver them in a newer region, granting no other account', () => {
    expect(RegionInfo.get('ap-south-2').elbv2Account).toBeUndefined();
    expect(albLogWriters(template, 'ap-south-2')).toEqual(['arn:aws:iam::111111111111:root', 'logdelivery.elasticloadbalancing.amazonaws.com']);
  });

  test('knows every region aws-cdk-lib knows', () => {
    for (const region of RegionInfo.regions) expect(() => albLogWriters(template, region.name)).not.toThrow();
  });
});

test('a region-bound stack keeps aws-cdk-lib\'s own grant for its region', () => {
  const s = agnosticStack('eu-west-1');
  new InferenceFleet(s.stack, 'Fleet', {
    vpc: s.network.vpc, artifactStore: s.store, image: new ImageRepository(s.stack, 'Images'), imageTag: 't', modelName: 'm', modelVersion: 'v1',
  });
  const template = Template.fromStack(s.stack).toJSON();
  expect(template.Mappings?.MlopsElbLogDeliveryAccounts).toBeUndefined();
  expect(albLogWriters(template, 'eu-west-1')).toContain(`arn:aws:iam::${RegionInfo.get('eu-west-1').elbv2Account}:root`);
});

test('a fleet in another stack than the access-log bucket: the mapping and condition go with the bucket policy', () => {
  const s = agnosticStack();
  const serving = new MlopsStack(s.stack.node.scope as App, 'Serving', { profile: EnvironmentProfile.dev(), project: 'p', costCenter: 'cc-1' });
  new InferenceFleet(serving, 'Fleet', {
    vpc: s.network.vpc, artifactStore: s.store, image: new ImageRepository(s.stack, 'Images'), imageTag: 't', modelName: 'm', modelVersion: 'v1',
  });
  const data = Template.fromStack(s.stack).toJSON();
  expect(albLogWriters(data, 'us-east-1')).toEqual(['arn:aws:iam::127311923021:root', 'logdelivery.elasticloadbalancing.amazonaws.com']);
  const fleet = Template.fromStack(serving).toJSON();
  expect(fleet.Mappings).toBeUndefined();
  expect(fleet.Conditions).toBeUndefined();
  // The load balancer is created after the policy that lets it deliver: the serving stack deploys after the data stack.
  expect(serving.dependencies).toContain(s.stack);
});
