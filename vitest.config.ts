import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Loopback servers and real ports: keep files apart so timing tests stay honest on 2 cores.
    fileParallelism: false,
  },
});
