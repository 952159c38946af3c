/**
 * Group commit, shared by the SQLite and PostgreSQL stores: writes queue up
 * and are committed together, one transaction per group, groups one after
 * another. A group closes at the end of the event-loop turn, when a running
 * commit ends, or when it is full, so under load one commit serves many
 * writes and no transaction grows without bound.
 */

/** One write to a document's stored log. */
export type Write =
  | { readonly kind: 'append', readonly name: string, readonly data: Uint8Array }
  | { readonly kind: 'replace', readonly name: string, readonly data: Uint8Array }

/**
 * Commits a group of writes, in array order, in one transaction: all or
 * nothing. May be synchronous (return nothing) or asynchronous. A failure
 * (thrown or rejected) fails every write of the group, including when the
 * transaction's outcome is unknown: it may have committed.
 */
export type CommitGroup = (writes: Write[]) => void | Promise<void>

/** How large one group may grow. */
export interface GroupLimits {
  /** Bytes of write data in one group; a write larger than this goes alone in its group. Default 8 MiB. */
  readonly maxGroupBytes?: number
  /** Writes in one group. Default 1000. */
  readonly maxGroupWrites?: number
}

/** A queue of writes committed in groups. */
export interface GroupCommit {
  /**
   * Queues a write. Resolves once the group holding it is committed, rejects
   * if that commit failed or the queue is closed. Promises settle in the
   * order `add` was called.
   */
  add (write: Write): Promise<void>
  /**
   * Starts committing the queued writes now instead of at the end of the
   * turn, unless a commit is running. With a synchronous `CommitGroup` every
   * queued group is committed (or has failed) when `flush` returns.
   */
  flush (): void
  /** Resolves once every write added before the call is committed or has failed. */
  settled (): Promise<void>
  /** Refuses further writes, then resolves once every queued write settled. */
  close (): Promise<void>
}

interface Group {
  readonly writes: Write[]
  bytes: number
  readonly done: Promise<void>
  resolve (): void
  reject (err: unknown): void
}

const MiB = 1024 * 1024
const defaultMaxGroupBytes = 8 * MiB
const defaultMaxGroupWrites = 1000

const ignore = (): void => {}

/** Creates a queue whose groups `commit` writes, each group within `limits`. */
export function createGroupCommit (commit: CommitGroup, limits: GroupLimits = {}): GroupCommit {
  const maxBytes = limits.maxGroupBytes ?? defaultMaxGroupBytes
  const maxWrites = limits.maxGroupWrites ?? defaultMaxGroupWrites
  /** Groups waiting for their commit, oldest first; only the last one takes more writes. */
  const waiting: Group[] = []
  /** The group being committed by an asynchronous `commit`. */
  let running: Group | null = null
  let closed = false

  const openGroup = (): Group => {
    let resolve!: () => void
    let reject!: (err: unknown) => void
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
    done.catch(ignore) // a failed group is reported through the promise each `add` returned
    const group: Group = { writes: [], bytes: 0, done, resolve, reject }
    waiting.push(group)
    setImmediate(flush)
    return group
  }

  const fits = (group: Group, write: Write): boolean =>
    group.writes.length < maxWrites && group.bytes + write.data.byteLength <= maxBytes

  const flush = (): void => {
    while (!running && waiting.length > 0) {
      const group = waiting.shift() as Group
      let result: void | Promise<void>
      try {
        result = commit(group.writes)
      } catch (err) {
        group.reject(err)
        continue
      }
      if (!result) {
        group.resolve()
        continue
      }
      running = group
      result.then(() => group.resolve(), (err) => group.reject(err)).finally(() => {
        running = null
        flush()
      })
    }
  }

  const settled = (): Promise<void> => (waiting.at(-1) ?? running)?.done.then(ignore, ignore) ?? Promise.resolve()

  return {
    add (write) {
      if (closed) return Promise.reject(new Error('store is closed'))
      let group = waiting.at(-1)
      if (!group || (group.writes.length > 0 && !fits(group, write))) group = openGroup()
      group.writes.push(write)
      group.bytes += write.data.byteLength
      return group.done
    },
    flush,
    settled,
    async close () {
      closed = true
      flush()
      await settled()
    }
  }
}
