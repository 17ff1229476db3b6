import { checkPromotingEnvironment, MODEL_ARTIFACT_LAYOUT, PromotingEnvironment } from './served-models';
import { Check } from './validation';

/**
 * What a source environment (staging) lets the promotion role of a promoting environment (prod) do, so that prod
 * promotes the package staging approved by its ARN (docs/design/served-models.md, "By ARN"): read the archives below
 * `served/` of the models bucket, decrypt them through S3, and describe the model packages. Nothing of `candidates/`,
 * of the other buckets, no writes, no approvals. Each statement names the promoting account as principal and its
 * promotion role by `aws:PrincipalArn`, so it deploys before the role exists and no other principal of that account
 * gains anything. Both engines render these statements (the CDK `shareServedModelsWith`, the Pulumi
 * `sharesServedModelsWith`), with their own values for the partition and the ARNs.
 */
export const SHARED_SERVED_MODELS_ACTIONS = Object.freeze({
  /** On `served/*` of the models bucket (bucket policy). */
  objects: Object.freeze(['s3:GetObject', 's3:GetObjectVersion']),
  /** On the store's key, through S3 only (key policy). */
  key: Object.freeze(['kms:Decrypt']),
  /** On each model package group and its packages (the group's resource policy). */
  packages: Object.freeze(['sagemaker:DescribeModelPackage', 'sagemaker:DescribeModelPackageGroup']),
});

/** The statement ids the shared statements carry (one of each per promoting account). */
export const SHARED_SERVED_MODELS_SIDS = Object.freeze({
  objects: (account: string): string => `ReadServedModelsFrom${account}`,
  key: (account: string): string => `DecryptServedModelsFor${account}`,
  packages: (account: string): string => `ReadPackagesFrom${account}`,
});

/** The principal and the condition of every shared statement: the account, and in it only the promotion role. */
function promotingPrincipal(promoting: PromotingEnvironment, partition: string) {
  return {
    principal: { AWS: `arn:${partition}:iam::${promoting.account}:root` },
    condition: { ArnEquals: { 'aws:PrincipalArn': `arn:${partition}:iam::${promoting.account}:role/${promoting.promotionRoleName}` } },
  };
}

/** The ARN pattern of the objects a promoting environment may read in the models bucket whose ARN is `modelsBucketArn`. */
export function sharedServedObjectsArn(modelsBucketArn: string): string {
  return `${modelsBucketArn}/${MODEL_ARTIFACT_LAYOUT.servedRoot}*`;
}

/**
 * The models bucket's statement: the promotion role of `promoting` may read objects below `served/`.
 * @param partition the partition (a literal, or the engine's value for it)
 * @param servedObjectsArn `<models bucket ARN>/served/*` (`sharedServedObjectsArn`)
 */
export function sharedServedModelsBucketStatement(
  promoting: PromotingEnvironment, partition: string, servedObjectsArn: string,
): Record<string, unknown> {
  const { principal, condition } = promotingPrincipal(promoting, partition);
  return {
    Sid: SHARED_SERVED_MODELS_SIDS.objects(promoting.account),
    Effect: 'Allow',
    Principal: principal,
    Action: [...SHARED_SERVED_MODELS_ACTIONS.objects],
    Resource: servedObjectsArn,
    Condition: condition,
  };
}

/**
 * The store key's statement: the promotion role of `promoting` may decrypt through S3 in `region` only. The key policy
 * cannot name the bucket (the bucket refers to the key, a circular dependency): the bucket policies decide which
 * objects, and only the models bucket's lets that role read (below `served/`).
 */
export function sharedServedModelsKeyStatement(promoting: PromotingEnvironment, partition: string, region: string): Record<string, unknown> {
  const { principal, condition } = promotingPrincipal(promoting, partition);
  return {
    Sid: SHARED_SERVED_MODELS_SIDS.key(promoting.account),
    Effect: 'Allow',
    Principal: principal,
    Action: [...SHARED_SERVED_MODELS_ACTIONS.key],
    Resource: '*',
    Condition: { ...condition, StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
  };
}

/**
 * A model package group's resource policy letting the promotion roles of `promoting` describe the group and its
 * packages; undefined when nobody promotes from here (the group then has no resource policy).
 * @param arn builds this account's and region's SageMaker ARN of a resource type and name (the engine's `formatArn`)
 */
export function sharedModelPackagesPolicy(
  promoting: readonly PromotingEnvironment[], partition: string, groupName: string, arn: (resourceType: string, resourceName: string) => string,
): { Version: string; Statement: Array<Record<string, unknown>> } | undefined {
  if (promoting.length === 0) return undefined;
  return {
    Version: '2012-10-17',
    Statement: promoting.map((p) => {
      const { principal, condition } = promotingPrincipal(p, partition);
      return {
        Sid: SHARED_SERVED_MODELS_SIDS.packages(p.account),
        Effect: 'Allow',
        Principal: principal,
        Action: [...SHARED_SERVED_MODELS_ACTIONS.packages],
        // SageMaker lower-cases the group name in model package ARNs.
        Resource: [arn('model-package-group', groupName), arn('model-package', `${groupName.toLowerCase()}/*`)],
        Condition: condition,
      };
    }),
  };
}

/**
 * Checks the environments a source shares its served models with: each well formed (`checkPromotingEnvironment`), and
 * each account once (the statement ids are per account, and a policy's ids must be unique).
 * @param already environments shared with before (the CDK's earlier `shareServedModelsWith` calls)
 */
export function checkPromotingEnvironments(
  check: Check, prop: string, promoting: readonly PromotingEnvironment[], already: readonly PromotingEnvironment[] = [],
): void {
  if (!Array.isArray(promoting)) {
    check.fail(prop, promoting, 'must be a list', 'pass [{ account: "<12-digit account>", promotionRoleName: <that environment\'s artifactStore.promotionRoleName> }].');
  }
  const seen = new Set(already.map((p) => p.account));
  for (const p of promoting) {
    checkPromotingEnvironment(check, prop, p);
    if (seen.has(p.account)) {
      check.fail(`${prop}.account`, p.account, 'is shared with already',
        'share with each promoting account once, naming its promotion role (one promotion role per environment).');
    }
    seen.add(p.account);
  }
}
