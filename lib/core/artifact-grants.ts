/** What a role may do with an artifact store's objects, in every engine's grant methods. */
export const ARTIFACT_READ_OBJECT_ACTIONS: readonly string[] = Object.freeze(['s3:GetObject', 's3:GetObjectVersion']);
export const ARTIFACT_WRITE_OBJECT_ACTIONS: readonly string[] = Object.freeze(['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']);
export const ARTIFACT_LIST_ACTIONS: readonly string[] = Object.freeze(['s3:ListBucket']);
export const ARTIFACT_KMS_READ_ACTIONS: readonly string[] = Object.freeze(['kms:Decrypt']);
/** S3 needs kms:Decrypt for multipart uploads with SSE-KMS; through S3 only, it does not let the writer read objects. */
export const ARTIFACT_KMS_WRITE_ACTIONS: readonly string[] = Object.freeze(['kms:Encrypt', 'kms:GenerateDataKey', 'kms:Decrypt']);

/** A key prefix grants may name: no wildcards, not starting with '/'. */
export const ARTIFACT_PREFIX_PATTERN = /^[^*?/][^*?]*$/;
export const ARTIFACT_PREFIX_TEXT = "an S3 key prefix without wildcards that does not start with '/' (e.g. 'fraud/v3/')";

/** What S3 cross-region replication needs on the source, the destination and the keys. */
export const REPLICATION_ACTIONS = Object.freeze({
  sourceBucket: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
  sourceObjects: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
  destinationObjects: ['s3:ReplicateObject', 's3:ReplicateDelete', 's3:ReplicateTags'],
});
