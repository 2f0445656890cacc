// A fixture for test/lint-boundaries.test.ts (not part of any build): this file and second.ts import each other (type-only on one side).
import type { Second } from "./second.js";

export interface First {
  next?: Second;
}
