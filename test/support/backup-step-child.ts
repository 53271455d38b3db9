/**
 * One backup step in a process of its own, so that a test can kill it mid-way (a Lambda that crashed):
 * reads its options as JSON from argv[2], prints one line per batch of documents written, and the step's
 * result as the last line.
 */
import { S3Target } from "../../lambdas/adapters/s3-target";
import { runBackupStep } from "../../lambdas/core/backup/backup";

interface ChildOptions {
  uri: string;
  bucket: string;
  prefix: string;
  databases: string[];
  name: string;
  segmentBytes: number;
  resume?: string;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2]!) as ChildOptions;
  const step = await runBackupStep({
    uri: options.uri,
    target: new S3Target({ bucket: options.bucket, prefix: options.prefix, partSize: 5 * 1024 * 1024 }),
    databases: options.databases,
    name: options.name,
    segmentBytes: options.segmentBytes,
    resume: options.resume,
    // Never stops on its own: the test kills it.
    remainingMs: () => Number.POSITIVE_INFINITY,
    onProgress: (progress) => {
      if (progress.type === "documents") process.stdout.write(`documents ${progress.documents}\n`);
    },
  });
  process.stdout.write(`${JSON.stringify({ done: step.done })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
