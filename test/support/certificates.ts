import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';
import { EnvironmentProfile } from 'mlops-constructs';

/** An ACM certificate ARN of the shape ACM issues (what tests give where a profile requires TLS). */
export const TEST_CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:111111111111:certificate/0b6a1e3c-2d4f-4a5b-9c8d-7e6f5a4b3c2d';

/** The test certificate imported in `scope`, where the profile requires TLS (staging, prod); none in dev. */
export function certificateFor(scope: Construct, profile: EnvironmentProfile, id = 'TestCertificate'): acm.ICertificate | undefined {
  return profile.requireTls ? acm.Certificate.fromCertificateArn(scope, id, TEST_CERTIFICATE_ARN) : undefined;
}

/** `certificateArn` for an MlopsPlatform under `profile`: the test certificate where the profile requires TLS. */
export function certificateArnFor(profile: EnvironmentProfile): { certificateArn?: string } {
  return profile.requireTls ? { certificateArn: TEST_CERTIFICATE_ARN } : {};
}
