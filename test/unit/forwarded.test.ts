import { describe, expect, it } from 'vitest'
import { InvalidProxyAddressError, TrustedProxies } from '../../server/transport/forwarded.js'

const proxies = TrustedProxies.parse(['127.0.0.1', '10.0.0.0/8', 'fd00::/8'])

/** The client address `proxies` finds for a request from `peer` with `headers`. */
function client (peer: string, headers: Record<string, string | string[]>, trusted = proxies): string {
  return trusted.clientAddress(peer, headers)
}

describe('TrustedProxies.parse', () => {
  it('accepts IPv4 and IPv6 addresses and CIDR ranges', () => {
    const list = TrustedProxies.parse(['192.0.2.1', '198.51.100.0/24', '::1', '2001:db8::/32', '0.0.0.0/0', '::ffff:203.0.113.0/120', '1:2:3:4:5:6:7::', '::ffff:1.2.3.4'])
    expect(list.has('192.0.2.1')).toBe(true)
    expect(list.has('198.51.100.255')).toBe(true)
    expect(list.has('::1')).toBe(true)
    expect(list.has('0:0:0:0:0:0:0:1')).toBe(true)
    expect(list.has('2001:DB8:ffff::1')).toBe(true)
    expect(list.has('2001:db9::1')).toBe(false)
    expect(list.has('::2')).toBe(false)
  })

  it('refuses anything that is not an address or range, naming the entry', () => {
    for (const entry of ['', 'localhost', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.4/33', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/08', '::1/129',
      '1::2::3', ':1', '1:2:3:4:5:6:7:8:9', '12345::', 'fe80::1%eth0', '::ffff:1.2.3.4/95', '1.2.3.4/8/8', ' 1.2.3.4', 'g::1']) {
      expect(() => TrustedProxies.parse(['127.0.0.1', entry]), entry).toThrow(InvalidProxyAddressError)
      try {
        TrustedProxies.parse([entry])
      } catch (err) {
        expect((err as InvalidProxyAddressError).entry).toBe(entry)
      }
    }
  })

  it('matches CIDR edges exactly', () => {
    const list = TrustedProxies.parse(['192.0.2.64/26', '2001:db8:0:ff00::/56'])
    expect(list.has('192.0.2.63')).toBe(false)
    expect(list.has('192.0.2.64')).toBe(true)
    expect(list.has('192.0.2.127')).toBe(true)
    expect(list.has('192.0.2.128')).toBe(false)
    expect(list.has('2001:db8:0:feff:ffff:ffff:ffff:ffff')).toBe(false)
    expect(list.has('2001:db8:0:ff00::')).toBe(true)
    expect(list.has('2001:db8:0:ffff:ffff:ffff:ffff:ffff')).toBe(true)
    expect(list.has('2001:db8:1::')).toBe(false)
    // /0 with host bits set is every IPv4 address, and no IPv6 one.
    const everyIPv4 = TrustedProxies.parse(['10.1.2.3/0'])
    expect(everyIPv4.has('255.255.255.255')).toBe(true)
    expect(everyIPv4.has('0.0.0.0')).toBe(true)
    expect(everyIPv4.has('2001:db9::')).toBe(false)
  })

  it('treats IPv4-mapped IPv6 as IPv4, in entries and in addresses', () => {
    const list = TrustedProxies.parse(['::ffff:127.0.0.1', '192.0.2.0/24'])
    expect(list.has('127.0.0.1')).toBe(true)
    expect(list.has('::ffff:192.0.2.9')).toBe(true)
    expect(list.has('::FFFF:c000:209')).toBe(true)
    expect(list.has('::ffff:192.0.3.9')).toBe(false)
    // IPv4-compatible (::a.b.c.d) is not mapped.
    expect(list.has('::192.0.2.9')).toBe(false)
  })
})

describe('TrustedProxies.clientAddress', () => {
  it('never believes headers from an untrusted peer', () => {
    expect(client('203.0.113.5', { 'x-forwarded-for': '1.1.1.1' })).toBe('203.0.113.5')
    expect(client('203.0.113.5', { forwarded: 'for=1.1.1.1' })).toBe('203.0.113.5')
    expect(client('::ffff:203.0.113.5', { 'x-forwarded-for': '1.1.1.1' })).toBe('::ffff:203.0.113.5')
    expect(client('127.0.0.1', { 'x-forwarded-for': '1.1.1.1' }, TrustedProxies.parse([]))).toBe('127.0.0.1')
  })

  it('takes the first untrusted address from the right of X-Forwarded-For', () => {
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.7' })).toBe('198.51.100.7')
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.7, 10.0.0.2' })).toBe('198.51.100.7')
    expect(client('::ffff:127.0.0.1', { 'x-forwarded-for': '198.51.100.7,10.0.0.2,10.9.9.9' })).toBe('198.51.100.7')
  })

  it('ignores spoofed entries left of the first untrusted one', () => {
    // The client wrote "127.0.0.1, 10.0.0.1"; the proxy appended the address it saw.
    expect(client('127.0.0.1', { 'x-forwarded-for': '127.0.0.1, 10.0.0.1, 198.51.100.7' })).toBe('198.51.100.7')
    expect(client('127.0.0.1', { 'x-forwarded-for': 'garbage, 198.51.100.7' })).toBe('198.51.100.7')
    expect(client('127.0.0.1', { forwarded: 'for=evil;by=x, for=198.51.100.7' })).toBe('198.51.100.7')
  })

  it('reads several header lines as one list, in order', () => {
    expect(client('127.0.0.1', { 'x-forwarded-for': ['198.51.100.1, 198.51.100.2', '10.0.0.1'] })).toBe('198.51.100.2')
    // How Node joins repeated X-Forwarded-For lines.
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.1, 198.51.100.2, 10.0.0.1' })).toBe('198.51.100.2')
    expect(client('127.0.0.1', { forwarded: ['for=198.51.100.1', 'for=198.51.100.2;proto=https'] })).toBe('198.51.100.2')
  })

  it('answers the leftmost hop when every hop is trusted', () => {
    expect(client('127.0.0.1', { 'x-forwarded-for': '10.0.0.9, 10.0.0.1' })).toBe('10.0.0.9')
    expect(client('127.0.0.1', { 'x-forwarded-for': '127.0.0.1' })).toBe('127.0.0.1')
  })

  it('reads IPv6 and IPv4-mapped entries and answers them in canonical form', () => {
    expect(client('127.0.0.1', { 'x-forwarded-for': '2001:DB8:0:0:0:0:0:1' })).toBe('2001:db8::1')
    expect(client('127.0.0.1', { 'x-forwarded-for': '::ffff:198.51.100.7' })).toBe('198.51.100.7')
    expect(client('::1', { 'x-forwarded-for': '2001:db8::1:0:0:1' }, TrustedProxies.parse(['::1']))).toBe('2001:db8::1:0:0:1')
    expect(client('fd00::5', { 'x-forwarded-for': '2001:0:0:1:0:0:0:1, fd12::1' })).toBe('2001:0:0:1::1')
    expect(client('127.0.0.1', { 'x-forwarded-for': '1:0:2:0:3:0:4:0' })).toBe('1:0:2:0:3:0:4:0')
  })

  it('accepts ports in X-Forwarded-For entries', () => {
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.7:5555' })).toBe('198.51.100.7')
    expect(client('127.0.0.1', { 'x-forwarded-for': '[2001:db8::7]:5555' })).toBe('2001:db8::7')
    expect(client('127.0.0.1', { 'x-forwarded-for': '[2001:db8::7]' })).toBe('2001:db8::7')
  })

  it('reads RFC 7239 Forwarded with quoted, bracketed IPv6 and ports', () => {
    expect(client('127.0.0.1', { forwarded: 'for=198.51.100.7' })).toBe('198.51.100.7')
    expect(client('127.0.0.1', { forwarded: 'For="198.51.100.7:4711";proto=https;by=10.0.0.1' })).toBe('198.51.100.7')
    expect(client('127.0.0.1', { forwarded: 'for="[2001:db8:cafe::17]:4711"' })).toBe('2001:db8:cafe::17')
    expect(client('127.0.0.1', { forwarded: 'for="[2001:db8:cafe::17]", for=10.0.0.3' })).toBe('2001:db8:cafe::17')
    expect(client('127.0.0.1', { forwarded: 'proto=https; for=198.51.100.7 ;host="a,b"' })).toBe('198.51.100.7')
  })

  it('falls back to the peer for malformed or unusable headers', () => {
    for (const value of ['', ' ', 'garbage', '198.51.100.7,', '198.51.100.7, ', 'unknown', '999.1.1.1', '2001:db8::1%eth0', '[2001:db8::1', '198.51.100.7:port', '10.0.0.1 198.51.100.7']) {
      expect(client('127.0.0.1', { 'x-forwarded-for': value }), value).toBe('127.0.0.1')
    }
    for (const value of ['for=unknown', 'for=_hidden', 'for="198.51.100.7', 'proto=https', 'for=198.51.100.7,', 'for', 'for=198.51.100.7 garbage', 'for=[2001:db8::1]x', '=1.2.3.4', 'for="[2001:db8::1"']) {
      expect(client('127.0.0.1', { forwarded: value }), value).toBe('127.0.0.1')
    }
  })

  it('uses X-Forwarded-For and Forwarded together only when they agree', () => {
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.7', forwarded: 'for=198.51.100.7' })).toBe('198.51.100.7')
    // A proxy that writes one of them passes a client's forged other one through.
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.7', forwarded: 'for=192.0.2.1' })).toBe('127.0.0.1')
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.7', forwarded: 'for=unknown' })).toBe('127.0.0.1')
  })
})
