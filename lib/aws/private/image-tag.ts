import { Check } from '../../core';

/** ECR image tags: 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`. */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const IMAGE_TAG_TEXT = 'an image tag of 1-128 letters, digits, "_", "." or "-", not starting with "." or "-"';

/** Checks an image tag under the prop name the caller's user wrote (`imageTag` on a fleet, `tag` on a repository). */
export function checkImageTag(check: Check, prop: string, tag: string | undefined): string | undefined {
  return check.matches(prop, tag, IMAGE_TAG, IMAGE_TAG_TEXT);
}
