/**
 * The address classes behind the network rules (src/shared/classify-address.ts), checked directly: every range's
 * edges, each IPv6 form that carries an IPv4 address (mapped, NAT64, 6to4, IPv4-compatible) with near
 * misses that carry none, zone suffixes, refusal of what is not an IP, the ordering helpers, and the
 * loopback-hostname test the `http:` rule uses. No test here touches the network.
 */
import { describe, expect, it } from "vitest";
import { classifyAddress, ipLiteral, isLoopbackHostname, leastPrivate, morePrivate, type AddressClass } from "../src/shared/classify-address.js";

const order: AddressClass[] = ["public", "private", "link-local", "loopback"];

describe("classifyAddress: IPv4 ranges, at their edges", () => {
  const cases: [string, AddressClass][] = [
    ["127.0.0.1", "loopback"],
    ["127.255.255.255", "loopback"],
    ["0.0.0.0", "loopback"],
    ["0.255.255.255", "loopback"],
    ["1.0.0.0", "public"],
    ["126.255.255.255", "public"],
    ["128.0.0.0", "public"],
    ["169.254.0.0", "link-local"],
    ["169.254.169.254", "link-local"],
    ["169.254.255.255", "link-local"],
    ["169.253.255.255", "public"],
    ["169.255.0.0", "public"],
    ["10.0.0.0", "private"],
    ["10.255.255.255", "private"],
    ["9.255.255.255", "public"],
    ["11.0.0.0", "public"],
    ["172.16.0.0", "private"],
    ["172.31.255.255", "private"],
    ["172.15.255.255", "public"],
    ["172.32.0.0", "public"],
    ["192.168.0.0", "private"],
    ["192.168.255.255", "private"],
    ["192.167.255.255", "public"],
    ["192.169.0.0", "public"],
    ["100.64.0.0", "private"],
    ["100.127.255.255", "private"],
    ["100.63.255.255", "public"],
    ["100.128.0.0", "public"],
    ["8.8.8.8", "public"],
    ["203.0.113.10", "public"],
    // IPv4 addresses whose 32 bits look like an IPv6 6to4 prefix (0x2002 = 32.2) carry no other address.
    ["32.2.10.0", "public"],
    ["32.2.127.0", "public"],
  ];
  it.each(cases)("%s is %s", (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe("classifyAddress: IPv6 ranges", () => {
  const cases: [string, AddressClass][] = [
    ["::1", "loopback"],
    ["::", "loopback"],
    ["fe80::", "link-local"],
    ["fe80::1", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["fe7f:ffff::1", "public"],
    ["fc00::", "private"],
    ["fd00::1", "private"],
    ["fdff:ffff::1", "private"],
    ["fbff:ffff::1", "public"],
    ["fec0::1", "private"],
    ["feff:ffff::1", "private"],
    ["2001:db8::1", "public"],
    ["2606:4700:4700::1111", "public"],
  ];
  it.each(cases)("%s is %s", (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe("classifyAddress: IPv6 addresses that carry an IPv4 address are classed as that address", () => {
  const cases: [string, AddressClass][] = [
    // IPv4-mapped (BlockList itself), dotted and hex.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:8.8.8.8", "public"],
    // NAT64 64:ff9b::/96, dotted (every octet more than one digit) and hex.
    ["64:ff9b::100.64.10.20", "private"],
    ["64:ff9b::a00:1", "private"],
    ["64:ff9b::127.0.0.1", "loopback"],
    ["64:ff9b::169.254.169.254", "link-local"],
    ["64:ff9b::8.8.8.8", "public"],
    ["64:ff9b:0:0:0:0:a00:1", "private"],
    // RFC 8215 local-use NAT64 64:ff9b:1::/48: the address it carries, and never public (a site's own prefix).
    ["64:ff9b:1::a9fe:a9fe", "link-local"],
    ["64:ff9b:1::7f00:1", "loopback"],
    ["64:ff9b:1::a00:1", "private"],
    ["64:ff9b:1::808:808", "private"],
    ["64:ff9b:1:abcd::808:808", "private"],
    ["64:ff9b:2::808:808", "public"],
    // 6to4 2002::/16: the IPv4 address is in the second and third groups.
    ["2002:a00:1::", "private"],
    ["2002:7f00:1::1", "loopback"],
    ["2002:a9fe:a9fe::", "link-local"],
    ["2002:808:808::", "public"],
    // IPv4-compatible ::a.b.c.d (deprecated, still turned back into IPv4 by some stacks).
    ["::10.0.0.1", "private"],
    ["::100.64.10.20", "private"],
    ["::169.254.169.254", "link-local"],
    ["::127.0.0.1", "loopback"],
    ["::a00:1", "private"],
    ["0:0:0:0:0:0:a00:1", "private"],
    ["::8.8.8.8", "public"],
  ];
  it.each(cases)("%s is %s", (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  // Addresses one group away from those forms carry no IPv4 address: they are public, though the IPv4
  // address in their last groups (or 10.0.0.1 where 6to4 would look) is private.
  const nearMisses = [
    "65:ff9b::a00:1", // first group not 64
    "64:ff9a::a00:1", // second group not ff9b
    "64:ff9b:2::a00:1", // outside the well-known /96 (and outside the local-use 64:ff9b:1::/48)
    "64:ff9b:0:1::a00:1",
    "64:ff9b:0:0:1:0:a00:1",
    "64:ff9b::1:a00:1",
    "2001:a00:1::", // not 2002: no 6to4 address in groups two and three
    "1::a00:1", // not all-zero before the IPv4 tail
    "0:0:0:0:0:1:a00:1",
  ];
  it.each(nearMisses)("%s is public", (address) => {
    expect(classifyAddress(address)).toBe("public");
  });
});

describe("classifyAddress: zones and non-addresses", () => {
  it("ignores a zone suffix, also where the IPv4 tail is parsed by hand", () => {
    expect(classifyAddress("fe80::1%eth0")).toBe("link-local");
    expect(classifyAddress("64:ff9b::10.0.0.1%eth0")).toBe("private");
    expect(classifyAddress("::10.0.0.1%eth0")).toBe("private");
    expect(classifyAddress("2001:db8::1%eth0")).toBe("public");
  });

  it.each(["example.com", "", "10.0.0", "1.2.3.4.5", "::g", "[::1]"])("refuses %j with a TypeError naming it", (input) => {
    expect(() => classifyAddress(input)).toThrow(TypeError);
    expect(() => classifyAddress(input)).toThrow(`not an IP address: ${input}`);
  });
});

describe("morePrivate and leastPrivate", () => {
  it("morePrivate holds exactly when the candidate ranks above the ceiling", () => {
    for (const [i, candidate] of order.entries()) {
      for (const [j, ceiling] of order.entries()) expect([candidate, ceiling, morePrivate(candidate, ceiling)]).toEqual([candidate, ceiling, i > j]);
    }
  });

  it("leastPrivate picks the least private class; a single class is itself; none is loopback", () => {
    for (const single of order) expect(leastPrivate([single])).toBe(single);
    expect(leastPrivate(["loopback", "public", "private"])).toBe("public");
    expect(leastPrivate(["link-local", "private", "loopback"])).toBe("private");
    expect(leastPrivate(["loopback", "link-local"])).toBe("link-local");
    expect(leastPrivate([])).toBe("loopback");
  });
});

describe("isLoopbackHostname (the http: rule)", () => {
  const loopback = [
    "localhost",
    "LocalHost",
    "localhost.",
    "api.localhost",
    "a.b.LOCALHOST.",
    "127.0.0.1",
    "127.1.2.3",
    "[::1]",
    "[::ffff:7f00:1]",
    "[::ffff:127.0.0.1]",
    "[0:0:0:0:0:ffff:7f00:1]",
  ];
  it.each(loopback)("%s is loopback", (hostname) => {
    expect(isLoopbackHostname(hostname)).toBe(true);
  });

  const others = [
    "example.com",
    "localhost.example.com",
    "notlocalhost",
    "localhostx",
    "10.0.0.1",
    "128.0.0.1",
    "0.0.0.0",
    "[::]",
    "[::2]",
    "[::ffff:a00:1]",
    // ::127.0.0.1 (IPv4-compatible) and 64:ff9b::127.0.0.1 reach this machine only through a translator:
    // the http: rule takes only ::1 and the mapped form as loopback.
    "[::7f00:1]",
    "[64:ff9b::7f00:1]",
    "[::ffff:0:7f00:1]",
    "[1:0:0:0:0:ffff:7f00:1]",
  ];
  it.each(others)("%s is not loopback", (hostname) => {
    expect(isLoopbackHostname(hostname)).toBe(false);
  });
});

describe("ipLiteral", () => {
  it("unwraps a bracketed IPv6 literal and passes an IPv4 literal through", () => {
    expect(ipLiteral("[::1]")).toBe("::1");
    expect(ipLiteral("[fd00::1]")).toBe("fd00::1");
    expect(ipLiteral("10.0.0.1")).toBe("10.0.0.1");
  });

  it("is undefined for a name, and for a string bracketed on one side only", () => {
    expect(ipLiteral("example.com")).toBeUndefined();
    expect(ipLiteral("localhost")).toBeUndefined();
    expect(ipLiteral("[::1")).toBeUndefined();
    expect(ipLiteral("::1]")).toBeUndefined();
    // Only a full pair of brackets is removed: stripping one end's character here would leave an IP.
    expect(ipLiteral("x10.0.0.1]")).toBeUndefined();
    expect(ipLiteral("[10.0.0.1x")).toBeUndefined();
  });
});
