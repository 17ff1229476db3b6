import { Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';

/** What AWS Control Tower's CT.CLOUDWATCH.PR.2 asks of every log group. */
const CONTROL_TOWER_MINIMUM_RETENTION_DAYS = 365;

/**
 * A log group kept shorter than a year because the environment profile says so (dev 14 days, staging 90, for cost):
 * acknowledges CT.CLOUDWATCH.PR.2 on it, with the reason and the way to comply. An organization that enforces the
 * control at deploy time sets the profile's `logRetentionDays` to 365 or more, and the acknowledgement disappears.
 */
export function acknowledgeProfileLogRetention(logGroup: logs.LogGroup, retentionDays: number): void {
  if (retentionDays >= CONTROL_TOWER_MINIMUM_RETENTION_DAYS) return;
  Validations.of(logGroup).acknowledge({
    id: 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check',
    reason: `Kept ${retentionDays} days, the environment profile's logRetentionDays (shorter outside prod for cost). Where Control Tower `
      + `enforces CT.CLOUDWATCH.PR.2, set the profile's logRetentionDays to ${CONTROL_TOWER_MINIMUM_RETENTION_DAYS} or more, e.g. `
      + `EnvironmentProfile.dev({ logRetentionDays: ${CONTROL_TOWER_MINIMUM_RETENTION_DAYS} }).`,
  });
}
