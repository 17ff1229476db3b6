import { StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ArtifactStore, EnvironmentProfile, ImageRepository, MlopsStack, ModelRegistry, PlatformKey, PlatformNetwork } from 'mlops-constructs';

export interface PlatformEnvironmentProps extends StackProps {
  readonly profile: EnvironmentProfile;
}

/**
 * One environment of the reference platform. It grows as the library does; every environment is built
 * from the same code and differs only by its profile.
 */
export class PlatformEnvironment extends MlopsStack {
  public readonly platformKey: PlatformKey;
  public readonly artifactStore: ArtifactStore;
  public readonly trainingImages: ImageRepository;
  public readonly servingImages: ImageRepository;
  public readonly network: PlatformNetwork;
  public readonly modelRegistry: ModelRegistry;

  constructor(scope: Construct, id: string, props: PlatformEnvironmentProps) {
    super(scope, id, {
      ...props,
      project: 'mlops-reference',
      costCenter: 'ml-platform',
      description: `mlops-constructs reference platform (${props.profile.name})`,
    });
    this.platformKey = new PlatformKey(this, 'PlatformKey');
    this.artifactStore = new ArtifactStore(this, 'ArtifactStore', { encryptionKey: this.platformKey.key });
    this.trainingImages = new ImageRepository(this, 'TrainingImages', { repositoryName: `${this.stackName}/training`, encryptionKey: this.platformKey.key });
    this.servingImages = new ImageRepository(this, 'ServingImages', { repositoryName: `${this.stackName}/serving`, encryptionKey: this.platformKey.key });
    this.network = new PlatformNetwork(this, 'Network', { encryptionKey: this.platformKey.key });
    this.modelRegistry = new ModelRegistry(this, 'ModelRegistry', { vpc: this.network.vpc, encryptionKey: this.platformKey.key });
    this.modelRegistry.addModelPackageGroup('fraud-detector', 'Card-payment fraud scoring models');
  }
}
