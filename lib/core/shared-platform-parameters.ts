import { EnvironmentProfile } from './profiles';
import { platformParameterName } from './served-models';
import { Check } from './validation';

/**
 * The contract between an environment's data stack and the team repositories that use it: the SSM parameters the data
 * stack writes, one per attribute an import needs, named only from the environment prefix (`<project>-<env>` or the
 * platform's `stackNamePrefix`), never from construct ids, so renaming or moving a construct never breaks a team.
 *
 * Every name is `/mlops/<environment prefix>/shared/<component>/<attribute>`. Lists (zones, subnets, route tables)
 * are comma-separated, in zone order.
 */
export interface SharedPlatformParameterNames {
  readonly artifactStore: {
    /** Bucket name per purpose: `.../artifact-store/bucket-names/<purpose>`. */
    readonly bucketNames: { readonly datasets: string; readonly models: string; readonly artifacts: string };
    readonly accessLogBucketName: string;
    /** ARN of the key the buckets (and the rest of the environment) are encrypted with. */
    readonly encryptionKeyArn: string;
    /** Name of the only role that may write `served/` in the models bucket. */
    readonly promotionRoleName: string;
  };
  readonly modelRegistry: {
    readonly clusterIdentifier: string;
    readonly clusterResourceIdentifier: string;
    readonly clusterEndpointAddress: string;
    readonly port: string;
    readonly securityGroupId: string;
    readonly secretArn: string;
  };
  readonly images: {
    readonly trainingRepositoryName: string;
    readonly servingRepositoryName: string;
  };
  readonly network: {
    readonly vpcId: string;
    readonly vpcCidrBlock: string;
    readonly availabilityZones: string;
    readonly publicSubnetIds: string;
    readonly publicSubnetRouteTableIds: string;
    readonly privateSubnetIds: string;
    readonly privateSubnetRouteTableIds: string;
    readonly isolatedSubnetIds: string;
    readonly isolatedSubnetRouteTableIds: string;
  };
}

/** Letters, digits and hyphens, starting with a letter: what begins the stack names and the parameter names. */
export const ENVIRONMENT_PREFIX_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,99}$/;

/** The SSM parameter names of an environment's shared attributes (see `SharedPlatformParameterNames`). */
export function sharedPlatformParameterNames(environmentPrefix: string): SharedPlatformParameterNames {
  const name = (...parts: string[]) => platformParameterName(environmentPrefix, 'shared', ...parts);
  return {
    artifactStore: {
      bucketNames: {
        datasets: name('artifact-store', 'bucket-names', 'datasets'),
        models: name('artifact-store', 'bucket-names', 'models'),
        artifacts: name('artifact-store', 'bucket-names', 'artifacts'),
      },
      accessLogBucketName: name('artifact-store', 'access-log-bucket-name'),
      encryptionKeyArn: name('artifact-store', 'encryption-key-arn'),
      promotionRoleName: name('artifact-store', 'promotion-role-name'),
    },
    modelRegistry: {
      clusterIdentifier: name('model-registry', 'cluster-identifier'),
      clusterResourceIdentifier: name('model-registry', 'cluster-resource-identifier'),
      clusterEndpointAddress: name('model-registry', 'cluster-endpoint-address'),
      port: name('model-registry', 'port'),
      securityGroupId: name('model-registry', 'security-group-id'),
      secretArn: name('model-registry', 'secret-arn'),
    },
    images: {
      trainingRepositoryName: name('images', 'training-repository-name'),
      servingRepositoryName: name('images', 'serving-repository-name'),
    },
    network: {
      vpcId: name('network', 'vpc-id'),
      vpcCidrBlock: name('network', 'vpc-cidr-block'),
      availabilityZones: name('network', 'availability-zones'),
      publicSubnetIds: name('network', 'public-subnet-ids'),
      publicSubnetRouteTableIds: name('network', 'public-subnet-route-table-ids'),
      privateSubnetIds: name('network', 'private-subnet-ids'),
      privateSubnetRouteTableIds: name('network', 'private-subnet-route-table-ids'),
      isolatedSubnetIds: name('network', 'isolated-subnet-ids'),
      isolatedSubnetRouteTableIds: name('network', 'isolated-subnet-route-table-ids'),
    },
  };
}

/** Every parameter name of the contract, flattened (for tests, policies and documentation). */
export function allSharedPlatformParameterNames(environmentPrefix: string): string[] {
  const flatten = (value: unknown): string[] => (typeof value === 'string' ? [value] : Object.values(value as object).flatMap(flatten));
  return flatten(sharedPlatformParameterNames(environmentPrefix));
}

/**
 * The environment prefix of a platform: its `stackNamePrefix`, else `<project>-<profile name>` (as `MlopsPlatform`
 * names its stacks). Validated: it begins stack names and SSM parameter names.
 */
export function environmentPrefixOf(scope: string, options: { project?: string; profile: EnvironmentProfile; environmentPrefix?: string }): string {
  const check = new Check(scope);
  const text = 'letters, digits and hyphens, starting with a letter';
  if (options.environmentPrefix !== undefined) {
    return check.matches('environmentPrefix', options.environmentPrefix, ENVIRONMENT_PREFIX_PATTERN,
      `${text} (the platform's stackNamePrefix)`, "use the platform's stackNamePrefix, e.g. 'fraud-prod', or omit it and give 'project'.")!;
  }
  if (options.project === undefined) {
    check.fail('project', undefined, 'is required without environmentPrefix',
      "give the project the platform was built with (MlopsPlatformProps.project), e.g. project: 'fraud'.");
  }
  check.matches('project', options.project, ENVIRONMENT_PREFIX_PATTERN, `${text} (it begins the stack names <project>-<env>-data and -platform)`,
    "use the platform's project name, such as 'fraud'.");
  const prefix = `${options.project}-${options.profile.name}`;
  return check.matches('profile.name', prefix, ENVIRONMENT_PREFIX_PATTERN, `${text} once joined to the project (${prefix})`,
    "use a profile whose name is letters, digits and hyphens, e.g. EnvironmentProfile.prod() or EnvironmentProfile.named('perf').")!;
}

/**
 * Availability zones of an environment's network when it does not set `maxAzs` (as `MlopsPlatform` does not): 3 where
 * the profile is multi-AZ, else 2. A region with fewer zones gets fewer.
 */
export function defaultNetworkZoneCount(profile: EnvironmentProfile): number {
  return profile.multiAz ? 3 : 2;
}
