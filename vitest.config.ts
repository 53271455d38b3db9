import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/global-setup.ts"],
    // Tests talk to real servers: give slow operations (server start, large dumps) room.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: keep one worker per core; each test file uses its own database, bucket and secret names.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
