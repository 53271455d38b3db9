import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(__dirname, "../..");

/** Runs `npm run demo`'s program as a child process on the services the global setup started. */
function runDemo(): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn("bash", ["scripts/node22.sh", "scripts/demo.ts"], {
      cwd: root,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", fail);
    child.on("close", (code) => done({ code, output }));
  });
}

describe("npm run demo: the whole system, end to end, on the local services", () => {
  it("runs every handler in order and ends with today's daily report", { timeout: 600_000 }, async () => {
    const { code, output } = await runDemo();
    expect(output, output).not.toMatch(/demo stopped/);
    expect(code, output).toBe(0);

    const today = new Date().toISOString().slice(0, 10);
    const archive = /opendev_backup_\d{8}_\d{6}\.tar\.gz/.source;
    expect(output).toMatch(new RegExp(`\\d+\\. daily backup: ${archive}, [\\d,]+ documents`));
    expect(output).toMatch(new RegExp(`\\d+\\. weekly backup: ${archive}, [\\d,]+ documents`));
    expect(output).toMatch(new RegExp(`copied to backups/${archive} \\(SHA-256 matches the manifest\\)`));
    expect(output).toMatch(/verify backups: 2 archives read back and checked against their manifests/);
    expect(output).toMatch(/restore test: opendev_backup_\d{8}_\d{6} restored into restoretest_opendev/);
    expect(output).toContain("counts, document digests and indexes equal the manifest");
    // The CLI's restored copy and the guide's tar + mongorestore recipe, each compared with the source.
    expect(
      output.match(/restored data equals the source: 5 collections, 3,846 documents byte for byte/g),
    ).toHaveLength(2);
    expect(output).toMatch(/health check: up: http:\/\/127\.0\.0\.1:\d+\/api\/health answered 200/);
    expect(output).toMatch(/app made unhealthy on purpose: failed as expected/);
    expect(output).toMatch(/database statistics: opendev: 3,846 documents in 5 collections/);
    expect(output).toMatch(
      /NEXTAUTH_SECRET rotation: createSecret, setSecret, testSecret, finishSecret done/,
    );
    expect(output).toMatch(/AWSCURRENT is now user opendev_app_\w+_clone with a new 32-character password/);
    expect(output).toContain("rotated credentials log in: a new connection reads 3,000 orders");
    expect(output).toContain("the app's open connection still reads (400 users)");

    expect(output).toContain(`| Subject: [opendev] maintenance report ${today}:`);
    expect(output).toMatch(/\| {3}made: \d+, failed: \d+/);
    expect(output).toContain("|   last verification: passed");
    expect(output).toMatch(/\| {3}new in opendev\.orders: \d+/);
    expect(output).toMatch(/\| Restore test\n {2}\| {3}passed/);
    expect(output).toMatch(
      /weekly security review: 4 findings mailed to the security topic: 40 failed database logins/,
    );
    expect(output).toMatch(/performance review, daily Atlas measurements: 168 hourly values of /);
    expect(output).toContain(
      'performance review, monthly mail: "[opendev] monthly performance review: 1 index change(s) to consider"',
    );
    expect(output).toMatch(/\| {3}events: 30, new issues: 1, unresolved issues with events: 2/);
    expect(output).toMatch(/drill passed in \d+ s/);
  });
});
