/**
 * One-line structured logging. Every event has a stable dotted name
 * (`connection.rejected`, `room.corrupt`) followed by key=value fields.
 */

/** Log severities, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** Where the server writes what happens. */
export interface Logger {
  debug (event: string, fields?: Record<string, unknown>): void
  info (event: string, fields?: Record<string, unknown>): void
  warn (event: string, fields?: Record<string, unknown>): void
  error (event: string, fields?: Record<string, unknown>): void
}

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

/** Formats one event as `LEVEL event key=value …`, quoting values that need it. */
export function formatLogLine (level: LogLevel, event: string, fields: Record<string, unknown> = {}): string {
  let line = `${level.toUpperCase().padEnd(5)} ${event}`
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    const text = value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value)
    line += ` ${key}=${/^[\w.:/@+-]+$/.test(text) ? text : JSON.stringify(text)}`
  }
  return line
}

/**
 * A logger writing lines at or above `level` through `write`
 * (defaults: level 'info', writing to stderr with a timestamp).
 */
export function createLogger (level: LogLevel = 'info', write: (line: string) => void = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)): Logger {
  const at = (l: LogLevel) => (event: string, fields?: Record<string, unknown>) => {
    if (rank[l] >= rank[level]) write(formatLogLine(l, event, fields))
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
