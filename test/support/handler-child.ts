/**
 * A Lambda handler invoked once in a process of its own, so that a test can kill it mid-way (a Lambda that
 * crashed): argv is the handler module (from the repository root), the event as JSON, and the milliseconds
 * the context reports left. Prints `RESULT <json>` as its last line when it finishes.
 */
import { resolve } from "node:path";
import type { Context } from "aws-lambda";

async function main(): Promise<void> {
  const [modulePath, eventJson, remaining] = process.argv.slice(2);
  const { handler } = (await import(resolve(__dirname, "../..", modulePath!))) as {
    handler: (event: unknown, context: Context) => Promise<unknown>;
  };
  const deadline = Date.now() + Number(remaining);
  const context = {
    functionName: "handler-child",
    awsRequestId: "child",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as Context;
  const result = await handler(JSON.parse(eventJson!), context);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
