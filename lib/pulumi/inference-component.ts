import * as pulumi from '@pulumi/pulumi';
import { Check } from '../core';

/**
 * The SageMaker resources of an endpoint hosted as an inference component (scale to zero), from `@pulumi/aws-native`,
 * whose resources mirror CloudFormation's (the CDK `ModelEndpoint` renders `AWS::SageMaker::InferenceComponent` and
 * `AWS::SageMaker::EndpointConfig`): the Pulumi AWS provider has no inference component, and its endpoint
 * configuration cannot carry the role, VPC and network isolation an endpoint of inference components runs them with.
 *
 * `@pulumi/aws-native` is an optional peer dependency, loaded (its `sagemaker` module only) when an endpoint hosts an
 * inference component, so programs without one neither install nor load it.
 */

/** The resource types, as the engine (and its mocks) names them. */
export const AWS_NATIVE_TYPES = Object.freeze({
  endpointConfig: 'aws-native:sagemaker:EndpointConfig',
  inferenceComponent: 'aws-native:sagemaker:InferenceComponent',
});

/** An `@pulumi/aws-native` tag. */
export interface AwsNativeTag {
  readonly key: string;
  readonly value: string;
}

/** The endpoint configuration's inputs this library sets (`aws-native.sagemaker.EndpointConfigArgs`). */
export interface ComponentEndpointConfigArgs {
  readonly productionVariants: Array<{
    readonly variantName: string;
    readonly initialInstanceCount: number;
    readonly instanceType: string;
    readonly managedInstanceScaling: { readonly status: 'ENABLED'; readonly minInstanceCount: number; readonly maxInstanceCount: number };
    readonly routingConfig: { readonly routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' };
  }>;
  readonly kmsKeyId?: pulumi.Input<string>;
  readonly executionRoleArn: pulumi.Input<string>;
  readonly vpcConfig: { readonly subnets: pulumi.Input<pulumi.Input<string>[]>; readonly securityGroupIds: pulumi.Input<string>[] };
  readonly enableNetworkIsolation: boolean;
  readonly dataCaptureConfig: {
    readonly enableCapture: boolean;
    readonly initialSamplingPercentage: number;
    readonly destinationS3Uri: pulumi.Input<string>;
    readonly kmsKeyId: pulumi.Input<string>;
    readonly captureOptions: Array<{ readonly captureMode: 'Input' | 'Output' }>;
  };
  readonly tags: AwsNativeTag[];
}

/** An `aws-native.sagemaker.EndpointConfig`. */
export interface ComponentEndpointConfig extends pulumi.CustomResource {
  readonly endpointConfigName: pulumi.Output<string>;
}

/** The inference component's inputs this library sets (`aws-native.sagemaker.InferenceComponentArgs`). */
export interface InferenceComponentArgs {
  readonly inferenceComponentName: string;
  readonly endpointName: pulumi.Input<string>;
  readonly variantName: string;
  readonly specification: {
    readonly modelName: pulumi.Input<string>;
    readonly computeResourceRequirements: { readonly numberOfAcceleratorDevicesRequired: number; readonly minMemoryRequiredInMb: number };
  };
  readonly runtimeConfig: { readonly copyCount: number };
  readonly deploymentConfig: {
    readonly rollingUpdatePolicy: {
      readonly maximumBatchSize: { readonly type: 'CAPACITY_PERCENT'; readonly value: number };
      readonly waitIntervalInSeconds: number;
      readonly maximumExecutionTimeoutInSeconds: number;
    };
    readonly autoRollbackConfiguration?: { readonly alarms: Array<{ readonly alarmName: pulumi.Input<string> }> };
  };
  readonly tags: AwsNativeTag[];
}

/** An `aws-native.sagemaker.InferenceComponent`. */
export interface InferenceComponent extends pulumi.CustomResource {
  readonly inferenceComponentArn: pulumi.Output<string>;
}

interface AwsNativeSagemaker {
  EndpointConfig: new (name: string, args: ComponentEndpointConfigArgs, opts?: pulumi.CustomResourceOptions) => ComponentEndpointConfig;
  InferenceComponent: new (name: string, args: InferenceComponentArgs, opts?: pulumi.CustomResourceOptions) => InferenceComponent;
}

/** Where an endpoint's scale to zero came from: its args, or its profile's default (a profile with working hours). */
export interface ScaleToZeroSource {
  /** `scaleToZeroOffHours` as given (undefined: the profile's default). */
  readonly scaleToZeroOffHours?: boolean;
  /** The profile whose default it is. */
  readonly profileName: string;
}

/**
 * `@pulumi/aws-native/sagemaker`, or a ValidationError saying how to install it or do without; it says whether scale to
 * zero was set or is the profile's default (a user who never set it learns where it came from).
 */
export function awsNativeSagemaker(check: Check, source: ScaleToZeroSource): AwsNativeSagemaker {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@pulumi/aws-native/sagemaker') as AwsNativeSagemaker;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    const set = source.scaleToZeroOffHours !== undefined;
    const origin = set ? 'is true' : `is not set and defaults to true in the '${source.profileName}' profile (it has working hours)`;
    return check.fail('scaleToZeroOffHours', source.scaleToZeroOffHours,
      `${origin}: the endpoint hosts the model as a SageMaker inference component, which needs the @pulumi/aws-native package (the AWS provider has none)`,
      "run 'npm install @pulumi/aws-native' (and set 'aws-native:region'), or set 'scaleToZeroOffHours: false' "
      + (set ? '(one instance outside working hours).' : `to override the '${source.profileName}' profile's default (one instance outside working hours).`));
  }
}

/** Tags as `@pulumi/aws-native` takes them. */
export function awsNativeTags(tags: Record<string, string>): AwsNativeTag[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}
