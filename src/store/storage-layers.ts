import type { TokenStorage } from "./token-storage.js";

/**
 * The store and the stores it wraps, outermost first: wrappers that expose `inner` (like
 * `FernetEncryptionWrapper`) are looked through, since what makes a store fail loudly, and which lock
 * fits it, is decided by the Keyv (and its adapter) at the bottom.
 */
export function storageLayers(storage: TokenStorage): object[] {
  const layers: object[] = [];
  let layer: unknown = storage;
  for (let depth = 0; depth < 5 && isObject(layer); depth += 1) {
    layers.push(layer);
    layer = (layer as { inner?: unknown }).inner;
  }
  return layers;
}

/** A Keyv's adapter (`store`), or the object itself when it is not a Keyv. */
export function adapterOf(layer: object): object {
  const store = (layer as { store?: unknown }).store;
  return isObject(store) ? store : layer;
}

export function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}
