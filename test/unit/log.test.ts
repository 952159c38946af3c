/**
 * Log lines in both formats: text keeps its `LEVEL event key=value` shape,
 * every JSON line parses back to `{time, level, event, …fields}` with
 * errors as `{message, code?}`, nothing a field holds can break a line, and
 * the level moves at run time in the SIGUSR2 cycle.
 */
import { describe, expect, it } from 'vitest'
import { createLogger, formatJsonLogLine, formatLogLine, nextLogLevel, type LogFormat, type LogLevel } from '../../server/log.js'

const time = new Date('2026-12-01T12:34:56.789Z')

/** A logger of `format` at `level` whose lines are kept. */
function captured (format: LogFormat, level: LogLevel = 'debug'): { lines: string[], logger: ReturnType<typeof createLogger> } {
  const lines: string[] = []
  return { lines, logger: createLogger({ level, format, write: (line) => lines.push(line) }) }
}

describe('text lines', () => {
  it('writes LEVEL event key=value, quoting values with spaces or quotes and skipping undefined', () => {
    expect(formatLogLine('warn', 'connection.rejected', { id: 3, room: 'notes', reason: 'too many messages', skipped: undefined, ok: true }))
      .toBe('WARN  connection.rejected id=3 room=notes reason="too many messages" ok=true')
    expect(formatLogLine('error', 'room.failed', { error: Object.assign(new Error('disk "full"'), { code: 'ENOSPC' }) }))
      .toBe('ERROR room.failed error="disk \\"full\\""')
  })

  it('keeps a line on one line whatever a value holds', () => {
    const line = formatLogLine('info', 'x', { name: 'a\nb\r\nc', nested: { text: 'l1\nl2' } })
    expect(line.split('\n')).toHaveLength(1)
  })
})

describe('JSON lines', () => {
  it('starts with time, level and event, then the fields in order', () => {
    const line = formatJsonLogLine(time, 'info', 'connection.closed', { room: 'notes', code: 1000, durationMs: 12, bytesIn: 300 })
    expect(line).toBe('{"time":"2026-12-01T12:34:56.789Z","level":"info","event":"connection.closed","room":"notes","code":1000,"durationMs":12,"bytesIn":300}')
    expect(Object.keys(JSON.parse(line))).toEqual(['time', 'level', 'event', 'room', 'code', 'durationMs', 'bytesIn'])
  })

  it('writes errors as {message, code?}, at the top and nested', () => {
    const withCode = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    const parsed = JSON.parse(formatJsonLogLine(time, 'error', 'room.load-failed', { error: withCode, cause: { inner: new TypeError('bad') } }))
    expect(parsed.error).toEqual({ message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' })
    expect(parsed.cause).toEqual({ inner: { message: 'bad' } })
    // A numeric errno code is not the stable string kind: left out.
    expect(JSON.parse(formatJsonLogLine(time, 'error', 'e', { error: Object.assign(new Error('m'), { code: 5 }) })).error).toEqual({ message: 'm' })
  })

  it('parses back whatever the fields hold: quotes, newlines, unicode, bigints, cycles, undefined', () => {
    const cycle: Record<string, unknown> = { a: 1 }
    cycle.self = cycle
    const fields = { quote: 'say "hi"\\', newline: 'a\nb', unicode: 'é\u2028😀', big: 12n, cycle, gone: undefined, list: [1, 'two'], nil: null }
    const line = formatJsonLogLine(time, 'debug', 'odd "event"\n', fields)
    expect(line.split('\n')).toHaveLength(1)
    const parsed = JSON.parse(line)
    expect(parsed).toMatchObject({ level: 'debug', event: 'odd "event"\n', quote: 'say "hi"\\', newline: 'a\nb', unicode: 'é\u2028😀', big: '12', list: [1, 'two'], nil: null })
    expect(parsed.cycle).toBe('[object Object]')
    expect('gone' in parsed).toBe(false)
  })

  it('never lets a field take the place of time, level or event', () => {
    const parsed = JSON.parse(formatJsonLogLine(time, 'warn', 'e', { level: 'debug', time: 'later', event: 'other' }))
    expect(parsed).toMatchObject({ time: time.toISOString(), level: 'warn', event: 'e', 'field.level': 'debug', 'field.time': 'later', 'field.event': 'other' })
  })

  it('a JSON logger writes one parseable object per call, at or above its level', () => {
    const { lines, logger } = captured('json', 'info')
    logger.debug('hidden')
    logger.info('server.started', { url: 'http://127.0.0.1:1234' })
    logger.warn('auth.off', { note: 'open' })
    logger.error('room.failed', { room: 'r', error: new Error('boom') })
    expect(lines).toHaveLength(3)
    const parsed = lines.map((line) => JSON.parse(line))
    expect(parsed.map((entry) => [entry.level, entry.event])).toEqual([['info', 'server.started'], ['warn', 'auth.off'], ['error', 'room.failed']])
    for (const entry of parsed) expect(Number.isNaN(Date.parse(entry.time))).toBe(false)
    expect(parsed[2].error).toEqual({ message: 'boom' })
  })
})

describe('levels at run time', () => {
  it('cycles debug → info → warn → error → debug', () => {
    const seen: LogLevel[] = ['debug']
    for (let i = 0; i < 4; i++) seen.push(nextLogLevel(seen[seen.length - 1]))
    expect(seen).toEqual(['debug', 'info', 'warn', 'error', 'debug'])
  })

  it('setLevel changes which lines are written and says so in a line written at any level', () => {
    const { lines, logger } = captured('json', 'info')
    logger.debug('before')
    logger.setLevel('debug')
    logger.debug('after')
    logger.setLevel('error')
    logger.warn('muted')
    logger.setLevel('error')
    expect(lines.map((line) => JSON.parse(line)).map(({ event, from, to }) => ({ event, from, to }))).toEqual([
      { event: 'log.level', from: 'info', to: 'debug' },
      { event: 'after', from: undefined, to: undefined },
      { event: 'log.level', from: 'debug', to: 'error' },
      { event: 'log.level', from: 'error', to: 'error' }
    ])
    expect(logger.level).toBe('error')
  })

  it('the text form of createLogger(level, write) writes text lines without a time prefix', () => {
    const lines: string[] = []
    const logger = createLogger('warn', (line) => lines.push(line))
    logger.info('no')
    logger.warn('upgrade.rejected', { status: 429 })
    expect(lines).toEqual(['WARN  upgrade.rejected status=429'])
  })
})
