import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { createS3Client } from "../../../lambdas/adapters/aws-clients";
import { parseMongoUri } from "../../../lambdas/core/mongo/uri";

/** Test fixtures on moto: secrets, buckets, and an SNS topic whose messages land in an SQS queue to read. */

export function secretsClient(): SecretsManagerClient {
  return new SecretsManagerClient({});
}

export async function createSecret(name: string, value: string | Record<string, unknown>): Promise<string> {
  const SecretString = typeof value === "string" ? value : JSON.stringify(value);
  const output = await secretsClient().send(new CreateSecretCommand({ Name: name, SecretString }));
  return output.ARN!;
}

export async function putSecretValue(name: string, value: Record<string, unknown>): Promise<void> {
  await secretsClient().send(
    new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify(value) }),
  );
}

/** A database-credentials secret (the shape rotation writes) for a FerretDB test URI. */
export function credentialsFor(uri: string, overrides: { password?: string; database: string }) {
  const parsed = parseMongoUri(uri);
  const userInfo = /^mongodb:\/\/([^@]+)@/.exec(uri)?.[1] ?? "";
  const password = decodeURIComponent(userInfo.split(":")[1] ?? "");
  return {
    username: parsed.username ?? "",
    password: overrides.password ?? password,
    host: parsed.hosts.join(","),
    scheme: "mongodb",
    database: overrides.database,
    options: parsed.options.toString(),
  };
}

export async function createBucket(name: string): Promise<S3Client> {
  const s3 = createS3Client();
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return s3;
}

export interface TopicWithQueue {
  topicArn: string;
  /** Messages published to the topic and not yet received (waits up to `waitSeconds` for at least one). */
  receive(waitSeconds?: number): Promise<{ Subject?: string; Message: string }[]>;
}

export async function createTopicWithQueue(name: string): Promise<TopicWithQueue> {
  const sns = new SNSClient({});
  const sqs = new SQSClient({});
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  await sns.send(
    new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: attributes.Attributes!.QueueArn }),
  );
  return {
    topicArn: TopicArn!,
    async receive(waitSeconds = 10) {
      // Delivery through SNS to SQS is asynchronous: poll until something arrived or the wait is over.
      const deadline = Date.now() + waitSeconds * 1000;
      do {
        const output = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        if (output.Messages?.length) {
          for (const message of output.Messages) {
            await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));
          }
          return output.Messages.map(
            (message) => JSON.parse(message.Body!) as { Subject?: string; Message: string },
          );
        }
      } while (Date.now() < deadline);
      return [];
    },
  };
}
