/** Where warnings go. `console` fits. */
export interface OAuthLogger {
  /** Receives one warning, already phrased for a person; it never contains a token or secret. Should not throw. */
  warn(message: string): void;
}
