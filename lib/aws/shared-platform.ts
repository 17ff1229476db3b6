import { CfnElement, CfnParameter, Fn, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';
import {
  ArtifactPurpose, DEFAULT_MODEL_REGISTRY_PORT, defaultNetworkZoneCount, EnvironmentProfile, environmentPrefixOf, SharedPlatformParameterNames,
  sharedPlatformParameterNames,
} from '../core';
import { ArtifactStore, IArtifactStore } from './artifact-store';
import { IImageRepository, ImageRepository } from './image-repository';
import { IModelRegistry, ModelRegistry } from './model-registry';
import { checkFor } from './scope';

/**
 * A shared MLOps environment as a team's app sees it: the data stack's network, artifact store, key, model registry
 * and image repositories, imported (never owned: nothing the team deploys can replace or delete them).
 */
export interface ISharedPlatform extends IConstruct {
  /** The environment prefix the attributes were read under (`<project>-<env>`, or the platform's `stackNamePrefix`). */
  readonly environmentPrefix: string;
  /** The SSM parameter names the attributes were read from. */
  readonly parameterNames: SharedPlatformParameterNames;
  readonly vpc: ec2.IVpc;
  readonly artifactStore: IArtifactStore;
  /** The environment's key (the artifact store's). */
  readonly encryptionKey: kms.IKey;
  readonly modelRegistry: IModelRegistry;
  readonly trainingImages: IImageRepository;
  readonly servingImages: IImageRepository;
}

/** Which environment `MlopsPlatform.fromEnvironment` imports. */
export interface SharedPlatformImportProps {
  /** Profile of the environment (its name is the environment's name, e.g. `EnvironmentProfile.prod()` for `prod`). */
  readonly profile: EnvironmentProfile;
  /**
   * Project the platform was built with (`MlopsPlatformProps.project`).
   * @default - required unless `environmentPrefix` is given
   */
  readonly project?: string;
  /**
   * The platform's `stackNamePrefix`, when it set one.
   * @default - `<project>-<profile name>`, as `MlopsPlatform` names an environment
   */
  readonly environmentPrefix?: string;
  /**
   * Availability zones of the platform's network. The import cannot read the count at synthesis (it reads the
   * parameters at deploy time, so a team's app synthesizes without an AWS account); the data stack warns at synthesis
   * when its network has another count.
   * @default - 3 where the profile is multi-AZ, otherwise 2 (what `MlopsPlatform`'s network has)
   */
  readonly availabilityZoneCount?: number;
  /**
   * Port of the model registry database. Read at synthesis, not from the environment's `model-registry/port`
   * parameter: security group rules need a literal port for CloudFormation's integer ports and the compliance rules.
   * @default 5433 (the `ModelRegistry` default, which `MlopsPlatform` uses)
   */
  readonly modelRegistryPort?: number;
}

/**
 * Reads an environment's shared attributes from the SSM parameters its data stack writes
 * (`sharedPlatformParameterNames(environmentPrefix)`), at deploy time: each becomes a template parameter of type
 * `AWS::SSM::Parameter::Value<String>`, so the team's stack must deploy in the platform's account and region.
 */
export class ImportedSharedPlatform extends Construct implements ISharedPlatform {
  public readonly environmentPrefix: string;
  public readonly parameterNames: SharedPlatformParameterNames;
  public readonly vpc: ec2.IVpc;
  public readonly artifactStore: IArtifactStore;
  public readonly encryptionKey: kms.IKey;
  public readonly modelRegistry: IModelRegistry;
  public readonly trainingImages: IImageRepository;
  public readonly servingImages: IImageRepository;
  private readonly parameters = new Map<string, CfnParameter>();

  constructor(scope: Construct, id: string, props: SharedPlatformImportProps) {
    super(scope, id);
    const check = checkFor(this);
    if (typeof props?.profile?.name !== 'string' || typeof props.profile.multiAz !== 'boolean') {
      check.fail('profile', props?.profile, 'must be an EnvironmentProfile', 'pass the profile of the environment to import, e.g. EnvironmentProfile.prod().');
    }
    this.environmentPrefix = environmentPrefixOf(this.node.path, props);
    const zones = check.integerInRange('availabilityZoneCount', props.availabilityZoneCount, 1, 6) ?? defaultNetworkZoneCount(props.profile);
    const names = sharedPlatformParameterNames(this.environmentPrefix);
    this.parameterNames = names;
    const value = (name: string) => this.parameterValue(name);
    const list = (name: string) => Fn.split(',', value(name), zones);

    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: value(names.network.vpcId),
      vpcCidrBlock: value(names.network.vpcCidrBlock),
      availabilityZones: list(names.network.availabilityZones),
      publicSubnetIds: list(names.network.publicSubnetIds),
      publicSubnetRouteTableIds: list(names.network.publicSubnetRouteTableIds),
      privateSubnetIds: list(names.network.privateSubnetIds),
      privateSubnetRouteTableIds: list(names.network.privateSubnetRouteTableIds),
      isolatedSubnetIds: list(names.network.isolatedSubnetIds),
      isolatedSubnetRouteTableIds: list(names.network.isolatedSubnetRouteTableIds),
    });
    this.artifactStore = ArtifactStore.fromArtifactStoreAttributes(this, 'ArtifactStore', {
      bucketNames: {
        [ArtifactPurpose.DATASETS]: value(names.artifactStore.bucketNames.datasets),
        [ArtifactPurpose.MODELS]: value(names.artifactStore.bucketNames.models),
        [ArtifactPurpose.ARTIFACTS]: value(names.artifactStore.bucketNames.artifacts),
      },
      accessLogBucketName: value(names.artifactStore.accessLogBucketName),
      encryptionKeyArn: value(names.artifactStore.encryptionKeyArn),
      promotionRoleName: value(names.artifactStore.promotionRoleName),
    });
    this.encryptionKey = this.artifactStore.encryptionKey;
    this.modelRegistry = ModelRegistry.fromModelRegistryAttributes(this, 'ModelRegistry', {
      clusterIdentifier: value(names.modelRegistry.clusterIdentifier),
      clusterResourceIdentifier: value(names.modelRegistry.clusterResourceIdentifier),
      clusterEndpointAddress: value(names.modelRegistry.clusterEndpointAddress),
      port: check.integerInRange('modelRegistryPort', props.modelRegistryPort, 1150, 65535) ?? DEFAULT_MODEL_REGISTRY_PORT,
      securityGroupId: value(names.modelRegistry.securityGroupId),
      secretArn: value(names.modelRegistry.secretArn),
    });
    this.trainingImages = ImageRepository.fromRepositoryName(this, 'TrainingImages', value(names.images.trainingRepositoryName));
    this.servingImages = ImageRepository.fromRepositoryName(this, 'ServingImages', value(names.images.servingRepositoryName));
    // Only the attributes the team's resources use become template parameters: an unused one is noise that cfn-lint
    // reports (W2001) and one more value CloudFormation must resolve on every deploy.
    this.node.addValidation({ validate: () => this.dropUnusedParameters() });
  }

  /** The value of an SSM parameter at deploy time: a template parameter of type `AWS::SSM::Parameter::Value<String>`. */
  private parameterValue(name: string): string {
    let parameter = this.parameters.get(name);
    if (!parameter) {
      parameter = new CfnParameter(this, name.split('/').slice(4).join('-'), {
        type: SSM_STRING_VALUE,
        default: name,
        description: `${name}, written by the environment's data stack (MlopsPlatform)`,
      });
      this.parameters.set(name, parameter);
    }
    return parameter.valueAsString;
  }

  /**
   * Runs after CDK resolved references (nested stacks and other stacks reach a parameter through this stack's own
   * elements by then), so a parameter no element of this stack refers to is used nowhere.
   */
  private dropUnusedParameters(): string[] {
    const stack = Stack.of(this);
    const own = new Set<CfnElement>(this.parameters.values());
    const rendered = stack.node.findAll()
      .filter((c): c is CfnElement => CfnElement.isCfnElement(c) && !own.has(c) && Stack.of(c) === stack)
      .map((e) => JSON.stringify(stack.resolve((e as unknown as Renderable)._toCloudFormation())));
    const text = rendered.join('\n');
    for (const [name, parameter] of this.parameters) {
      if (!text.includes(`{"Ref":"${stack.resolve(parameter.logicalId)}"}`)) {
        this.node.tryRemoveChild(parameter.node.id);
        this.parameters.delete(name);
      }
    }
    return [];
  }
}

const SSM_STRING_VALUE = 'AWS::SSM::Parameter::Value<String>';

/** What every CfnElement implements (aws-cdk-lib's internal rendering of a template fragment). */
interface Renderable {
  _toCloudFormation(): object;
}
