import { BlockList, isIP } from "node:net";

/**
 * How far from the public internet an address is, from least to most private: `public`, `private`
 * (RFC 1918, CGNAT, IPv6 unique-local), `link-local` (169.254.0.0/16 with the cloud metadata services,
 * fe80::/10) and `loopback` (127.0.0.0/8, ::1, and 0.0.0.0/8 and ::, which reach this machine too).
 */
export type AddressClass = "public" | "private" | "link-local" | "loopback";

const rank: Record<AddressClass, number> = { public: 0, private: 1, "link-local": 2, loopback: 3 };

/** True when `candidate` lies on a more private network than `ceiling` (public < private < link-local < loopback). */
export function morePrivate(candidate: AddressClass, ceiling: AddressClass): boolean {
  return rank[candidate] > rank[ceiling];
}

/** The least private of several classes: a host with a public address is public as a whole. */
export function leastPrivate(classes: readonly AddressClass[]): AddressClass {
  return classes.reduce<AddressClass>((least, next) => (rank[next] < rank[least] ? next : least), "loopback");
}

const ranges: Record<Exclude<AddressClass, "public">, BlockList> = {
  loopback: subnets([["127.0.0.0", 8], ["0.0.0.0", 8], ["::1", 128], ["::", 128]]),
  "link-local": subnets([["169.254.0.0", 16], ["fe80::", 10]]),
  // fec0::/10 is the deprecated site-local range: still routed inside some networks.
  private: subnets([["10.0.0.0", 8], ["172.16.0.0", 12], ["192.168.0.0", 16], ["100.64.0.0", 10], ["fc00::", 7], ["fec0::", 10]]),
};

/**
 * The class of an IP address (`net.isIP` must accept it; a zone such as `%eth0` is ignored). An IPv4
 * address embedded in IPv6 is classed as that IPv4 address: IPv4-mapped `::ffff:a.b.c.d` (BlockList does
 * this itself), and, done here, NAT64 `64:ff9b::/96`, 6to4 `2002::/16` and IPv4-compatible `::a.b.c.d`,
 * each of which a host or gateway may turn back into the IPv4 address it carries.
 */
export function classifyAddress(address: string): AddressClass {
  const ip = address.replace(/%.*$/, "");
  const family = isIP(ip);
  if (family === 0) throw new TypeError(`not an IP address: ${address}`);
  const type = family === 4 ? "ipv4" : "ipv6";
  for (const name of ["loopback", "link-local", "private"] as const) if (ranges[name].check(ip, type)) return name;
  const embedded = family === 6 ? embeddedIPv4(ip) : undefined;
  if (embedded === undefined) return "public";
  const carried = classifyAddress(embedded);
  // RFC 8215's local-use NAT64 prefix is a site's own: never the public internet, whatever it carries.
  return carried === "public" && isLocalUseNat64(ip) ? "private" : carried;
}

/**
 * Hosts that never leave the machine, as the `http:` rules see them: `localhost` and `*.localhost`
 * (RFC 6761 §6.3), 127.0.0.0/8 and ::1 (IPv4-mapped forms included). `hostname` as `URL` gives it,
 * brackets and all.
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const ip = ipLiteral(host);
  if (ip === undefined) return false;
  if (ip === "::1") return true;
  const ipv4 = isIP(ip) === 4 ? ip : mappedIPv4(ip);
  return ipv4 !== undefined && ipv4.startsWith("127.");
}

/** The IP address a URL hostname is, without IPv6 brackets; undefined for a name. */
export function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? undefined : bare;
}

function subnets(list: [string, number][]): BlockList {
  const blockList = new BlockList();
  for (const [network, prefix] of list) blockList.addSubnet(network, prefix, isIP(network) === 4 ? "ipv4" : "ipv6");
  return blockList;
}

/** `::ffff:a.b.c.d` only. */
function mappedIPv4(ip: string): string | undefined {
  const groups = expand(ip);
  return groups.slice(0, 6).join(",") === "0,0,0,0,0,65535" ? toIPv4(groups[6], groups[7]) : undefined;
}

/** `64:ff9b:1::/48` (RFC 8215). */
function isLocalUseNat64(ip: string): boolean {
  const [g0, g1, g2] = expand(ip);
  return g0 === 0x64 && g1 === 0xff9b && g2 === 1;
}

/**
 * The IPv4 address carried by a NAT64 (the well-known `64:ff9b::/96`, and RFC 8215's local-use
 * `64:ff9b:1::/48`, read as its sites deploy it, the IPv4 address in the last 32 bits), 6to4 or
 * IPv4-compatible IPv6 address (mapped ones BlockList handles).
 */
function embeddedIPv4(ip: string): string | undefined {
  const groups = expand(ip);
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups;
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return toIPv4(g6, g7);
  if (isLocalUseNat64(ip)) return toIPv4(g6, g7);
  if (g0 === 0x2002) return toIPv4(g1, g2);
  if (groups.slice(0, 6).every((group) => group === 0)) return toIPv4(g6, g7);
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail counts as two). */
function expand(ip: string): number[] {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip)?.[1];
  const hex = dotted ? ip.slice(0, -dotted.length) + dottedToHex(dotted) : ip;
  const [head = "", tail] = hex.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

function dottedToHex(dotted: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = dotted.split(".").map(Number);
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

function toIPv4(high: number | undefined, low: number | undefined): string {
  const h = high ?? 0;
  const l = low ?? 0;
  return `${h >> 8}.${h & 0xff}.${l >> 8}.${l & 0xff}`;
}
