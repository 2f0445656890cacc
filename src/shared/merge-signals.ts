/**
 * One signal that aborts when any of `signals` does (with the first one's reason). Absent signals are
 * skipped, and a single signal is returned as is: `AbortSignal.any` costs a listener per input, which the
 * hot path and the back channel's per-request deadline should not pay for nothing. Undefined when none.
 */
export function mergeSignals(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  return present.length > 1 ? AbortSignal.any(present) : present[0];
}
