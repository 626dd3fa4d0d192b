import type { EmulatorRecord } from './state-file';

/**
 * Credentials for the emulators. moto accepts any pair and serves account 123456789012;
 * DynamoDB Local runs with -sharedDb, so the pair does not select a database either.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

/** What `localAwsEnv` needs: where each emulator answers. */
export interface LocalAwsEndpoints {
  readonly moto: Pick<EmulatorRecord, 'endpoint'>;
  readonly dynamodb: Pick<EmulatorRecord, 'endpoint'>;
  readonly region: string;
}

/** Variables a shell should drop so that nothing reaches a real account through a profile or token. */
export const LOCAL_AWS_UNSET: readonly string[] = ['AWS_PROFILE', 'AWS_SESSION_TOKEN'];

/**
 * The environment that points the AWS SDK, the CDK toolkit and the AWS CLI at the emulators.
 *
 * DynamoDB and DynamoDB Streams go to DynamoDB Local; everything else to moto on 127.0.0.1 (an IP
 * endpoint makes the SDK's S3 client use path-style URLs by itself). moto finds the bucket of a
 * CloudFormation TemplateURL only when the host is `localhost` or `s3*.amazonaws.com`, so the CDK
 * toolkit is given `localhost` for the template URLs it builds
 * (AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION).
 */
export function localAwsEnv(endpoints: LocalAwsEndpoints): Record<string, string> {
  const moto = new URL(endpoints.moto.endpoint);
  return {
    AWS_ENDPOINT_URL: endpoints.moto.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoints.dynamodb.endpoint,
    AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: `${moto.protocol}//localhost:${moto.port}`,
    AWS_REGION: endpoints.region,
    AWS_DEFAULT_REGION: endpoints.region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
}

/** `unset` and `export` lines for `eval` in a POSIX shell. */
export function shellExports(env: Record<string, string>, unset: readonly string[] = LOCAL_AWS_UNSET): string {
  const lines = unset.length > 0 ? [`unset ${unset.join(' ')}`] : [];
  for (const [name, value] of Object.entries(env)) lines.push(`export ${name}=${shellQuote(value)}`);
  return lines.join('\n') + '\n';
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
