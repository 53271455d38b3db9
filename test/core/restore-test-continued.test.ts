import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import {
  abandonRestoreTest,
  runRestoreTest,
  runRestoreTestStep,
  type RestoreTestConfig,
  type RestoreTestContinuation,
  type RestoreTestResult,
} from "../../lambdas/core/restore-test/restore-test";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { testEnv, uniqueName } from "../support/env";
import { segmentedArchive, storeInDirectory } from "../support/segmented-archive";

/** The restore drill over several invocations, into the test server (FerretDB), from a segmented archive. */
const db = uniqueName("rtc").replaceAll("-", "_");
const archive = segmentedArchive({
  collections: [
    { db, collection: "orders", documents: 300 },
    { db, collection: "users", documents: 10, first: 5000 },
    { db, collection: "carts", documents: 200, first: 9000 },
  ],
  segmentBytes: 16 * 1024,
  checkpointTarBytes: 1,
  memberBytes: 8192,
});
let client: MongoClient;
let dir: string;
let config: RestoreTestConfig;

async function scratchCollections(): Promise<string[]> {
  const names = await client.db(`restoretest_${db}`).listCollections({}, { nameOnly: true }).toArray();
  return names.map((c) => String(c.name)).sort();
}

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-restore-test-continued" });
  dir = await mkdtemp(join(tmpdir(), "atlas-ops-restore-test-continued-"));
  await storeInDirectory(archive, dir);
  config = {
    target: new FileTarget(dir),
    kind: "daily",
    scratchUri: testEnv().mongodbUri,
    production: { hosts: ["cluster0.prod.example.net"], database: "opendev" },
  };
});

afterAll(async () => {
  await client.db(`restoretest_${db}`).dropDatabase();
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

/** Steps with no time left (every checkpoint is a stop), each continuation through JSON, as a workflow. */
async function stepByStep(
  from?: RestoreTestContinuation,
  onStop?: (c: RestoreTestContinuation) => Promise<void>,
) {
  const continuations: RestoreTestContinuation[] = [];
  let resume = from;
  for (let step = 0; step < 100; step += 1) {
    const next = await runRestoreTestStep(config, { remainingMs: () => 1, marginMs: 0, resume });
    if (next.done) return { result: next.result, continuations };
    resume = JSON.parse(JSON.stringify(next.continuation)) as RestoreTestContinuation;
    continuations.push(resume);
    await onStop?.(resume);
  }
  throw new Error("the restore test did not end in 100 steps");
}

const outcome = (result: RestoreTestResult) => ({
  ok: result.ok,
  reason: result.reason,
  documents: result.documents,
  bytes: result.bytes,
  collections: result.collections.map(
    ({ namespace, restored, documents, digestMatches, missingIndexes }) => ({
      namespace,
      restored,
      documents,
      digestMatches,
      missingIndexes,
    }),
  ),
  scratchDatabases: result.scratchDatabases,
  scratchDropped: result.scratchDropped,
});

describe("restore test continued over invocations", () => {
  it("step by step from checkpoints, it restores and checks what the one-shot test does, then drops the scratch", async () => {
    const oneShot = await runRestoreTest(config);
    expect(oneShot.reason).toBeUndefined();
    expect(oneShot.ok).toBe(true);

    const seen: { checkpoint: number; inside?: string; held?: number; collections: string[] }[] = [];
    const { result, continuations } = await stepByStep(undefined, async (c) => {
      const inside = c.stop.inProgress;
      const held =
        inside && (await client.db(inside.written.db).collection(inside.written.collection).countDocuments());
      seen.push({
        checkpoint: c.stop.checkpoint,
        inside: inside?.source.collection,
        held,
        collections: await scratchCollections(),
      });
    });

    expect(outcome(result)).toEqual(outcome(oneShot));
    expect(result.invocations).toBe(continuations.length + 1);
    expect(continuations.map((c) => c.stop.checkpoint)).toEqual(
      archive.sidecar.archive!.checkpoints!.map((_, i) => i),
    );
    // Inside orders: its temporary collection holds exactly the documents before the checkpoint.
    const inOrders = seen.filter((s) => s.inside === "orders");
    expect(inOrders.length).toBeGreaterThan(2);
    for (const [index, s] of inOrders.entries()) {
      expect(s.held).toBe(continuations[seen.indexOf(s)]!.stop.inProgress!.documents);
      expect(s.collections.some((name) => name.startsWith("atlas_ops_restore_"))).toBe(true);
      if (index > 0) expect(s.held).toBeGreaterThan(inOrders[index - 1]!.held!);
    }
    // Past orders, it is complete under its scratch name.
    expect(seen[seen.length - 1]!.collections).toContain("orders");
    expect(Math.max(...continuations.map((c) => JSON.stringify(c).length))).toBeLessThan(4096);
    expect(await scratchCollections()).toEqual([]);
  });

  it("a step retried after a crash past its checkpoint restores each document once", async () => {
    // The first steps, up to a checkpoint inside orders; then a step from there that went on to the next
    // checkpoint (inserting past it) and "crashed" before its result was passed on.
    const first = await runRestoreTestStep(config, { remainingMs: () => 1, marginMs: 0 });
    expect(first.done).toBe(false);
    const atFirst = JSON.parse(JSON.stringify(!first.done && first.continuation)) as RestoreTestContinuation;
    expect(atFirst.stop.inProgress?.source.collection).toBe("orders");
    const crashed = await runRestoreTestStep(config, { remainingMs: () => 1, marginMs: 0, resume: atFirst });
    expect(!crashed.done && crashed.continuation.stop.inProgress!.documents).toBeGreaterThan(
      atFirst.stop.inProgress!.documents,
    );
    const written = atFirst.stop.inProgress!.written;
    expect(await client.db(written.db).collection(written.collection).countDocuments()).toBeGreaterThan(
      atFirst.stop.inProgress!.documents,
    );
    // The workflow retries the same event.
    const { result } = await stepByStep(atFirst);
    expect(result.reason).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.collections.find((c) => c.namespace === `${db}.orders`)).toMatchObject({
      documents: 300,
      digestMatches: true,
    });
    expect(await scratchCollections()).toEqual([]);
  });

  it("a sidecar that changed between steps fails the test and drops the scratch", async () => {
    const first = await runRestoreTestStep(config, { remainingMs: () => 1, marginMs: 0 });
    const resume = {
      ...(!first.done && first.continuation),
      archiveSha256: "0".repeat(64),
    } as RestoreTestContinuation;
    const step = await runRestoreTestStep(config, { resume });
    expect(step.done && step.result.reason).toMatch(/changed since the restore test started/);
    // That step never connected: the scratch of the first step is dropped by the next test run (--drop).
    await client.db(`restoretest_${db}`).dropDatabase();
  });

  it("a run its workflow abandons drops the scratch databases the steps kept", async () => {
    const first = await runRestoreTestStep(config, { remainingMs: () => 1, marginMs: 0 });
    expect(first.done).toBe(false);
    expect(await scratchCollections()).not.toEqual([]);
    const continuation = JSON.parse(
      JSON.stringify(!first.done && first.continuation),
    ) as RestoreTestContinuation;
    const abandoned = await abandonRestoreTest(config, continuation);
    expect(abandoned).toMatchObject({ scratchDropped: true, scratchDatabases: [`restoretest_${db}`] });
    expect(await scratchCollections()).toEqual([]);
    expect((await abandonRestoreTest(config, continuation)).scratchDropped).toBe(true);
  });
});
