import * as pulumi from '@pulumi/pulumi';
import { IamWalk } from '../support/iam-walk';

/** One resource the engine asked the mocks to create. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly inputs: any;
}

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
/** The Elastic Load Balancing log-delivery account of us-east-1 (what CDK's logAccessLogs names there too). */
export const ELB_LOG_DELIVERY_ACCOUNT_ARN = 'arn:aws:iam::127311923021:root';

/** An MLflow tracking server image built from the package's Dockerfile and pushed to this account's ECR, by digest. */
export const MLFLOW_IMAGE = `${'123456789012'}.dkr.ecr.us-east-1.amazonaws.com/mlflow@sha256:${'0123456789abcdef'.repeat(4)}`;

const recorded: RecordedResource[] = [];
/** Values SSM parameters hold now, as `aws.ssm.getParameter` reads them (what promotion or a rollout wrote). */
const parameterValues = new Map<string, string>();

/**
 * Makes `aws.ssm.getParameter` of `name` return `value` (a served state promotion wrote since the parameter was
 * created). Without it, the invoke returns the value the program created the parameter with.
 */
export function setParameterValue(name: string, value: string): void {
  parameterValues.set(name, value);
}

/** The value a parameter holds: what was set, else the value it was created with; a missing parameter fails the invoke. */
function parameterValue(name: string): string {
  const value = parameterValues.get(name) ?? recorded.find((r) => r.type === 'aws:ssm/parameter:Parameter' && r.inputs.name === name)?.inputs.value;
  if (value === undefined) throw new Error(`ParameterNotFound: ${name}`);
  return value;
}

/** A deterministic ARN for a mocked resource. */
export function mockArn(type: string, name: string): string {
  return `arn:aws:mock:${REGION}:${ACCOUNT}:${type.split(':')[1] ?? type}/${name}`;
}

/**
 * Mocks that record every custom resource and echo its inputs back as its state, with a synthesized id (`<name>-id`),
 * ARN and name, and answer the account, partition and region invokes. Call once per test file, before creating resources.
 */
export function installMocks(stack = 'dev'): void {
  void pulumi.runtime.setMocks({
    newResource: (args) => {
      recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
      const state = {
        ...args.inputs,
        arn: mockArn(args.type, args.name),
        name: args.inputs.name ?? args.name,
        bucket: args.inputs.bucket ?? args.name,
        ...outputsOf(args.type, args.name, args.inputs),
      };
      return { id: `${args.name}-id`, state };
    },
    call: (args) => {
      switch (args.token) {
        case 'aws:index/getCallerIdentity:getCallerIdentity': return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, userId: 'test', id: ACCOUNT };
        case 'aws:index/getPartition:getPartition': return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws' };
        case 'aws:index/getRegion:getRegion': return { region: REGION, name: REGION, id: REGION };
        case 'aws:elb/getServiceAccount:getServiceAccount': return { arn: ELB_LOG_DELIVERY_ACCOUNT_ARN, id: '127311923021' };
        case 'aws:ssm/getParameter:getParameter': {
          const value = parameterValue(args.inputs.name);
          return { name: args.inputs.name, value, insecureValue: value, type: 'String', version: 1, id: args.inputs.name, arn: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${args.inputs.name}` };
        }
        default: return args.inputs;
      }
    },
  }, 'mlops-test', stack, false);
}

/** Attributes AWS computes that the components use (a cluster's endpoint, resource id and managed admin secret). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function outputsOf(type: string, name: string, inputs: any): Record<string, unknown> {
  // @pulumi/aws-native resources name themselves (CloudFormation's generated names) when not given one.
  if (type === 'aws-native:sagemaker:EndpointConfig') return { endpointConfigName: inputs.endpointConfigName ?? name };
  if (type === 'aws-native:sagemaker:InferenceComponent') return { inferenceComponentArn: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:inference-component/${inputs.inferenceComponentName ?? name}` };
  if (type !== 'aws:rds/cluster:Cluster') return {};
  return {
    endpoint: `${name}.cluster-mock.${REGION}.rds.amazonaws.com`,
    clusterResourceId: `cluster-${name}`,
    masterUserSecrets: inputs.manageMasterUserPassword
      ? [{ secretArn: mockArn('aws:secretsmanager/secret:Secret', `${name}-admin`), kmsKeyId: inputs.masterUserSecretKmsKeyId ?? `${name}-rds-default-key`, secretStatus: 'active' }]
      : [],
  };
}

/**
 * The IAM of recorded resources as the IAM walker reads it (test/support/iam-walk.ts): every role (logical id = its
 * resource name) with the customer managed policies attached to it (RolePolicyAttachment or managedPolicyArns), without
 * its boundary (which only takes away: a "cannot" claim holds with it too), to test claims such as "only this role may read that secret" with IAM's evaluation.
 */
export function pulumiIam(resources: RecordedResource[]): IamWalk {
  const policies = new Map(ofType(resources, 'aws:iam/policy:Policy').map((p) => [mockArn(p.type, p.name), JSON.parse(p.inputs.policy)]));
  const attached = (role: RecordedResource) => [
    ...ofType(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment').filter((a) => a.inputs.role === role.name).map((a) => a.inputs.policyArn),
    ...(role.inputs.managedPolicyArns ?? []),
  ];
  const Resources = Object.fromEntries(ofType(resources, 'aws:iam/role:Role').map((role) => [role.name, {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: role.name,
      AssumeRolePolicyDocument: JSON.parse(role.inputs.assumeRolePolicy),
      // A policy not recorded here (an AWS managed one) stays opaque: the walker lets it allow anything.
      ManagedPolicyArns: attached(role).filter((arn: string) => !policies.has(arn)),
      Policies: attached(role).filter((arn: string) => policies.has(arn)).map((arn: string) => ({ PolicyDocument: policies.get(arn) })),
    },
  }]));
  return new IamWalk([{ name: 'P', json: { Resources } }]);
}

/** The value of an output, once known. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => { resolve(value); return value; }));
}

/**
 * Waits until the engine has registered every resource created so far (mocks answer synchronously, so the
 * count settles within a few ticks), then returns the resources whose names start with `prefix`.
 */
export async function resourcesOf(prefix: string): Promise<RecordedResource[]> {
  let stable = 0;
  let last = -1;
  while (stable < 5) {
    await new Promise((r) => setTimeout(r, 0));
    if (recorded.length === last) {stable++;} else {
      stable = 0;
      last = recorded.length;
    }
  }
  return recorded.filter((r) => r.name === prefix || r.name.startsWith(`${prefix}-`));
}

/** Resources of one type. */
export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

/** The single resource of one type whose name ends with `suffix`. */
export function one(resources: RecordedResource[], type: string, suffix = ''): RecordedResource {
  const found = ofType(resources, type).filter((r) => r.name.endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one ${type} ending '${suffix}', found ${found.map((r) => r.name).join(', ') || 'none'}`);
  return found[0];
}

/** Captures the ValidationError a function throws. */
export function errorOf(fn: () => unknown): Error & { prop: string; problem: string; fix: string; value: unknown } {
  try {
    fn();
  } catch (e) {
    return e as Error & { prop: string; problem: string; fix: string; value: unknown };
  }
  throw new Error('expected a ValidationError, none was thrown');
}
