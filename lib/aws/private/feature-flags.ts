import * as cxapi from 'aws-cdk-lib/cx-api';
import { IConstruct } from 'constructs';

/**
 * aws-cdk-lib behaviours behind feature flags that the library's constructs rely on. A plain `new App()` (a
 * user's jest tests) has no flags and an older cdk.json lacks newer ones, so each construct that relies on one
 * sets it on its own node, for its own subtree only, before creating any child: it synthesizes the same in every
 * app, and the user's other resources keep whatever the app chose.
 */
const RELIED_ON = {
  /**
   * Server access logs are granted through the target bucket's policy: the library's buckets enforce bucket-owner
   * object ownership, with which the legacy `LogDeliveryWrite` ACL cannot be used.
   */
  serverAccessLogsUseBucketPolicy: cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY,
} as const;

export type ReliedOnFlag = keyof typeof RELIED_ON;

/** Sets the flags a construct relies on, on its own node (call first in the constructor, before any child). */
export function relyOnFeatureFlags(construct: IConstruct, ...flags: ReliedOnFlag[]): void {
  for (const flag of flags) construct.node.setContext(RELIED_ON[flag], true);
}
