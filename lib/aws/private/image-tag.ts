import { IMAGE_TAG_PATTERN, validateImageTag } from '../../core';

/** ECR image tags: 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-` (shared with the Pulumi components). */
export const IMAGE_TAG = IMAGE_TAG_PATTERN;

/** Checks an image tag under the prop name the caller's user wrote (`imageTag` on a fleet, `tag` on a repository). */
export const checkImageTag = validateImageTag;
