// The Kubernetes and Pulumi examples as a user copies them into a fresh project: through the package names only (the
// library installed from its tarball), the cdk8s app writes its manifests and the Pulumi program builds every
// component under the engine's mocks (no Pulumi CLI, no cloud).
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../support/gate';
import { UserProject } from './support/user-project';

const example = (file: string) => fs.readFileSync(path.join(REPO_ROOT, 'examples', file), 'utf8');

describe('examples copied into a user project', () => {
  const project = UserProject.get();

  test('the cdk8s example writes the manifests of both teams', () => {
    project.write('k8s-example/main.ts', example('k8s/main.ts'));
    const run = project.run('k8s-example/run', "import { buildK8sApp } from './main';\nbuildK8sApp({ outdir: 'k8s-out' }).synth();\n");
    expect(run.error).toBeUndefined();
    const out = path.join(project.dir, 'k8s-out');
    const manifests = fs.readdirSync(out).filter((f) => f.endsWith('.yaml'));
    expect(manifests.length).toBeGreaterThanOrEqual(2);
    const all = manifests.map((f) => fs.readFileSync(path.join(out, f), 'utf8')).join('\n');
    for (const kind of ['Namespace', 'ResourceQuota', 'NetworkPolicy', 'Job', 'Deployment', 'HTTPRoute', 'PrometheusRule']) {
      expect([kind, all.includes(`kind: ${kind}\n`)]).toEqual([kind, true]);
    }
  });

  test('the Pulumi program builds the platform and the team workloads under mocks', () => {
    project.write('pulumi-example/program.ts', example('pulumi/program.ts'));
    const run = project.run('pulumi-example/run', `
import * as pulumi from '@pulumi/pulumi';
import { buildDevEnvironment } from './program';

const types = new Map<string, number>();
// What each SSM parameter holds: the served states the platform's fleets and endpoint read at pulumi up.
const parameters = new Map<string, string>();
void pulumi.runtime.setMocks({
  newResource: (args) => {
    types.set(args.type, (types.get(args.type) ?? 0) + 1);
    if (args.type === 'aws:ssm/parameter:Parameter') parameters.set(args.inputs.name, args.inputs.value);
    return { id: \`\${args.name}-id\`, state: { ...args.inputs, arn: \`arn:aws:mock:us-east-1:123456789012:\${args.name}\`, name: args.inputs.name ?? args.name } };
  },
  call: (args) => {
    switch (args.token) {
      case 'aws:index/getCallerIdentity:getCallerIdentity': return { accountId: '123456789012', arn: 'arn:aws:iam::123456789012:user/u', userId: 'u', id: 'u' };
      case 'aws:index/getPartition:getPartition': return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws' };
      case 'aws:index/getRegion:getRegion': return { region: 'us-east-1', name: 'us-east-1', id: 'us-east-1' };
      case 'aws:ssm/getParameter:getParameter': {
        const value = parameters.get(args.inputs.name);
        if (value === undefined) throw new Error(\`ParameterNotFound: \${args.inputs.name}\`);
        return { name: args.inputs.name, value, insecureValue: value, type: 'String', id: args.inputs.name };
      }
      default: return args.inputs;
    }
  },
}, 'mlops', 'dev', false);
pulumi.runtime.setAllConfig({
  'mlops:vpcId': 'vpc-example', 'mlops:vpcCidrBlock': '10.0.0.0/16',
  'mlops:privateSubnetIds': '["subnet-p1","subnet-p2"]', 'mlops:isolatedSubnetIds': '["subnet-i1","subnet-i2"]',
  'mlops:mlflowImage': '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow@sha256:${'0'.repeat(64)}',
});

async function main(): Promise<void> {
  buildDevEnvironment();
  // Mocks answer synchronously: the registrations settle within a few ticks.
  let last = -1;
  for (let stable = 0; stable < 10;) {
    await new Promise((r) => setTimeout(r, 0));
    const count = [...types.values()].reduce((a, b) => a + b, 0);
    stable = count === last ? stable + 1 : 0;
    last = count;
  }
  console.log(JSON.stringify(Object.fromEntries(types)));
}
void main();
`);
    expect(run.error).toBeUndefined();
    const types = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number>;
    for (const type of ['aws:s3/bucket:Bucket', 'aws:rds/cluster:Cluster', 'aws:batch/computeEnvironment:ComputeEnvironment',
      'aws:autoscaling/group:Group', 'aws:budgets/budget:Budget', 'kubernetes:core/v1:Namespace', 'kubernetes:batch/v1:Job']) {
      expect([type, (types[type] ?? 0) > 0]).toEqual([type, true]);
    }
  });
});
