/* eslint-disable @typescript-eslint/no-require-imports -- `require` in a function is CommonJS's lazy import */

/**
 * Each command's implementation, loaded only when that command runs: the core, the driver and the AWS SDK
 * behind them take seconds to load, which `--help`, a usage error or another command should not pay.
 */
export const lazyActions = {
  backup: () => require("./actions/backup") as typeof import("./actions/backup"),
  list: () => require("./actions/list") as typeof import("./actions/list"),
  restore: () => require("./actions/restore") as typeof import("./actions/restore"),
  restoreTest: () => require("./actions/restore-test") as typeof import("./actions/restore-test"),
  verify: () => require("./actions/verify") as typeof import("./actions/verify"),
};
