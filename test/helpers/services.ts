/**
 * External services tests may need (PostgreSQL, Redis), found through the
 * environment. A suite that needs one runs when it is reachable; when it is
 * not, the suite fails if `REQUIRE_SERVICES=1` (as in CI) and is otherwise
 * skipped with a warning, so a laptop without PostgreSQL still runs the rest.
 */
import { describe, it } from 'vitest'
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** A service a suite can depend on. */
export type Service = 'postgres' | 'redis'

/** `DATABASE_URL`, or the local test database. */
export function postgresUrl (): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
}

/** `REDIS_URL`, or the local Redis. */
export function redisUrl (): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
}

/**
 * A table prefix no other test run uses, for `openPostgresStore`; the
 * caller drops the tables with `dropPostgresTables`.
 */
export function uniqueTablePrefix (): string {
  return `test_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** Drops the tables a store with `tablePrefix` created. */
export async function dropPostgresTables (tablePrefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl() })
  await client.connect()
  try {
    await client.query(`DROP TABLE IF EXISTS ${tablePrefix}_snapshots, ${tablePrefix}_updates, ${tablePrefix}_documents, ${tablePrefix}_webhook_outbox, ${tablePrefix}_webhook_sequences, ${tablePrefix}_versions, ${tablePrefix}_signing_key`)
  } finally {
    await client.end()
  }
}

const probeTimeoutMs = 3_000

/** Resolves with why `service` cannot be used, or null when it answers. */
async function unavailable (service: Service): Promise<string | null> {
  if (service === 'postgres') {
    const client = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: probeTimeoutMs })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      return null
    } catch (err) {
      return `PostgreSQL at ${postgresUrl()}: ${(err as Error).message}`
    } finally {
      await client.end().catch(() => {})
    }
  }
  const url = new URL(redisUrl())
  return await new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379), timeout: probeTimeoutMs })
    socket.once('connect', () => { socket.destroy(); resolve(null) })
    socket.once('timeout', () => { socket.destroy(); resolve(`Redis at ${redisUrl()}: no answer in ${probeTimeoutMs} ms`) })
    socket.once('error', (err) => resolve(`Redis at ${redisUrl()}: ${err.message}`))
  })
}

/**
 * Declares a suite that needs `services`. When one is unreachable the suite
 * is skipped with a warning on the console, or, if `REQUIRE_SERVICES=1`,
 * replaced by a test that fails naming the service.
 */
export async function describeWithServices (services: Service[], name: string, suite: () => void): Promise<void> {
  const problems = (await Promise.all(services.map(unavailable))).filter((p): p is string => p !== null)
  if (problems.length === 0) {
    describe(name, suite)
  } else if (process.env.REQUIRE_SERVICES === '1') {
    describe(name, () => {
      it(`needs ${services.join(' and ')}`, () => {
        throw new Error(`REQUIRE_SERVICES=1 but ${problems.join('; ')}`)
      })
    })
  } else {
    console.warn(`\n*** SKIPPED "${name}": ${problems.join('; ')} (set REQUIRE_SERVICES=1 to fail instead) ***\n`)
    describe.skip(name, suite)
  }
}
