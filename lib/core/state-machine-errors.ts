/** Errors that mean "slow down" (Step Functions names a service's errors `<Service>.<Exception>`). */
const THROTTLING: readonly string[] = [
  'ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown', 'ProvisionedThroughputExceededException',
];

/** Errors of the service itself (5xx): the same call may succeed when repeated. */
const SERVER: readonly string[] = [
  'InternalServerError', 'InternalServerException', 'InternalFailure', 'ServiceUnavailable', 'ServiceUnavailableException', 'ServerException',
];

/** The throttling errors of `services` (as Step Functions names them: bare and `<Service>.<Exception>`). */
export function throttlingErrors(services: readonly string[]): string[] {
  return [...THROTTLING, ...services.flatMap((s) => THROTTLING.map((t) => `${s}.${t}`))];
}

/** The throttling and server-side errors of `services`: what a Retry repeats (never the caller's own mistakes). */
export function transientServiceErrors(services: readonly string[]): string[] {
  return [...throttlingErrors(services), ...SERVER, ...services.flatMap((s) => SERVER.map((t) => `${s}.${t}`))];
}
