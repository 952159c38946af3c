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
 * nothing, and returns one number per write, in the same order (for an
 * append its per-document sequence number, for a replace 0). May be
 * synchronous or asynchronous. A failure (thrown or rejected) fails every
 * write of the group, including when the transaction's outcome is unknown:
 * it may have committed.
 */
export type CommitGroup = (writes: Write[]) => readonly number[] | Promise<readonly number[]>

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
   * Queues an append. Resolves, with the number the commit returned for it,
   * once the group holding it is committed; rejects if that commit failed or
   * the queue is closed. The promises of `append` and `replace` settle in
   * the order of the calls.
   */
  append (name: string, data: Uint8Array): Promise<number>
  /** Queues a replace; settles as `append` does. */
  replace (name: string, data: Uint8Array): Promise<void>
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
  /** The numbers the commit returned, one per write. */
  readonly done: Promise<readonly number[]>
  resolve (numbers: readonly number[]): void
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
    let resolve!: (numbers: readonly number[]) => void
    let reject!: (err: unknown) => void
    const done = new Promise<readonly number[]>((res, rej) => { resolve = res; reject = rej })
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
      let result: readonly number[] | Promise<readonly number[]>
      try {
        result = commit(group.writes)
      } catch (err) {
        group.reject(err)
        continue
      }
      if (!(result instanceof Promise)) {
        group.resolve(result)
        continue
      }
      running = group
      result.then((numbers) => group.resolve(numbers), (err) => group.reject(err)).finally(() => {
        running = null
        flush()
      })
    }
  }

  const settled = (): Promise<void> => (waiting.at(-1) ?? running)?.done.then(ignore, ignore) ?? Promise.resolve()

  /**
   * Queues `write`; returns its group's promise and its place in the group.
   * Reactions to one promise run in the order they were added, so writes of
   * one group settle in call order.
   */
  const add = (write: Write): { done: Promise<readonly number[]>, index: number } => {
    if (closed) return { done: Promise.reject(new Error('store is closed')), index: 0 }
    let group = waiting.at(-1)
    if (!group || (group.writes.length > 0 && !fits(group, write))) group = openGroup()
    const index = group.writes.push(write) - 1
    group.bytes += write.data.byteLength
    return { done: group.done, index }
  }

  return {
    append (name, data) {
      const { done, index } = add({ kind: 'append', name, data })
      return done.then((numbers) => numbers[index])
    },
    replace (name, data) {
      return add({ kind: 'replace', name, data }).done.then(ignore)
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
