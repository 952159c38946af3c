/**
 * One-line structured logging. Every event has a stable dotted name
 * (`connection.rejected`, `room.corrupt`) and fields, written either as text
 * (`LEVEL event key=value …`) or as one JSON object per line
 * (`{"time","level","event",…fields}`). Fields carry names, ids, codes and
 * sizes, never document content.
 */

/** Log severities, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** How a line is written: `text` for people, `json` for log collectors. */
export type LogFormat = 'text' | 'json'

/** Where the server writes what happens. */
export interface Logger {
  debug (event: string, fields?: Record<string, unknown>): void
  info (event: string, fields?: Record<string, unknown>): void
  warn (event: string, fields?: Record<string, unknown>): void
  error (event: string, fields?: Record<string, unknown>): void
}

/** A logger whose level can change while it runs. */
export interface LevelledLogger extends Logger {
  /** Least severe lines written now. */
  readonly level: LogLevel
  /** Changes the level, and writes one `log.level` line (`from`, `to`) whatever the old and new levels. */
  setLevel (level: LogLevel): void
}

const levels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** The level after `level` in the cycle debug → info → warn → error → debug (what SIGUSR2 does). */
export function nextLogLevel (level: LogLevel): LogLevel {
  return levels[(levels.indexOf(level) + 1) % levels.length]
}

/** An error as a log field: its message and, when it has one, its code (`ECONNREFUSED`, `SQLITE_BUSY`). */
function errorField (error: Error): { message: string, code?: string } {
  const code = (error as NodeJS.ErrnoException).code
  return typeof code === 'string' ? { message: error.message, code } : { message: error.message }
}

/** Formats one event as `LEVEL event key=value …`, quoting values that need it. */
export function formatLogLine (level: LogLevel, event: string, fields: Record<string, unknown> = {}): string {
  let line = `${level.toUpperCase().padEnd(5)} ${event}`
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    const text = value instanceof Error ? value.message : typeof value === 'string' ? value : jsonValue(value)
    line += ` ${key}=${/^[\w.:/@+-]+$/.test(text) ? text : JSON.stringify(text)}`
  }
  return line
}

/** Keys every JSON line starts with; a field of the same name is written as `field.<name>`. */
const reserved = new Set(['time', 'level', 'event'])

/**
 * Formats one event as a JSON object on one line: `time` (ISO 8601), `level`,
 * `event`, then the fields. Errors become `{message, code?}` (wherever they
 * are), bigints strings; undefined fields are left out; a value that cannot
 * be serialized (a cycle) is written as its `String()`.
 */
export function formatJsonLogLine (time: Date, level: LogLevel, event: string, fields: Record<string, unknown> = {}): string {
  let line = `{"time":"${time.toISOString()}","level":"${level}","event":${JSON.stringify(event)}`
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    line += `,${JSON.stringify(reserved.has(key) ? `field.${key}` : key)}:${jsonValue(value)}`
  }
  return `${line}}`
}

function replacer (_key: string, value: unknown): unknown {
  if (value instanceof Error) return errorField(value)
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** `value` as JSON text; never throws. */
function jsonValue (value: unknown): string {
  try {
    return JSON.stringify(value, replacer) ?? JSON.stringify(String(value))
  } catch {
    return JSON.stringify(String(value))
  }
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Least severe lines written. Default 'info'. */
  readonly level?: LogLevel
  /** Default 'text'. */
  readonly format?: LogFormat
  /**
   * Receives each formatted line, without a newline. Default: stderr, text
   * lines prefixed with the time (JSON lines carry it as `time`).
   */
  readonly write?: (line: string) => void
}

/**
 * A logger writing lines at or above its level. Called as
 * `createLogger(level, write)`, it writes text lines to `write` without a
 * time prefix (as tests capture them).
 */
export function createLogger (options?: LoggerOptions): LevelledLogger
export function createLogger (level: LogLevel, write?: (line: string) => void): LevelledLogger
export function createLogger (options: LoggerOptions | LogLevel = {}, givenWrite?: (line: string) => void): LevelledLogger {
  const { level: initial = 'info', format = 'text', write = givenWrite } = typeof options === 'string' ? { level: options } : options
  const out = write ?? ((line: string) => process.stderr.write(format === 'json' ? `${line}\n` : `${new Date().toISOString()} ${line}\n`))
  const line = format === 'json'
    ? (l: LogLevel, event: string, fields?: Record<string, unknown>) => formatJsonLogLine(new Date(), l, event, fields)
    : formatLogLine
  let level = initial
  const at = (l: LogLevel) => (event: string, fields?: Record<string, unknown>) => {
    if (levels.indexOf(l) >= levels.indexOf(level)) out(line(l, event, fields))
  }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    get level () { return level },
    setLevel (next) {
      out(line('info', 'log.level', { from: level, to: next }))
      level = next
    }
  }
}
