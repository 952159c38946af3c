/**
 * The client address of a request that may have come through reverse
 * proxies. Behind a proxy every socket's peer is the proxy; its
 * `X-Forwarded-For` or RFC 7239 `Forwarded` header names the client. Those
 * headers are believed only when the peer is a trusted proxy, and read from
 * the right (the entries the trusted proxies appended) to the first address
 * that is not a trusted proxy: entries left of it are the client's to write.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** An address list entry that is neither an IP address nor a CIDR range. */
export class InvalidProxyAddressError extends Error {
  override readonly name = 'InvalidProxyAddressError'
  constructor (readonly entry: string) {
    super(`"${entry}" is not an IPv4 or IPv6 address or CIDR range (like 10.0.0.0/8 or fd00::/8)`)
  }
}

/** A parsed address: 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6. */
type AddressBytes = Uint8Array

interface Range {
  readonly bytes: AddressBytes
  readonly prefixBits: number
}

/** The addresses and CIDR ranges of the reverse proxies whose forwarding headers are believed. */
export class TrustedProxies {
  private constructor (private readonly ranges: readonly Range[]) {}

  /**
   * Parses entries such as `127.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`.
   * An IPv4-mapped IPv6 entry (`::ffff:10.0.0.1`) means the IPv4 address,
   * and IPv4 entries also match IPv4-mapped peers. Host bits under the
   * prefix are ignored. Throws `InvalidProxyAddressError` for the first
   * entry that is not an address or range.
   */
  static parse (entries: readonly string[]): TrustedProxies {
    return new TrustedProxies(entries.map(parseRange))
  }

  /** Whether no proxy is trusted (forwarding headers are then never read). */
  get empty (): boolean {
    return this.ranges.length === 0
  }

  /** Whether `address` (textual, as a socket or header gives it) is a trusted proxy. */
  has (address: string): boolean {
    const bytes = parseAddress(address)
    return bytes !== null && this.contains(bytes)
  }

  private contains (bytes: AddressBytes): boolean {
    return this.ranges.some((range) => inRange(bytes, range))
  }

  /**
   * The client address of a request whose socket peer is `peer`: the peer
   * itself unless it is trusted; otherwise the first untrusted address of
   * the forwarding chain read from the right, in canonical form (IPv4 for
   * IPv4-mapped addresses, RFC 5952 text for IPv6). Falls back to `peer`
   * when the headers name no address, an entry it reaches is not an address
   * (`unknown`, an obfuscated name, garbage), or `X-Forwarded-For` and
   * `Forwarded` are both present and disagree. When every hop is trusted,
   * the leftmost one is the client.
   */
  clientAddress (peer: string, headers: IncomingHttpHeaders): string {
    if (this.empty || !this.has(peer)) return peer
    const forwardedFor = headerValue(headers['x-forwarded-for'])
    const forwarded = headerValue(headers.forwarded)
    const fromXff = forwardedFor === null ? null : this.walk(splitList(forwardedFor))
    const fromForwarded = forwarded === null ? null : this.walk(forwardedForValues(forwarded))
    if (forwardedFor !== null && forwarded !== null) {
      return fromXff !== null && fromXff === fromForwarded ? fromXff : peer
    }
    return fromXff ?? fromForwarded ?? peer
  }

  /** The first untrusted address from the right of `hops`, or null for an unreadable or empty chain. */
  private walk (hops: ReadonlyArray<string | null> | null): string | null {
    if (hops === null || hops.length === 0) return null
    let leftmost: AddressBytes | null = null
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]
      const bytes = hop === null ? null : parseAddress(stripPort(hop))
      if (bytes === null) return null
      if (!this.contains(bytes)) return formatAddress(bytes)
      leftmost = bytes
    }
    return leftmost === null ? null : formatAddress(leftmost)
  }
}

function headerValue (value: string | string[] | undefined): string | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(',') : value
  return text.trim() === '' ? null : text
}

function splitList (text: string): string[] {
  return text.split(',').map((part) => part.trim())
}

/**
 * The `for=` values of a `Forwarded` header, one per element, in order, with
 * quotes removed; an element without `for=` gives null. Null for a header
 * that does not parse.
 */
function forwardedForValues (text: string): Array<string | null> | null {
  const values: Array<string | null> = []
  let current: string | null = null
  let i = 0
  const token = /[!#$%&'*+\-.^_`|~0-9A-Za-z:[\]]+/y
  while (i <= text.length) {
    while (text[i] === ' ' || text[i] === '\t') i++
    token.lastIndex = i
    const name = token.exec(text)
    if (!name || text[i + name[0].length] !== '=') return null
    i += name[0].length + 1
    let value: string
    if (text[i] === '"') {
      let end = i + 1
      value = ''
      while (end < text.length && text[end] !== '"') {
        if (text[end] === '\\') end++
        value += text[end] ?? ''
        end++
      }
      if (end >= text.length) return null
      i = end + 1
    } else {
      token.lastIndex = i
      const match = token.exec(text)
      if (!match) return null
      value = match[0]
      i += value.length
    }
    if (name[0].toLowerCase() === 'for') current = value
    while (text[i] === ' ' || text[i] === '\t') i++
    if (i >= text.length || text[i] === ',') {
      values.push(current)
      current = null
      if (i >= text.length) break
    } else if (text[i] !== ';') {
      return null
    }
    i++
  }
  return values
}

/** `1.2.3.4:80` → `1.2.3.4`, `[::1]:80` and `[::1]` → `::1`; anything else unchanged. */
function stripPort (text: string): string {
  if (text.startsWith('[')) {
    const end = text.indexOf(']')
    return end < 0 || (end + 1 < text.length && !/^:\d+$/.test(text.slice(end + 1))) ? text : text.slice(1, end)
  }
  const colon = text.indexOf(':')
  return colon >= 0 && colon === text.lastIndexOf(':') && /^:\d+$/.test(text.slice(colon)) ? text.slice(0, colon) : text
}

function parseRange (entry: string): Range {
  const slash = entry.indexOf('/')
  const bytes = parseAddress(slash < 0 ? entry : entry.slice(0, slash))
  if (bytes === null) throw new InvalidProxyAddressError(entry)
  const width = bytes.length * 8
  if (slash < 0) return { bytes, prefixBits: width }
  const bitsText = entry.slice(slash + 1)
  // A mapped entry parses to 4 bytes, so its prefix is counted from bit 96 of the IPv6 form.
  const mapped = bytes.length === 4 && entry.includes(':')
  const bits = /^(0|[1-9][0-9]{0,2})$/.test(bitsText) ? Number(bitsText) - (mapped ? 96 : 0) : -1
  if (bits < 0 || bits > width) throw new InvalidProxyAddressError(entry)
  return { bytes, prefixBits: bits }
}

function inRange (bytes: AddressBytes, range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false
  let bits = range.prefixBits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((bytes[i] & mask) !== (range.bytes[i] & mask)) return false
  }
  return true
}

/** Parses dotted IPv4 (no leading zeros) or IPv6 (with an optional dotted tail); IPv4-mapped IPv6 gives 4 bytes. */
function parseAddress (text: string): AddressBytes | null {
  if (!text.includes(':')) return parseIPv4(text)
  const bytes = parseIPv6(text)
  if (bytes === null) return null
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  return mapped ? bytes.slice(12) : bytes
}

function parseIPv4 (text: string): AddressBytes | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  const bytes = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return null
    const value = Number(parts[i])
    if (value > 255) return null
    bytes[i] = value
  }
  return bytes
}

function parseIPv6 (text: string): AddressBytes | null {
  const halves = text.split('::')
  if (halves.length > 2) return null
  const groups = (half: string): number[] | null => {
    if (half === '') return []
    const out: number[] = []
    const parts = half.split(':')
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part)
        if (v4 === null) return null
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3])
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16))
      } else {
        return null
      }
    }
    return out
  }
  const head = groups(halves[0])
  const tail = halves.length === 2 ? groups(halves[1]) : []
  if (head === null || tail === null) return null
  // A dotted tail may only end the address.
  if (halves.length === 2 && halves[0].includes('.')) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  all.forEach((group, i) => { bytes[2 * i] = group >> 8; bytes[2 * i + 1] = group & 0xff })
  return bytes
}

/** IPv4 as dotted decimal; IPv6 as RFC 5952 text (lower case, the longest run of two or more zero groups as `::`). */
function formatAddress (bytes: AddressBytes): string {
  if (bytes.length === 4) return bytes.join('.')
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1])
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue }
    let end = i
    while (end < 8 && groups[end] === 0) end++
    if (end - i > bestLength) { bestStart = i; bestLength = end - i }
    i = end
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}
