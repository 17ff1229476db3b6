import { StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentProfile, MlopsStack, PlatformKey } from 'mlops-constructs';

export interface PlatformEnvironmentProps extends StackProps {
  readonly profile: EnvironmentProfile;
}

/**
 * One environment of the reference platform. It grows as the library does; every environment is built
 * from the same code and differs only by its profile.
 */
export class PlatformEnvironment extends MlopsStack {
  public readonly platformKey: PlatformKey;

  constructor(scope: Construct, id: string, props: PlatformEnvironmentProps) {
    super(scope, id, {
      ...props,
      project: 'mlops-reference',
      costCenter: 'ml-platform',
      description: `mlops-constructs reference platform (${props.profile.name})`,
    });
    this.platformKey = new PlatformKey(this, 'PlatformKey');
  }
}
