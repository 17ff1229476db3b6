import { Annotations, Fn, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ArtifactPurpose, defaultNetworkZoneCount, EnvironmentProfile, SharedPlatformParameterNames, sharedPlatformParameterNames } from '../../core';
import { ArtifactStore } from '../artifact-store';
import { ImageRepository } from '../image-repository';
import { ModelRegistry } from '../model-registry';

/** What an environment's data stack publishes for team repositories (see `SharedPlatformParameterNames`). */
export interface SharedPlatformParametersProps {
  readonly environmentPrefix: string;
  readonly profile: EnvironmentProfile;
  readonly vpc: ec2.IVpc;
  readonly artifactStore: ArtifactStore;
  readonly modelRegistry: ModelRegistry;
  readonly trainingImages: ImageRepository;
  readonly servingImages: ImageRepository;
}

/**
 * One SSM String parameter per attribute a team repository's import needs (`MlopsPlatform.fromEnvironment`), named by
 * core's `sharedPlatformParameterNames(environmentPrefix)`: values are Refs and GetAtts of the data stack's own
 * resources, so they follow a replacement, and no CloudFormation export locks them.
 */
export class SharedPlatformParameters extends Construct {
  /** The parameters' names (the contract). */
  public readonly names: SharedPlatformParameterNames;
  /** The parameters by name. */
  public readonly parameters = new Map<string, ssm.StringParameter>();

  constructor(scope: Construct, id: string, props: SharedPlatformParametersProps) {
    super(scope, id);
    const names = sharedPlatformParameterNames(props.environmentPrefix);
    this.names = names;
    const store = props.artifactStore;
    const registry = props.modelRegistry;
    const vpc = props.vpc;

    for (const purpose of [ArtifactPurpose.DATASETS, ArtifactPurpose.MODELS, ArtifactPurpose.ARTIFACTS]) {
      this.publish(names.artifactStore.bucketNames[purpose], store.bucket(purpose).bucketName, `Name of the ${purpose} bucket`);
    }
    this.publish(names.artifactStore.accessLogBucketName, store.accessLogBucket.bucketName, 'Name of the access-log bucket');
    this.publish(names.artifactStore.encryptionKeyArn, store.encryptionKey.keyArn, 'ARN of the key the buckets are encrypted with');
    this.publish(names.artifactStore.promotionRoleName, store.promotionRoleName, 'Name of the only role that may write served/ in the models bucket');

    this.publish(names.modelRegistry.clusterIdentifier, registry.cluster.clusterIdentifier, 'Model registry DB cluster identifier');
    this.publish(names.modelRegistry.clusterResourceIdentifier, registry.cluster.clusterResourceIdentifier,
      'Model registry DB cluster resource id (IAM database authentication)');
    this.publish(names.modelRegistry.clusterEndpointAddress, registry.cluster.clusterEndpoint.hostname, 'Model registry writer endpoint address');
    this.publish(names.modelRegistry.port, Token.asString(registry.cluster.clusterEndpoint.port), 'Model registry database port');
    this.publish(names.modelRegistry.securityGroupId, registry.connections.securityGroups[0].securityGroupId, 'Model registry security group id');
    this.publish(names.modelRegistry.secretArn, registry.secret.secretArn, 'Complete ARN of the model registry admin secret');

    this.publish(names.images.trainingRepositoryName, props.trainingImages.repository.repositoryName, 'Training image repository name');
    this.publish(names.images.servingRepositoryName, props.servingImages.repository.repositoryName, 'Serving image repository name');

    const list = (values: string[]) => Fn.join(',', values);
    this.publish(names.network.vpcId, vpc.vpcId, 'VPC id');
    this.publish(names.network.vpcCidrBlock, vpc.vpcCidrBlock, 'VPC IPv4 range');
    this.publish(names.network.availabilityZones, list(vpc.availabilityZones), 'Availability zones of the subnets, comma-separated');
    const groups = [['public', vpc.publicSubnets], ['private', vpc.privateSubnets], ['isolated', vpc.isolatedSubnets]] as const;
    const subnetNames = {
      public: [names.network.publicSubnetIds, names.network.publicSubnetRouteTableIds],
      private: [names.network.privateSubnetIds, names.network.privateSubnetRouteTableIds],
      isolated: [names.network.isolatedSubnetIds, names.network.isolatedSubnetRouteTableIds],
    };
    for (const [group, subnets] of groups) {
      const [idsName, routeTablesName] = subnetNames[group];
      this.publish(idsName, list(subnets.map((s) => s.subnetId)), `Ids of the ${group} subnets, one per zone in zone order`);
      this.publish(routeTablesName, list(subnets.map((s) => s.routeTable.routeTableId)), `Route tables of the ${group} subnets, in zone order`);
    }

    // An import assumes the zone count of the profile's network (it cannot read a count at synthesis without an account).
    const zones = vpc.availabilityZones.length;
    const expected = defaultNetworkZoneCount(props.profile);
    if (zones !== expected) {
      Annotations.of(this).addWarningV2('mlops-constructs:sharedPlatformZones',
        `The network has ${zones} availability zones where a '${props.profile.name}' environment normally has ${expected}: team repositories `
        + `must pass availabilityZoneCount: ${zones} to MlopsPlatform.fromEnvironment.`);
    }
  }

  private publish(parameterName: string, value: string, description: string): void {
    const id = parameterName.split('/').slice(4).join('-');
    this.parameters.set(parameterName, new ssm.StringParameter(this, id, {
      parameterName,
      stringValue: value,
      tier: ssm.ParameterTier.STANDARD,
      description: `${description} (read by team repositories: MlopsPlatform.fromEnvironment)`,
    }));
  }
}
