import { Duration, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { EnvironmentProfile } from '../core';
import { allowCloudWatchLogsToUseKey, newKey } from './private/keys';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

export interface PlatformKeyProps {
  /**
   * Alias of the key, without the `alias/` prefix.
   * @default - `mlops/<stack name>/<construct id>`
   */
  readonly aliasName?: string;
  /**
   * Days KMS waits before deleting the key once it is scheduled for deletion, 7-30.
   * @default - 7 where the profile allows destroying data, otherwise 30
   */
  readonly pendingWindowDays?: number;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Let CloudWatch Logs in this account and region encrypt log groups with the key.
   * @default true
   */
  readonly allowCloudWatchLogs?: boolean;
}

/**
 * The environment's customer managed KMS key: rotation on, retained with the data it protects outside dev,
 * and usable by CloudWatch Logs so log groups can be encrypted with it. Buckets, databases, volumes and
 * topics of the platform encrypt with it unless given their own key.
 */
export class PlatformKey extends Construct {
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: PlatformKeyProps = {}) {
    super(scope, id);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);
    const pendingWindowDays = check.integerInRange('pendingWindowDays', props.pendingWindowDays, 7, 30) ?? (profile.allowDestroy ? 7 : 30);
    const aliasName = props.aliasName ?? `mlops/${Stack.of(this).stackName}/${id}`;
    check.matches('aliasName', aliasName, /^(?!aws\/)[a-zA-Z0-9:/_-]{1,250}$/, "an alias of letters, digits, '/', '_', '-' or ':' that does not start with 'aws/'");

    this.key = newKey(this, 'Key', {
      description: `mlops-constructs platform key (${profile.name}) at ${this.node.path}`,
      enableKeyRotation: true,
      alias: aliasName,
      pendingWindow: Duration.days(pendingWindowDays),
      removalPolicy: statefulRemovalPolicy(profile),
    });

    if (props.allowCloudWatchLogs ?? true) allowCloudWatchLogsToUseKey(this.key);
  }
}
