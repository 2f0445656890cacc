import { defineConfig } from "vitest/config";

/** `npm run test:interop`: the client x server matrix, apart from `npm test` (it takes minutes of real waits). */
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/interop/**/*.interop.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
