/** Where warnings go. `console` fits. */
export interface OAuthLogger {
  warn(message: string): void;
}
